"""``samcut models fetch | list | use | verify | export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samcut.cli.progress import ProgressBar
from samcut.models.document.preferences import Preferences
from samcut.models.engine import ModelError, verify_model_dir
from samcut.models.store.choice import chosen_model_dir, no_model_message, remember_choice, require_chosen_model
from samcut.models.store.install import export_checkpoint, install, install_custom
from samcut.models.store.registry import (
    DEFAULT_MODEL,
    REGISTRY,
    installed_models,
    models_root,
    resolve_model,
    spec,
    weights_origin,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", required=True)
    fetch = sub.add_parser("fetch", help="download, verify and install the official model",
                           description="Install the official MobileSAM checkpoint, checked against its pinned hash: "
                                       "downloaded (resumable), or --from a copy already on this machine. Other "
                                       "weights go through 'samcut models export FILE'.")
    fetch.add_argument("name", nargs="?", default=DEFAULT_MODEL, choices=sorted(REGISTRY))
    fetch.add_argument("--from", dest="source", type=Path, metavar="FILE",
                       help="install from a checkpoint file already on this machine")
    sub.add_parser("list", help="list installed models (* marks the one samcut uses)")
    use = sub.add_parser("use", help="choose the model the app, the CLI and the hosts use",
                         description="Remember NAME (a name from 'samcut models list', or a model folder) as the "
                                     "model to use everywhere: the app, samcut segment/objects, the self-test and "
                                     "the GIMP/Krita plug-ins. --models and $SAMCUT_MODEL_DIR still win for one call.")
    use.add_argument("name", help="a name from 'models list' or a model folder")
    verify = sub.add_parser("verify", help="check an installed model's files against its manifest")
    verify.add_argument("name", nargs="?", help="a name from 'models list' or a model folder (default: the one "
                                                "samcut uses)")
    export = sub.add_parser(
        "export", help="install custom MobileSAM vit_t weights under their own name (no PyTorch needed)",
        description="Convert a MobileSAM vit_t checkpoint (a torch.save state dict, official or fine-tuned) "
                    "into encoder.onnx + decoder.onnx + manifest.json. Needs numpy only: the checkpoint is read "
                    "without PyTorch (a pickle asking for anything but tensors is refused) and its weights are "
                    "put into the graphs shipped with samcut. Without --out, the model is installed under "
                    "NAME (default: the file's name) beside the official one, with the file's own hash in its "
                    "manifest; use it with --models NAME. The official checkpoint is installed as mobile_sam.")
    export.add_argument("checkpoint", type=Path)
    export.add_argument("--name", help="install under this name (default: the checkpoint's file name)")
    export.add_argument("--out", type=Path, metavar="DIR",
                        help="write the model folder DIR instead of installing it (use it with --models DIR)")


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
        chosen = chosen_model_dir()
        for item in found:
            mark = "*" if item.path == chosen else " "
            what = (item.damaged if item.damaged
                    else f"{item.manifest.get('model', '?')}\t{weights_origin(item.manifest)}")
            print(f"{mark} {item.name}\t{what}\t{item.path}")
        return 0
    if command == "use":
        folder = resolve_model(args.name)
        if not folder.is_dir():
            raise ModelError(no_model_message(folder, given=True))
        verify_model_dir(folder)
        remember_choice(Preferences.load(), folder.resolve())
        print(f"samcut now uses {folder.name} ({folder.resolve()}) in the app, the CLI and the hosts")
        return 0
    if command == "verify":
        folder = require_chosen_model(resolve_model(args.name) if args.name else None)
        manifest = verify_model_dir(folder)
        print(f"{folder}: OK, {weights_origin(manifest)} ({', '.join(manifest['files'])} match their SHA-256 sums)")
        return 0
    if command == "export":
        if args.out is not None:
            export_checkpoint(args.checkpoint, args.out, say=_say)
            print(f"exported {args.checkpoint} to {args.out}; use it with --models {args.out}")
            return 0
        out = install_custom(args.checkpoint, args.name, say=_say)
        if out.name == DEFAULT_MODEL:
            print(f"installed {DEFAULT_MODEL} (official weights) in {out}")
        else:
            print(f"installed {out.name} in {out}; make it the model samcut uses with: samcut models use {out.name}"
                  f"   (or for one call: --models {out.name})")
        return 0
    raise AssertionError(command)
