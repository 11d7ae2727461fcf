"""The export fails loudly when ONNX Runtime and torch disagree, and leaves nothing half-written."""

from __future__ import annotations

import warnings

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
