"""Every catalogue size, structurally: each tensor of the official state dict (the shared manifests)
lands in the model's templates with its shape, or is one no image-mode graph uses; and a checkpoint
made from the manifest installs without torch and encodes and decodes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from samcut.models.engine import Prompt, SamEngine
from samcut.models.export.templates import UNUSED
from samcut.models.store.catalogue import REGISTRY
from samcut.models.store.identify import model_templates, needed_shapes

from reference import GENERATED_MANIFESTS, reference_dir

LARGE = pytest.mark.large_model
SIZES = [n for n in GENERATED_MANIFESTS if (reference_dir() / GENERATED_MANIFESTS[n]).is_file()]


@pytest.mark.parametrize("name", SIZES)
def test_every_manifest_key_lands_in_the_templates(name) -> None:
    manifest = json.loads((reference_dir() / GENERATED_MANIFESTS[name]).read_text())
    official = {key: tuple(spec["shape"]) for key, spec in manifest["keys"].items()}
    needed = needed_shapes(model_templates(REGISTRY[name]))
    assert set(needed) <= set(official), sorted(set(needed) - set(official))[:3]
    assert all(needed[k] == official[k] for k in needed)
    unused = sorted(k for k in set(official) - set(needed))
    assert all(UNUSED.search(k) for k in unused), [k for k in unused if not UNUSED.search(k)][:3]


@pytest.mark.parametrize("name", ["sam2.1_hiera_small", pytest.param("sam2.1_hiera_base_plus", marks=LARGE),
                                  pytest.param("sam2.1_hiera_large", marks=LARGE),
                                  pytest.param("sam_vit_l", marks=LARGE), pytest.param("sam_vit_h", marks=LARGE)])
def test_a_generated_checkpoint_installs_encodes_and_decodes(name, made_checkpoint, tmp_path) -> None:
    from samcut.models.store.convert import convert_checkpoint

    manifest = convert_checkpoint(made_checkpoint(name), tmp_path / name)
    assert manifest["architecture"] == name
    engine = SamEngine(tmp_path / name)
    image = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    embedding = engine.encode(image)
    assert embedding.features.shape == (1, 256, 64, 64) and np.isfinite(embedding.features).all()
    assert len(embedding.high_res) == (2 if "sam2" in name else 0)
    prediction = engine.decode(embedding, Prompt(points=[(200.0, 150.0)], labels=[1]))
    assert prediction.masks.shape == (3, 300, 400) and np.isfinite(prediction.scores).all()
    assert 0 < prediction.masks[prediction.best].mean() < 1
