"""SamEngine's public contract: shapes, prompt rules, errors, cancellation, import hygiene."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from samcut.models.engine import Cancellation, EncodeCancelled, ModelError, Prompt, SamEngine
from samcut.models.engine.preprocess import decoder_prompt
from samcut.models.engine.types import InputFrame


@pytest.fixture(scope="module")
def small_embedding(engine):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    return engine.encode(image)


def test_embedding_carries_sizes(small_embedding) -> None:
    assert small_embedding.original_size == (120, 200)
    assert small_embedding.input_size == InputFrame(614, 1024, stretched=False)
    assert small_embedding.features.shape == (1, 256, 64, 64)


@pytest.mark.parametrize("multimask,count", [(True, 3), (False, 1)])
def test_decode_shapes(engine, small_embedding, multimask, count) -> None:
    pred = engine.decode(small_embedding, Prompt(points=[(50, 60)], labels=[1]), multimask=multimask)
    assert pred.masks.shape == (count, 120, 200) and pred.masks.dtype == bool
    assert pred.scores.shape == (count,) and pred.scores.dtype == np.float32
    assert pred.low_res_logits.shape == (count, 256, 256) and pred.low_res_logits.dtype == np.float32
    assert 0 <= pred.best < count


def test_prompt_gets_padding_point_without_box() -> None:
    coords, labels = decoder_prompt(Prompt(points=[(10, 20)], labels=[1]), (100, 200), (512, 1024))
    np.testing.assert_allclose(coords, [[[51.2, 102.4], [0, 0]]], rtol=1e-6)
    np.testing.assert_array_equal(labels, [[1, -1]])


def test_prompt_box_corners_are_labels_2_and_3() -> None:
    coords, labels = decoder_prompt(Prompt(points=[(10, 20)], labels=[0], box=(1, 2, 30, 40)), (100, 200), (512, 1024))
    np.testing.assert_array_equal(labels, [[0, 2, 3]])
    np.testing.assert_allclose(coords[0, 1:], [[5.12, 10.24], [153.6, 204.8]], rtol=1e-6)


def test_box_only_prompt_decodes(engine, small_embedding) -> None:
    pred = engine.decode(small_embedding, Prompt(box=(10, 10, 100, 90)))
    assert pred.masks.shape == (3, 120, 200)


def test_mask_input_changes_the_result(engine, small_embedding) -> None:
    prompt = Prompt(points=[(50, 60)], labels=[1])
    first = engine.decode(small_embedding, prompt)
    refined = engine.decode(small_embedding, Prompt(points=[(50, 60)], labels=[1],
                                                    mask_input=first.low_res_logits[first.best]))
    assert not np.allclose(first.low_res_logits, refined.low_res_logits)


@pytest.mark.parametrize("prompt,message", [
    (Prompt(points=[(1, 2)], labels=[1, 0]), "labels"),
    (Prompt(points=[(1, 2)], labels=[5]), r"1 \(positive\) or 0"),
    (Prompt(points=[(float("nan"), 2)], labels=[1]), "finite"),
    (Prompt(points=[(1, 2)], labels=[1], mask_input=np.zeros((64, 64), np.float32)), "256 x 256"),
    (Prompt(points=[(1, 2)], labels=[1], mask_input=np.full((256, 256), np.inf, np.float32)), "NaN or infinite"),
])
def test_bad_prompts_are_refused(engine, small_embedding, prompt, message) -> None:
    with pytest.raises(ValueError, match=message):
        engine.decode(small_embedding, prompt)


def test_encode_refuses_wrong_dtype(engine) -> None:
    with pytest.raises(ValueError, match="uint8"):
        engine.encode(np.zeros((10, 10, 3), np.float32))


def test_cancel_before_start(engine) -> None:
    cancel = Cancellation()
    cancel.cancel()
    with pytest.raises(EncodeCancelled):
        engine.encode(np.zeros((64, 64, 3), np.uint8), cancel)


def test_cancel_from_another_thread_stops_a_running_encode(engine) -> None:
    cancel = Cancellation()
    timer = threading.Timer(0.05, cancel.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(EncodeCancelled):
        engine.encode(np.zeros((512, 512, 3), np.uint8), cancel)
    timer.join()
    assert cancel.cancelled
    # The same engine keeps working afterwards.
    assert engine.encode(np.zeros((32, 32, 3), np.uint8)).features.shape == (1, 256, 64, 64)
    assert time.monotonic() - started < 60


def test_missing_model_folder(tmp_path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        SamEngine(tmp_path / "nope")


def test_missing_decoder(test_model_dir, tmp_path) -> None:
    shutil.copy(test_model_dir / "encoder.onnx", tmp_path / "encoder.onnx")
    with pytest.raises(ModelError, match="no decoder.onnx"):
        SamEngine(tmp_path)


def test_corrupt_model_fails_checksum(test_model_dir, tmp_path) -> None:
    for name in ("encoder.onnx", "decoder.onnx", "manifest.json"):
        shutil.copy(test_model_dir / name, tmp_path / name)
    data = bytearray((tmp_path / "decoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="decoder.onnx is corrupt: SHA-256"):
        SamEngine(tmp_path)


def test_garbage_model_without_manifest(tmp_path) -> None:
    (tmp_path / "encoder.onnx").write_bytes(b"not a model at all")
    (tmp_path / "decoder.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="has no manifest.json: it is incomplete"):
        SamEngine(tmp_path)  # a folder without its manifest is not trusted
    with pytest.raises(ModelError, match="cannot load"):
        SamEngine(tmp_path, verify=False)


def test_bad_manifest(test_model_dir, tmp_path) -> None:
    for name in ("encoder.onnx", "decoder.onnx"):
        shutil.copy(test_model_dir / name, tmp_path / name)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ModelError, match="not a valid samcut model manifest"):
        SamEngine(tmp_path)


def test_manifest_describes_the_export(test_model_dir) -> None:
    manifest = json.loads((test_model_dir / "manifest.json").read_text())
    assert manifest["model"] == "mobile_sam_vit_t" and manifest["input_size"] == 1024
    assert manifest["checkpoint"]["sha256"] == "5ad952d4f6ec8e51ecded9593e769e588d75c4c0dc8621ce36365271c17a4192"
    assert set(manifest["files"]) == {"encoder.onnx", "decoder.onnx"}
    assert manifest["converter"]["templates_made_with"]["torch"] == "2.13.0"
    assert all(manifest["files"][name]["bytes"] == (test_model_dir / name).stat().st_size for name in manifest["files"])


def test_engine_import_pulls_in_neither_torch_nor_qt() -> None:
    code = ("import sys, samcut.models.engine, samcut.models.document.imageio, samcut.models.store.install, "
            "samcut.cli.main; bad = [m for m in ('torch', 'PySide6', 'onnx') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
