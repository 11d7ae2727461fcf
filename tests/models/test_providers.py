"""Where the encoder runs: ONNX Runtime's CPU provider, or OpenVINO's where that build is installed."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from samcut.models.engine import sam_engine
from samcut.models.engine.sam_engine import OPENVINO, SamEngine, encoder_providers


def test_cpu_unless_openvino_is_installed_and_allowed(monkeypatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert encoder_providers(2) == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: [OPENVINO, "CPUExecutionProvider"])
    providers = encoder_providers(3)
    assert providers[0][0] == OPENVINO and providers[0][1]["num_of_threads"] == "3"
    assert providers[0][1]["precision"] == "FP32" and providers[-1] == "CPUExecutionProvider"
    monkeypatch.setenv(sam_engine.OPENVINO_ENV, "0")
    assert encoder_providers(2) == ["CPUExecutionProvider"]


def test_the_decoder_stays_on_the_cpu_provider(engine) -> None:
    assert engine.decoder.get_providers() == ["CPUExecutionProvider"]
    assert engine.encoder_runtime in ("ONNX Runtime CPU", "OpenVINO")


@pytest.mark.skipif(OPENVINO not in ort.get_available_providers(), reason="onnxruntime-openvino is not installed")
def test_openvino_encoder_matches_the_cpu_provider(test_model_dir) -> None:
    image = np.random.default_rng(5).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    fast = SamEngine(test_model_dir)
    plain = SamEngine(test_model_dir, providers=["CPUExecutionProvider"])
    assert fast.encoder_runtime == "OpenVINO"
    diff = np.abs(fast.encode(image).features - plain.encode(image).features).max()
    assert diff < 1e-4, diff  # the golden tolerance for embeddings
