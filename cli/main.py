"""The ``samcut`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from samcut.cli import batch, host, models_cmd, objects, plugins_cmd, segment
from samcut.cli.service import add_precision_argument, apply_precision
from samcut.models.document.imageio import ImageError
from samcut.models.engine import ModelError
from samcut.models.engine.runtimes import PRECISION_ENV
from samcut.models.store.convert import ConversionError
from samcut.models.store.download import DownloadError
from samcut.models.store.registry import resolve_model
from samcut.models.version import version_string

# Errors whose message is meant for the user: one line, exit status 2, no traceback.
USER_ERRORS = (ImageError, ModelError, DownloadError, ConversionError, ValueError, KeyError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samcut", description="Cut objects out of images with SAM models.")
    sub = parser.add_subparsers(dest="command")
    segment.add_arguments(sub.add_parser("segment", help="segment an image from clicks or a box, no window"))
    objects.add_arguments(sub.add_parser("objects", help="find the image's objects: one mask file each, best first"))
    batch.add_arguments(sub.add_parser("batch", help="many images (files, folders, globs): resumable, in parallel"))
    models_cmd.add_arguments(sub.add_parser("models", help="install, list, verify and export models"))
    host = sub.add_parser("host", help="answer a GIMP/Krita plug-in request (used by the plug-ins)")
    host.add_argument("request", nargs="?", help="request JSON file written by the plug-in")
    host.add_argument("--serve", action="store_true",
                      help="be the window that answers interactive requests (started by 'samcut host' itself)")
    host.add_argument("--stop", action="store_true", help="end the running samcut that serves host requests")
    host.add_argument("--models", type=resolve_model, metavar="DIR|NAME",
                        help="a model folder, or the name of an installed model (default: the official model)")
    plugins_cmd.add_arguments(sub.add_parser("plugins", help="install the GIMP and Krita plug-ins"))
    return parser


COMMANDS = ("segment", "objects", "batch", "models", "host", "plugins")


def run_gui(argv: list[str]) -> int:
    """``samcut [IMAGE] [--models DIR]``: the desktop app."""
    parser = argparse.ArgumentParser(prog="samcut", description="Cut objects out of images with SAM models. "
                                     f"Commands: {', '.join(COMMANDS)} (see samcut COMMAND --help).")
    parser.add_argument("image", nargs="?", type=Path, help="image to open")
    parser.add_argument("--models", type=resolve_model, metavar="DIR|NAME",
                        help="a model folder, or the name of an installed model (default: the official model)")
    parser.add_argument("--version", action="version", version=f"samcut {version_string()}")
    parser.add_argument("--self-test", action="store_true",
                        help="load the model, segment a built-in image, check Qt; print a verdict")
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    if args.precision:  # the app falls back to fp32 with a notice where bf16 cannot run
        os.environ[PRECISION_ENV] = args.precision
    if args.self_test:
        from samcut.cli.selftest import run as self_test

        return self_test(args.models)
    try:
        from samcut.gui.app import run
    except ImportError as exc:
        print(f"samcut: the desktop app needs PySide6 (pip install 'samcut[gui]'): {exc}", file=sys.stderr)
        return 2
    return run(args.image, args.models)


def run_host(args: argparse.Namespace) -> int:
    """``samcut host REQUEST`` | ``--serve`` | ``--stop``."""
    if args.serve:
        return host.serve(args.models)
    if args.stop:
        stopped = host.stop_running_samcut()
        print("samcut: the running samcut was asked to end" if stopped else "samcut: no samcut is serving hosts")
        return 0
    if not args.request:
        raise ValueError("host: give the request file (or --serve, --stop)")
    return host.run(args.request, args.models)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        return run_gui(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"segment": segment.run, "objects": objects.run, "batch": batch.run, "models": models_cmd.run,
               "plugins": plugins_cmd.run, "host": run_host}[args.command]
    try:
        if args.command in ("segment", "objects", "batch", "host"):  # the commands that run the model
            apply_precision(args)
        return handler(args)
    except USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"samcut: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("samcut: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
