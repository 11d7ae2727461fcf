"""Shared fixtures: models installed once per session from the reference checkpoints.

The models the tests use come from the torch-free conversion (what every user install runs);
``torch_export_dir`` gives what the torch exporter writes, for the tests that compare the two.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import generated_checkpoint, reference_dir, synthetic_dir  # noqa: E402

# The suite checks the exact fp32 path (goldens, byte-for-byte masks) wherever OpenVINO and a bf16
# CPU would make "auto" pick bf16; tests of the fast mode ask for it by name.
os.environ.setdefault("SAMCUT_PRECISION", "fp32")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``large_model`` tests (many GB of checkpoint, minutes each) run only when asked for."""
    if os.environ.get("SAMCUT_LARGE_MODELS") == "1":
        return
    skip = pytest.mark.skip(reason="a multi-GB model: set SAMCUT_LARGE_MODELS=1 to run it")
    for item in items:
        if "large_model" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    """Preferences, caches (the CLI's embedding cache too: ``<config>/cache``), installed models and
    downloads stay in the test's own folder, on every OS: no test writes into the user's folders.
    (The session's model fixtures convert into session folders of their own.)"""
    monkeypatch.setenv("SAMCUT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))


CHECKPOINTS = {"test": lambda: reference_dir() / "mobile_sam_test.pt",
               "synthetic": lambda: synthetic_dir() / "mobile_sam_synthetic.pt"}


def _convert(checkpoint: Path, out: Path) -> Path:
    from samcut.models.store.convert import convert_checkpoint

    convert_checkpoint(checkpoint, out)
    return out


TEST_MODEL_ENV = "SAMCUT_TEST_MODEL_DIR"  # CI: the folder a torch-free install converted (.ci/run)


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mobile_sam_test.pt`` (random but non-trivial weights) installed as a user's install does.

    With ``SAMCUT_TEST_MODEL_DIR`` set, the folder there (CI converts it in a fresh venv without
    torch), so that every golden and byte-for-byte test checks what such an install wrote.
    """
    given = os.environ.get(TEST_MODEL_ENV)
    if given:
        from samcut.models.engine import verify_model_dir

        verify_model_dir(Path(given))
        return Path(given)
    return _convert(CHECKPOINTS["test"](), tmp_path_factory.mktemp("model_test"))


@pytest.fixture(scope="session")
def synthetic_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic model that segments pasted objects, installed as a user's install does."""
    return _convert(CHECKPOINTS["synthetic"](), tmp_path_factory.mktemp("model_synthetic"))


@pytest.fixture(scope="session")
def torch_export_dir(tmp_path_factory: pytest.TempPathFactory):
    """``torch_export_dir(name)``: the torch exporter's folder for checkpoint ``name`` (made once)."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            from samcut.models.export import export_model

            out = tmp_path_factory.mktemp(f"torch_{name}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                export_model(CHECKPOINTS[name](), out)
            made[name] = out
        return made[name]

    return get


@pytest.fixture(scope="session")
def made_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """``made_checkpoint(name)``: the generated test checkpoint ``name`` (``reference.GENERATED_MANIFESTS``),
    made once per session (or taken from ``$SAMCUT_GENERATED_CHECKPOINTS``)."""
    folder = tmp_path_factory.mktemp("generated")

    def get(name: str) -> Path:
        return generated_checkpoint(name, folder)

    return get


FAMILY_MODEL_ENV = {"sam_vit_b": "SAMCUT_TEST_SAM_VIT_B_DIR", "sam2.1_hiera_tiny": "SAMCUT_TEST_SAM2_DIR"}


@pytest.fixture(scope="session")
def family_model_dir(made_checkpoint, tmp_path_factory: pytest.TempPathFactory):
    """``family_model_dir(name)``: the generated SAM ViT-B or SAM 2.1 tiny test checkpoint installed as a
    user's install does (made once per session), or the folder CI's torch-free venv converted
    (``FAMILY_MODEL_ENV``)."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        given = os.environ.get(FAMILY_MODEL_ENV[name])
        if given:
            return Path(given)
        if name not in made:
            made[name] = _convert(made_checkpoint(name), tmp_path_factory.mktemp(name))
        return made[name]

    return get


@pytest.fixture(scope="session")
def engine(test_model_dir: Path):
    from samcut.models.engine import SamEngine

    return SamEngine(test_model_dir)
