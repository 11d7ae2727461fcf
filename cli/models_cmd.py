"""``samcut models fetch | list | use | verify | export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samcut.cli.progress import ProgressBar
from samcut.models.document.preferences import Preferences
from samcut.models.engine import ModelError, verify_model_dir
from samcut.models.store.catalogue import CATALOGUE, DEFAULT_MODEL, REGISTRY
from samcut.models.store.choice import (
    chosen_model_dir,
    chosen_quality_dir,
    no_model_message,
    remember_choice,
    remember_quality,
    require_chosen_model,
)
from samcut.models.store.install import export_checkpoint, install, install_custom
from samcut.models.store.registry import (
    installed_models,
    models_root,
    resolve_model,
    spec,
    weights_origin,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", required=True)
    fetch = sub.add_parser("fetch", help="download, verify and install an official model",
                           description="Install an official checkpoint from the catalogue ('samcut models list'), "
                                       "checked against its pinned hash: downloaded (resumable), or --from a copy "
                                       "already on this machine (which model it is, its hash tells). Other weights "
                                       "go through 'samcut models export FILE'.")
    fetch.add_argument("name", nargs="?", choices=list(REGISTRY),
                       help=f"a catalogue name (default: {DEFAULT_MODEL}, or the model --from FILE is)")
    fetch.add_argument("--from", dest="source", type=Path, metavar="FILE",
                       help="install from an official checkpoint file already on this machine")
    sub.add_parser("list", help="list the catalogue and installed models (* marks the one samcut uses)")
    use = sub.add_parser("use", help="choose the model the app, the CLI and the hosts use",
                         description="Remember NAME (a name from 'samcut models list', or a model folder) as the "
                                     "model to use everywhere: the app, samcut segment/objects, the self-test and "
                                     "the GIMP/Krita plug-ins. --models and $SAMCUT_MODEL_DIR still win for one call.")
    use.add_argument("name", help="a name from 'models list' or a model folder ('none' with --quality: no quality "
                                   "model)")
    use.add_argument("--quality", action="store_true",
                     help="choose the quality model instead: it encodes each image again in the background in the "
                          "app and answers once done; 'segment --quality' and host requests can ask for it")
    verify = sub.add_parser("verify", help="check an installed model's files against its manifest")
    verify.add_argument("name", nargs="?", help="a name from 'models list' or a model folder (default: the one "
                                                "samcut uses)")
    export = sub.add_parser(
        "export", help="install custom weights of a catalogue model under their own name (no PyTorch needed)",
        description="Convert a checkpoint of MobileSAM, SAM ViT-B/L/H or SAM 2.1 (a torch.save state dict, official "
                    "or fine-tuned; which model, its tensors tell) into encoder.onnx + decoder.onnx + manifest.json. "
                    "Needs numpy only: the checkpoint is read without PyTorch (a pickle asking for anything but "
                    "tensors is refused) and its weights are put into the graphs shipped with samcut. Without "
                    "--out, the model is installed under NAME (default: the file's name) beside the official ones, "
                    "with the file's own hash in its manifest; use it with --models NAME. An official checkpoint is "
                    "installed under its catalogue name.")
    export.add_argument("checkpoint", type=Path)
    export.add_argument("--name", help="install under this name (default: the checkpoint's file name)")
    export.add_argument("--out", type=Path, metavar="DIR",
                        help="write the model folder DIR instead of installing it (use it with --models DIR)")


def print_catalogue() -> None:
    """The catalogue (installed or not, download size, encoder time), then every installed model."""
    found = installed_models()
    chosen = chosen_model_dir()
    installed = {item.name for item in found}
    print("catalogue (samcut models fetch NAME):")
    for entry in CATALOGUE:
        size = f"{entry.download_mb:,.0f} MB"
        encode = f"encode ~{entry.encode_s:.1f} s" if entry.encode_s else ""
        state = "installed" if entry.name in installed else "not installed"
        print(f"  {entry.name:<24}{entry.label:<22}{size:>9}  {encode:<17}{state}")
    if not found:
        print(f"no models installed in {models_root()} (install one with 'samcut models fetch')")
        return
    quality = chosen_quality_dir(Preferences.load(), chosen)
    print("installed (* the one samcut uses, + the quality model that takes over in the app):")
    for item in found:
        mark = "*" if item.path == chosen else "+" if quality is not None and item.path == quality else " "
        what = (item.damaged if item.damaged
                else f"{item.manifest.get('model', '?')}\t{weights_origin(item.manifest)}")
        print(f"{mark} {item.name}\t{what}\t{item.path}")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    command = args.models_command
    if command == "fetch":
        name = args.name or (None if args.source else DEFAULT_MODEL)
        model = spec(name) if name else None
        bar = ProgressBar(f"downloading {model.filename}" if model else "installing")
        out = install(model, source=args.source, progress=bar, say=_say)
        model = model or spec(out.name)
        print(f"installed {model.name} in {out}")
        print(f"credit: {model.credit}")
        return 0
    if command == "list":
        print_catalogue()
        return 0
    if command == "use" and args.quality and args.name == "none":
        remember_quality(Preferences.load(), None)
        print("samcut now uses no quality model")
        return 0
    if command == "use":
        folder = resolve_model(args.name)
        if not folder.is_dir():
            raise ModelError(no_model_message(folder, given=True))
        verify_model_dir(folder)
        if args.quality:
            remember_quality(Preferences.load(), folder.resolve())
            print(f"samcut's quality model is now {folder.name} ({folder.resolve()}): it takes over in the app "
                  "once it has encoded the image; 'segment --quality' answers with it")
            return 0
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
