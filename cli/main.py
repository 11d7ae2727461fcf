"""The ``samcut`` command."""

from __future__ import annotations

import argparse
import sys

from samcut.cli import models_cmd, segment
from samcut.models.document.imageio import ImageError
from samcut.models.engine import ModelError
from samcut.models.store.download import DownloadError
from samcut.models.store.install import ExportFailed

# Errors whose message is meant for the user: one line, exit status 2, no traceback.
USER_ERRORS = (ImageError, ModelError, DownloadError, ExportFailed, ValueError, KeyError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samcut", description="Cut objects out of images with MobileSAM.")
    sub = parser.add_subparsers(dest="command")
    segment.add_arguments(sub.add_parser("segment", help="segment an image from clicks or a box, no window"))
    models_cmd.add_arguments(sub.add_parser("models", help="install, list, verify and export models"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler = segment.run if args.command == "segment" else models_cmd.run
    try:
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
