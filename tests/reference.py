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
