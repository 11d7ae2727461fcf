"""The bf16 fast mode, provider choice and batched decoding, on real ONNX Runtime / OpenVINO sessions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main
from samcut.models.engine import Prompt, SamEngine, runtimes
from samcut.models.engine.runtimes import (
    PRECISION_ENV,
    PrecisionUnavailable,
    bf16_unavailable_reason,
    requested_providers,
    resolve_precision,
)

from reference import synthetic_dir

BF16_REASON = bf16_unavailable_reason()
needs_bf16 = pytest.mark.skipif(BF16_REASON is not None, reason=f"bf16 cannot run here: {BF16_REASON}")


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.fixture
def no_openvino(monkeypatch):
    monkeypatch.setattr(runtimes, "_openvino_core", lambda: None)


def test_bf16_without_openvino_is_refused_with_the_reason(no_openvino, test_model_dir) -> None:
    hint = r"OpenVINO, which is not installed \(pip install 'samcut\[fast\]'\)"
    with pytest.raises(PrecisionUnavailable, match=hint):
        SamEngine(test_model_dir, precision="bf16")
    assert resolve_precision("auto") == "fp32"  # auto falls back quietly
    assert SamEngine(test_model_dir, precision="auto").encoder_runtime == "ONNX Runtime CPU"


def test_a_cpu_without_native_bf16_is_named(monkeypatch) -> None:
    class Core:
        def get_property(self, device: str, name: str) -> list[str]:
            return ["FP32", "INT8"]

    monkeypatch.setattr(runtimes, "_openvino_core", Core)
    assert "does not compute bf16 natively" in bf16_unavailable_reason()


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        resolve_precision("fp8")


def test_the_cli_refuses_impossible_bf16_in_one_line_before_reading_the_image(no_openvino, tmp_path, capsys,
                                                                              monkeypatch) -> None:
    monkeypatch.setenv(PRECISION_ENV, "fp32")  # --precision sets it for the process: restored after the test
    status = main(["segment", str(tmp_path / "missing.png"), "--point", "1,1", "--mask", str(tmp_path / "m.png"),
                   "--precision", "bf16"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "bf16 is not available" in err and "Traceback" not in err


def test_auto_defers_to_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    assert resolve_precision("auto") == "fp32" and resolve_precision(None) == "fp32"


def test_a_missing_provider_falls_back_to_the_cpu_with_a_notice(monkeypatch, test_model_dir) -> None:
    notices: list[str] = []
    assert requested_providers(notices, "cuda, cpu") == ["CPUExecutionProvider"]
    assert len(notices) == 1 and "CUDAExecutionProvider was asked for" in notices[0]
    monkeypatch.setenv(runtimes.PROVIDERS_ENV, "tensorrt,cuda")
    engine = SamEngine(test_model_dir)
    assert engine.decoder.get_providers() == ["CPUExecutionProvider"]
    assert len(engine.notices) == 2 and all("using the CPU instead" in n for n in engine.notices)
    assert requested_providers([], "") is None


def test_a_batch_of_prompts_gives_what_each_prompt_gives_alone(engine) -> None:
    image = np.asarray(Image.open(synthetic_dir() / "composite_1.png").convert("RGB"))
    embedding = engine.encode(image)
    assert engine.batch_decoding
    prompts = [Prompt(points=[(100.0 + 90 * i, 60.0 + 40 * i)], labels=[1]) for i in range(5)]
    prompts.append(Prompt(points=[(200.0, 200.0), (400.0, 300.0)], labels=[1, 0]))  # another point count
    prompts.append(Prompt(points=[(120.0, 80.0)], labels=[1], mask_input=np.full((256, 256), 2.0, np.float32)))
    logits, iou = engine.decode_low_res_batch(embedding, prompts)
    for i, prompt in enumerate(prompts):
        one_logits, one_iou = engine.decode_low_res(embedding, prompt)
        assert np.abs(logits[i] - one_logits).max() < 1e-4 and np.abs(iou[i] - one_iou).max() < 1e-5


@needs_bf16
def test_bf16_keeps_the_synthetic_masks(synthetic_model_dir) -> None:
    """Masks from the bf16 encoder: IoU >= 0.995 against the fp32 path and, against the pasted
    objects, within 0.01 of fp32's (3 clicks inside each object of the six composites)."""
    fp32, bf16 = SamEngine(synthetic_model_dir, precision="fp32"), SamEngine(synthetic_model_dir, precision="bf16")
    assert bf16.encoder_runtime == "OpenVINO bf16" and bf16.cache_tag == "bf16" and fp32.cache_tag == ""
    agreement, truth_fp32, truth_bf16 = [], [], []
    for index in range(6):
        image = np.asarray(Image.open(synthetic_dir() / f"composite_{index}.png").convert("RGB"))
        truth = np.asarray(Image.open(synthetic_dir() / f"composite_{index}_mask.png").convert("L")) > 127
        e32, e16 = fp32.encode(image), bf16.encode(image)
        ys, xs = np.nonzero(truth)
        for k in np.random.default_rng(index).choice(len(xs), 3, replace=False):
            prompt = Prompt(points=[(float(xs[k]), float(ys[k]))], labels=[1])
            p32, p16 = fp32.decode(e32, prompt), fp32.decode(e16, prompt)
            m32, m16 = p32.masks[int(np.argmax(p32.scores))], p16.masks[int(np.argmax(p16.scores))]
            agreement.append(mask_iou(m16, m32))
            truth_fp32.append(mask_iou(m32, truth))
            truth_bf16.append(mask_iou(m16, truth))
    assert min(agreement) >= 0.995, agreement
    assert abs(np.mean(truth_bf16) - np.mean(truth_fp32)) <= 0.01


@needs_bf16
def test_a_bf16_encode_can_be_cancelled(synthetic_model_dir) -> None:
    import threading

    from samcut.models.engine.cancellation import Cancellation
    from samcut.models.engine.errors import EncodeCancelled

    engine = SamEngine(synthetic_model_dir, precision="bf16")
    cancel = Cancellation()
    threading.Timer(0.05, cancel.cancel).start()
    with pytest.raises(EncodeCancelled):
        engine.encode(np.zeros((600, 800, 3), np.uint8), cancel)
    assert engine.encode(np.zeros((60, 80, 3), np.uint8)).features.shape == (1, 256, 64, 64)  # still usable
