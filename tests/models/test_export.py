"""The export fails loudly when ONNX Runtime and torch disagree, and leaves nothing half-written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from samcut.models.export import ExportError, export_model, onnx_export

from reference import reference_dir


def test_mismatch_fails_and_writes_nothing(tmp_path, monkeypatch) -> None:
    original = onnx_export.export_decoder

    def export_then_perturb(model, path):
        original(model, path)
        with torch.no_grad():
            model.mask_decoder.iou_prediction_head.layers[2].bias.add_(0.5)

    monkeypatch.setattr(onnx_export, "export_decoder", export_then_perturb)
    out = tmp_path / "out"
    with warnings.catch_warnings(), pytest.raises(ExportError, match="decoder case 0 iou"):
        warnings.simplefilter("ignore")
        export_model(reference_dir() / "mobile_sam_test.pt", out)
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def test_model():
    from samcut.models.mobile_sam import load_mobile_sam

    return load_mobile_sam(reference_dir() / "mobile_sam_test.pt").eval()


def test_banded_stem_is_the_whole_image_encoder(test_model, monkeypatch) -> None:
    """The exported encoder runs its stem in row bands; the halo must cover the receptive field."""
    image = torch.from_numpy(onnx_export.sample_image())
    encoder = test_model.image_encoder
    with torch.no_grad():
        stem = encoder.layers[0](encoder.patch_embed(image))
        assert float((onnx_export.EncoderGraph(test_model)._stem(image) - stem).abs().max()) < 1e-5
        assert float((onnx_export.EncoderGraph(test_model)(image) - encoder(image)).abs().max()) < 1e-4
        monkeypatch.setattr(onnx_export, "STEM_HALO", 8)  # too narrow: the band edges show
        assert float((onnx_export.EncoderGraph(test_model)._stem(image) - stem).abs().max()) > 1e-4


def test_token_major_upscaling_is_sams_convolutions(test_model) -> None:
    embedding = np.random.default_rng(3).standard_normal((1, 256, 64, 64)).astype(np.float32)
    for feeds in onnx_export._decoder_samples(embedding):
        args = [torch.from_numpy(v) for v in feeds.values()]
        with torch.no_grad():
            want = onnx_export.DecoderGraph(test_model, token_major=False)(*args)
            got = onnx_export.DecoderGraph(test_model)(*args)
        assert float((got[0] - want[0]).abs().max()) < 1e-4
        assert float((got[1] - want[1]).abs().max()) < 1e-5
