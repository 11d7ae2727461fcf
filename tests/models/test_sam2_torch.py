"""Our torch SAM 2.1 (image mode): official key names for all sizes, the tiny test checkpoint against the
official predictor's goldens, and the ONNX export."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from samcut.models.sam2 import (  # noqa: E402
    SAM2_CONFIGS,
    VIDEO_ONLY_PREFIXES,
    CheckpointError,
    build_sam2,
    load_sam2,
)

from reference import GENERATED_MANIFESTS, generated_goldens, reference_dir  # noqa: E402

TINY = "sam2.1_hiera_tiny"
MANIFESTS = {"tiny": TINY, "small": "sam2.1_hiera_small", "base_plus": "sam2.1_hiera_base_plus",
             "large": "sam2.1_hiera_large"}
FEATURES = ("embedding", "high_res_feats_0", "high_res_feats_1")


def _manifest(size: str) -> dict:
    return json.loads((reference_dir() / GENERATED_MANIFESTS[MANIFESTS[size]]).read_text())


@functools.cache
def _golden(stem: str) -> dict[str, np.ndarray]:
    with np.load(next(p for p in generated_goldens(TINY) if p.stem == stem)) as data:
        return dict(data)


@pytest.fixture(scope="module")
def tiny_checkpoint(made_checkpoint):
    return made_checkpoint(TINY)


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    return load_sam2(tiny_checkpoint, "tiny")


@pytest.mark.parametrize("size", list(SAM2_CONFIGS))
def test_every_manifest_key_and_shape_is_ours(size) -> None:
    manifest = _manifest(size)
    with torch.device("meta"):
        ours = {k: list(v.shape) for k, v in build_sam2(size).state_dict().items()}
    image_keys = {k: v["shape"] for k, v in manifest["keys"].items() if not k.startswith(VIDEO_ONLY_PREFIXES)}
    assert ours == image_keys
    video = [k for k in manifest["keys"] if k.startswith(VIDEO_ONLY_PREFIXES)]
    assert all(k.split(".")[0] in ("memory_attention", "memory_encoder", "obj_ptr_proj", "obj_ptr_tpos_proj",
                                   "mask_downsample", "maskmem_tpos_enc", "no_mem_pos_enc", "no_obj_ptr",
                                   "no_obj_embed_spatial") for k in video)
    blocks = [(b["dim"], b["dim_out"], b["heads"], b["window"], b["q_stride"] is not None)
              for b in manifest["hyperparameters"]["hiera_blocks"]]
    assert SAM2_CONFIGS[size].blocks() == blocks


def test_wrong_size_and_junk_are_refused(tiny_checkpoint, tmp_path) -> None:
    with pytest.raises(CheckpointError, match=r"not a SAM 2.1 hiera small checkpoint: \d+ missing keys"):
        load_sam2(tiny_checkpoint, "small")
    with pytest.raises(CheckpointError, match="shape mismatches") as info:
        load_sam2(tiny_checkpoint, "base_plus")
    assert "\n" not in str(info.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_sam2(junk, "tiny")
    with pytest.raises(ValueError, match="unknown SAM 2.1 size"):
        build_sam2("huge")


def test_encoder_matches_the_official_features(tiny) -> None:
    golden = _golden("astronaut_crop_512x173")
    with torch.no_grad():
        ours = tiny.encode(torch.from_numpy(golden["input_image"]))
    for name, got in zip(FEATURES, ours, strict=True):
        assert np.abs(got.numpy() - golden[name]).max() < 1e-4, name


def _features(golden) -> list[np.ndarray]:
    """Float32 features: exact where stored, else the float16 copies."""
    if "high_res_feats_0" in golden:
        return [golden[name] for name in FEATURES]
    return [golden["embedding"], *(golden[f"{name}_f16"].astype(np.float32) for name in FEATURES[1:])]


def _prompt(golden, case: str) -> list[np.ndarray]:
    """The predictor's decoder inputs: box corners, clicks, padding point; mask input from the source case."""
    h, w = (np.float32(v) for v in golden["original_size"])

    def frame(xy: np.ndarray) -> np.ndarray:
        xy = xy.astype(np.float32).reshape(-1, 2)
        return np.stack([xy[:, 0] / w * np.float32(1024), xy[:, 1] / h * np.float32(1024)], axis=1)

    box, points = golden[f"{case}_box"], golden[f"{case}_point_coords"]
    coords = [frame(box)] if box.size else []
    labels = [2.0, 3.0] if box.size else []
    if points.size:
        coords.append(frame(points))
        labels += [float(v) for v in golden[f"{case}_point_labels"]]
    coords.append(np.zeros((1, 2), np.float32))
    labels.append(-1.0)
    source, index = golden[f"{case}_mask_input_source"]
    mask = np.zeros((1, 1, 256, 256), np.float32)
    if source >= 0:
        mask[0, 0] = golden[f"p{source:02d}_low_res_logits_f16"][index].astype(np.float32)
    return [np.concatenate(coords)[None], np.asarray([labels], np.float32), mask,
            np.asarray([float(source >= 0)], np.float32)]


