"""The one way tests find ``../shared/reference`` (override with ``SAMCUT_REFERENCE_DIR``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_ENV = "SAMCUT_REFERENCE_DIR"


def reference_dir() -> Path:
    """The reference folder; raises with a clear message when it is missing."""
    path = Path(os.environ.get(REFERENCE_ENV, REPO_ROOT.parent / "shared" / "reference"))
    if not (path / "mobile_sam_test.pt").is_file():
        raise FileNotFoundError(f"reference data not found in {path}: set {REFERENCE_ENV}")
    return path


def golden_files() -> list[Path]:
    return sorted((reference_dir() / "golden").glob("*.npz"))


def synthetic_dir() -> Path:
    return reference_dir() / "synthetic"


# Checkpoints in the official layouts, made from the shared manifests by ``make_checkpoint.py``
# (numpy + torch): the real files are too large to ship. Name -> manifest, relative to the reference folder.
GENERATED_MANIFESTS = {
    "sam_vit_b": "sam_vit_b/manifest_vit_b.json",
    "sam_vit_l": "sam_vit_b/manifest_vit_l.json",
    "sam_vit_h": "sam_vit_b/manifest_vit_h.json",
    "sam2.1_hiera_tiny": "sam2.1_hiera_tiny/manifest_sam2.1_hiera_t.json",
    "sam2.1_hiera_small": "sam2.1_hiera_tiny/manifest_sam2.1_hiera_s.json",
    "sam2.1_hiera_base_plus": "sam2.1_hiera_tiny/manifest_sam2.1_hiera_b+.json",
    "sam2.1_hiera_large": "sam2.1_hiera_tiny/manifest_sam2.1_hiera_l.json",
}
GENERATED_ENV = "SAMCUT_GENERATED_CHECKPOINTS"  # CI: a folder where .ci/run made them once (torch venv)


def generated_goldens(name: str) -> list[Path]:
    """The golden files of a generated checkpoint (``sam_vit_b``, ``sam2.1_hiera_tiny``)."""
    return sorted((reference_dir() / Path(GENERATED_MANIFESTS[name]).parent / "golden").glob("*.npz"))


def generated_checkpoint(name: str, folder: Path) -> Path:
    """``<folder>/<name>_test.pt``, made from its manifest if it is not there (needs torch), or taken
    from ``$SAMCUT_GENERATED_CHECKPOINTS`` where that folder has it."""
    import subprocess
    import sys

    given = os.environ.get(GENERATED_ENV)
    if given and (Path(given) / f"{name}_test.pt").is_file():
        return Path(given) / f"{name}_test.pt"
    out = Path(folder) / f"{name}_test.pt"
    if not out.is_file():
        manifest = reference_dir() / GENERATED_MANIFESTS[name]
        partial = out.with_suffix(".partial")
        subprocess.run([sys.executable, str(reference_dir() / "make_checkpoint.py"), str(manifest), str(partial)],
                       check=True, stdout=subprocess.DEVNULL)
        os.replace(partial, out)
    return out
