"""``samcut models fetch | list | verify | export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samcut.cli.progress import ProgressBar
from samcut.models.engine import verify_model_dir
from samcut.models.store.install import export_checkpoint, install, is_official
from samcut.models.store.registry import DEFAULT_MODEL, REGISTRY, installed_models, model_dir, models_root, spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", required=True)
    fetch = sub.add_parser("fetch", help="download, verify and install a model")
    fetch.add_argument("name", nargs="?", default=DEFAULT_MODEL, choices=sorted(REGISTRY))
    fetch.add_argument("--from", dest="source", type=Path, metavar="FILE",
                       help="install from a checkpoint file already on this machine")
    sub.add_parser("list", help="list installed models")
    verify = sub.add_parser("verify", help="check an installed model's files against its manifest")
    verify.add_argument("name", nargs="?", default=DEFAULT_MODEL)
    export = sub.add_parser(
        "export", help="convert any MobileSAM vit_t checkpoint to ONNX (no PyTorch needed)",
        description="Convert a MobileSAM vit_t checkpoint (a torch.save state dict, official or fine-tuned) "
                    "into encoder.onnx + decoder.onnx + manifest.json. Needs numpy only: the checkpoint is read "
                    "without PyTorch (a pickle asking for anything but tensors is refused) and its weights are "
                    "put into the graphs shipped with samcut. Unlike 'fetch --from', the file is not checked "
                    "against the official checkpoint's hash.")
    export.add_argument("checkpoint", type=Path)
    export.add_argument("--out", type=Path, metavar="DIR",
                        help="model folder to write (default: the installed model's; use it with --models DIR)")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    command = args.models_command
    if command == "fetch":
        model = spec(args.name)
        bar = ProgressBar(f"downloading {model.filename}")
        out = install(model, source=args.source, progress=bar, say=_say)
        print(f"installed {model.name} in {out}")
        print(f"credit: {model.credit}")
        return 0
    if command == "list":
        found = installed_models()
        if not found:
            print(f"no models installed in {models_root()} (install one with 'samcut models fetch')")
        for item in found:
            known = REGISTRY.get(item.name)
            origin = "official weights" if known and is_official(known, item.manifest) else "custom weights"
            print(f"{item.name}\t{item.manifest.get('model', '?')}\t{origin}\t{item.path}")
        return 0
    if command == "verify":
        folder = model_dir(args.name)
        manifest = verify_model_dir(folder)
        print(f"{folder}: OK ({', '.join(manifest['files'])} match their SHA-256 sums)")
        return 0
    if command == "export":
        out = args.out or model_dir()
        export_checkpoint(args.checkpoint, out, say=_say)
        print(f"exported {args.checkpoint} to {out}")
        return 0
    raise AssertionError(command)
