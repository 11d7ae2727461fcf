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
from samcut.models.store.catalogue import DEFAULT_MODEL, MOBILE_SAM, REGISTRY, ModelSpec, spec, spec_for_pin

__all__ = ["DEFAULT_MODEL", "MOBILE_SAM", "REGISTRY", "ModelSpec", "spec"]  # the catalogue, as callers knew it here

MODEL_DIR_ENV = "SAMCUT_MODEL_DIR"      # a model folder to use (like --models)
MODELS_ROOT_ENV = "SAMCUT_MODELS_ROOT"  # where models are installed


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


def official_spec(manifest: dict) -> ModelSpec | None:
    """The catalogue entry whose pinned checkpoint an installed model's manifest says it was made from."""
    checkpoint = manifest.get("checkpoint")
    return spec_for_pin(checkpoint) if isinstance(checkpoint, dict) else None


def is_official(spec: ModelSpec, manifest: dict) -> bool:
    """Whether an installed model's manifest says it was made from ``spec``'s pinned checkpoint."""
    return official_spec(manifest) == spec


def weights_origin(manifest: dict) -> str:
    """Which weights a model holds, for people: "official weights", or "custom weights from FILE
    (sha256 0123456789ab…)" from the checkpoint recorded in its manifest."""
    if official_spec(manifest) is not None:
        return "official weights"
    checkpoint = manifest.get("checkpoint") if isinstance(manifest.get("checkpoint"), dict) else {}
    return f"custom weights from {checkpoint.get('name', '?')} (sha256 {str(checkpoint.get('sha256', '?'))[:12]}…)"
