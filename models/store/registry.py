"""Known models and where installed models live.

A *model folder* holds one model: ``encoder.onnx``, ``decoder.onnx`` and ``manifest.json``. It is
what ``--models``, ``$SAMCUT_MODEL_DIR``, ``models export --out`` and the ``model_dir`` preference
name, everywhere. Installed models live in the *models root* (``$SAMCUT_MODELS_ROOT``, else the user
data dir), one model folder per name: ``<root>/mobile_sam/`` for the official weights, ``<root>/<name>/``
for custom ones; ``<root>/downloads/`` holds verified checkpoints and ``*.part`` files of
interrupted downloads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from samcut.models.engine.errors import ModelError
from samcut.models.engine.manifest import read_manifest_files

MODEL_DIR_ENV = "SAMCUT_MODEL_DIR"      # a model folder to use (like --models)
MODELS_ROOT_ENV = "SAMCUT_MODELS_ROOT"  # where models are installed


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable checkpoint, pinned by git's blob SHA-1 of the file."""

    name: str
    title: str
    filename: str
    urls: tuple[str, ...]
    git_blob_sha1: str
    licence: str
    credit: str
    max_bytes: int = 64 * 2**20  # a download that grows past this is stopped (the checkpoint is 40.7 MB)


MOBILE_SAM = ModelSpec(
    name="mobile_sam",
    title="MobileSAM (TinyViT-5M encoder, SAM decoder)",
    filename="mobile_sam.pt",
    urls=(
        "https://raw.githubusercontent.com/ChaoningZhang/MobileSAM/"
        "34bbbfdface3c18e5221aa7de6032d7220c6c6a1/weights/mobile_sam.pt",
        "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
    ),
    git_blob_sha1="7ef2d090979fd9853adf17b7a99c8b94a1c5a6a7",
    licence="Apache-2.0",
    credit="MobileSAM weights by Chaoning Zhang et al. (Apache-2.0), built on Segment Anything by Meta AI (Apache-2.0)",
)

REGISTRY: dict[str, ModelSpec] = {MOBILE_SAM.name: MOBILE_SAM}
DEFAULT_MODEL = MOBILE_SAM.name


def models_root() -> Path:
    """Where models are installed: ``$SAMCUT_MODELS_ROOT`` or ``<user data dir>/samcut/models``."""
    override = os.environ.get(MODELS_ROOT_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path("samcut", appauthor=False) / "models"


def bundled_model_dir(name: str = DEFAULT_MODEL) -> Path | None:
    """A model shipped inside a PyInstaller bundle (``<bundle>/models/<name>``), if there is one."""
    import sys

    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        folder = Path(bundle) / "models" / name
        if (folder / "manifest.json").is_file():
            return folder
    return None


def model_dir(name: str = DEFAULT_MODEL) -> Path:
    """The folder of the model to use: ``$SAMCUT_MODEL_DIR`` (the default model only), else the
    user's installed one, else one shipped in the bundle.

    (Where none exists, the user's folder: that is where ``samcut models fetch`` installs.)
    """
    override = os.environ.get(MODEL_DIR_ENV)
    if override and name == DEFAULT_MODEL:
        return Path(override).expanduser()
    user = models_root() / name
    if (user / "manifest.json").is_file():
        return user
    return bundled_model_dir(name) or user


def resolve_model(value: str | Path) -> Path:
    """``--models`` takes a model folder or the name of an installed model (``models list``)."""
    path = Path(value).expanduser()
    named = models_root() / str(value)
    if not path.is_dir() and os.sep not in str(value) and (named / "manifest.json").is_file():
        return named
    return path


def custom_name(checkpoint: Path) -> str:
    """The name custom weights are installed under: the file's stem made safe for a folder name,
    never the official model's name."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(checkpoint).stem).strip("-.") or "custom"
    return f"{stem}-custom" if stem in REGISTRY or stem == "downloads" else stem


def downloads_dir() -> Path:
    """Where checkpoints and partial downloads are kept."""
    return models_root() / "downloads"


def spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


@dataclass(frozen=True)
class InstalledModel:
    """A model folder found under the models root; ``damaged`` says why it cannot serve (empty:
    it looks whole; ``verify_model_dir`` checks its files)."""

    name: str
    path: Path
    manifest: dict
    damaged: str = ""


def installed_models() -> list[InstalledModel]:
    """Model folders under the models root, sorted by name, damaged ones included (marked);
    hidden folders (an install in progress) and ``downloads`` are not models."""
    root = models_root()
    found = []
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name.startswith(".") or folder.name == "downloads":
                continue
            if not os.path.lexists(folder / "manifest.json") and not any(folder.glob("*.onnx")):
                continue  # an empty or unrelated folder, not a model
            try:
                manifest, damaged = read_manifest_files(folder)[0], ""
            except ModelError as exc:  # the one line verify_model_dir would say
                manifest, damaged = {}, str(exc)
            found.append(InstalledModel(folder.name, folder, manifest, damaged))
    return found


def is_official(spec: ModelSpec, manifest: dict) -> bool:
    """Whether an installed model's manifest says it was made from ``spec``'s pinned checkpoint."""
    checkpoint = manifest.get("checkpoint")
    return isinstance(checkpoint, dict) and checkpoint.get("git_blob_sha1") == spec.git_blob_sha1


def weights_origin(manifest: dict) -> str:
    """Which weights a model holds, for people: "official weights", or "custom weights from FILE
    (sha256 0123456789ab…)" from the checkpoint recorded in its manifest."""
    if is_official(MOBILE_SAM, manifest):
        return "official weights"
    checkpoint = manifest.get("checkpoint") if isinstance(manifest.get("checkpoint"), dict) else {}
    return f"custom weights from {checkpoint.get('name', '?')} (sha256 {str(checkpoint.get('sha256', '?'))[:12]}…)"