def _selected(logits: np.ndarray, iou: np.ndarray, multimask: bool) -> list[int]:
    """The predictor's choice: tokens 1-3, or token 0 if stable (delta 0.05, threshold 0.98) else the best of 1-3."""
    if multimask:
        return [1, 2, 3]
    union = int((logits[0] > -0.05).sum())
    stability = (logits[0] > 0.05).sum() / union if union else 1.0
    return [0] if stability >= 0.98 else [1 + int(np.argmax(iou[1:]))]


def _check_cases(golden, decode, tol: float) -> float:
    """Decode every ``pNN`` case; compare the tokens the official predictor returned. Returns the worst logit error."""
    meta = {c["key"]: c for c in json.loads(str(golden["meta_json"]))["predictor_cases"]}
    worst = 0.0
    for case, info in meta.items():
        logits, iou, _ = decode(_prompt(golden, case))
        multimask = bool(golden[f"{case}_multimask_output"])
        returned = [1, 2, 3] if multimask else [info["selection"]["token_returned"]]
        if not info["selection"].get("fragile", False):
            assert _selected(logits, iou, multimask) == returned, case
        want = golden[f"{case}_low_res_logits_f16"].astype(np.float32)
        error = float(np.abs(np.clip(logits[returned], -32, 32) - want).max())
        assert error < tol, (case, error)
        assert np.abs(iou[returned] - golden[f"{case}_iou_predictions"]).max() < 1e-4, case
        if f"{case}_token0_low_res_logits_f16" in golden:
            assert np.abs(logits[:1] - golden[f"{case}_token0_low_res_logits_f16"]).max() < tol, case
        worst = max(worst, error)
    return worst


@pytest.mark.parametrize("stem,tol", [("astronaut_crop_512x173", 5e-3), ("coffee_600x400", 1e-2),
                                      ("camera_gray_512x512", 1e-2)])
def test_decoder_matches_the_official_predictor(tiny, stem, tol) -> None:
    golden = _golden(stem)
    features = [torch.from_numpy(f) for f in _features(golden)]

    def decode(prompt: list[np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = tiny.decode(*features, *(torch.from_numpy(p) for p in prompt))
        return [t[0].numpy() for t in out]

    _check_cases(golden, decode, tol)


def test_onnx_export_matches_torch_and_the_goldens(tiny, tiny_checkpoint, tmp_path) -> None:
    from samcut.models.export.sam2_export import (
        DECODER_INPUTS,
        ENCODER_OUTPUTS,
        check_sam2_parity,
        export_sam2_decoder,
        export_sam2_encoder,
    )
    from samcut.models.export.templates import initializers
    from samcut.models.store.checkpoint import read_checkpoint

    encoder, decoder = tmp_path / "encoder.onnx", tmp_path / "decoder.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_sam2_encoder(tiny, encoder)
        export_sam2_decoder(tiny, decoder)
    report = check_sam2_parity(tiny, encoder, decoder)
    assert len(report) == 6 and max(report.values()) < 1e-3

    # Every initializer is a plain copy of a checkpoint tensor, and every image-mode tensor is one.
    state = read_checkpoint(tiny_checkpoint)
    used = set()
    for path in (encoder, decoder):
        data = path.read_bytes()
        for name, dtype, shape, start, end in initializers(data):
            assert name in state and tuple(state[name].shape) == shape, name
            assert np.asarray(state[name], np.dtype(dtype).newbyteorder("<")).tobytes() == data[start:end], name
            used.add(name)
    assert used == {k for k in state if not k.startswith(VIDEO_ONLY_PREFIXES)}

    import onnxruntime as ort

    golden = _golden("astronaut_crop_512x173")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    got = ort.InferenceSession(str(encoder), options, providers=["CPUExecutionProvider"]).run(
        ENCODER_OUTPUTS, {"image": golden["input_image"]})
    for name, value in zip(FEATURES, got, strict=True):
        assert np.abs(value - golden[name]).max() < 1e-4, name
    session = ort.InferenceSession(str(decoder), options, providers=["CPUExecutionProvider"])

    def decode(prompt: list[np.ndarray]) -> list[np.ndarray]:
        out = session.run(None, dict(zip(DECODER_INPUTS, [*_features(golden), *prompt], strict=True)))
        return [t[0] for t in out]

    _check_cases(golden, decode, 5e-3)
