"""Shared fixtures: models exported once per session from the reference checkpoints."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import reference_dir, synthetic_dir  # noqa: E402


def _export(checkpoint: Path, out: Path) -> Path:
    from samcut.models.export import export_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_model(checkpoint, out)
    return out


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONNX export of ``mobile_sam_test.pt`` (random but non-trivial weights)."""
    return _export(reference_dir() / "mobile_sam_test.pt", tmp_path_factory.mktemp("model_test"))


@pytest.fixture(scope="session")
def synthetic_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONNX export of the synthetic model that segments pasted objects."""
    return _export(synthetic_dir() / "mobile_sam_synthetic.pt", tmp_path_factory.mktemp("model_synthetic"))


@pytest.fixture(scope="session")
def engine(test_model_dir: Path):
    from samcut.models.engine import SamEngine

    return SamEngine(test_model_dir)
