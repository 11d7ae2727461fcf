"""Fidelity: our torch model -> our export -> SamEngine against the official pipeline's goldens."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from samcut.models.engine import ImageEmbedding, Prompt, upsample_masks
from samcut.models.engine.preprocess import resize_image

from reference import golden_files

FULL_CASES = [p for p in golden_files() if not p.name.startswith("preproc_only")]
PREPROC_CASES = golden_files()

EMBEDDING_TOL = 1e-4
LOGITS_TOL = 5e-3
IOU_TOL = 1e-4
MASK_IOU_MIN = 0.999


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def predictor_cases(golden: np.lib.npyio.NpzFile) -> list[str]:
    return sorted({k[:4] for k in golden.files if k.startswith("p") and k[1:3].isdigit()})


def onnx_cases(golden: np.lib.npyio.NpzFile) -> list[str]:
    return sorted({k[:4] for k in golden.files if k.startswith("o") and k[1:3].isdigit()})


def test_golden_files_present() -> None:
    assert len(FULL_CASES) >= 5 and any(p.name.startswith("preproc_only") for p in PREPROC_CASES)


@pytest.mark.parametrize("path", PREPROC_CASES, ids=lambda p: p.stem)
def test_resize_is_bit_identical(path) -> None:
    g = np.load(path)
    resized = resize_image(g["image"])
    assert tuple(resized.shape[:2]) == tuple(g["input_size"])
    assert hashlib.sha256(np.ascontiguousarray(resized).tobytes()).hexdigest() == str(g["resized_image_sha256"])
    if "resized_image" in g.files:
        np.testing.assert_array_equal(resized, g["resized_image"])


@pytest.mark.parametrize("path", FULL_CASES, ids=lambda p: p.stem)
def test_embedding_matches(engine, path) -> None:
    g = np.load(path)
    emb = engine.encode(g["image"])
    assert emb.features.shape == (1, 256, 64, 64) and emb.features.dtype == np.float32
    assert emb.original_size == tuple(int(v) for v in g["original_size"])
    assert emb.input_size[:2] == tuple(int(v) for v in g["input_size"])
    assert float(np.abs(emb.features - g["embedding"]).max()) <= EMBEDDING_TOL


def _prompt(g: np.lib.npyio.NpzFile, case: str) -> Prompt:
    box = g[case + "box"]
    mask_input = None
    if bool(g[case + "has_mask_input"]):
        src_case, src_index = (int(v) for v in g[case + "mask_input_source"])
        mask_input = g[f"p{src_case:02d}_low_res_logits_f16"][src_index].astype(np.float32)
    return Prompt(points=[tuple(p) for p in g[case + "point_coords"]],
                  labels=[int(v) for v in g[case + "point_labels"]],
                  box=tuple(float(v) for v in box) if box.size else None, mask_input=mask_input)


@pytest.mark.parametrize("path", FULL_CASES, ids=lambda p: p.stem)
def test_predictor_cases_match(engine, path) -> None:
    g = np.load(path)
    meta = json.loads(str(g["meta_json"]))
    assert meta  # the file carries its provenance
    embedding = ImageEmbedding(g["embedding"], tuple(int(v) for v in g["original_size"]),
                               tuple(int(v) for v in g["input_size"]))
    cases = predictor_cases(g)
    assert len(cases) == 10
    for case in cases:
        multimask = bool(g[case + "multimask_output"])
        pred = engine.decode(embedding, _prompt(g, case), multimask=multimask)
        expected_c = 3 if multimask else 1
        assert pred.masks.shape == (expected_c, *embedding.original_size) and pred.masks.dtype == bool
        assert pred.scores.shape == (expected_c,) and pred.low_res_logits.shape == (expected_c, 256, 256)
        want_logits = g[case + "low_res_logits_f16"].astype(np.float32)
        assert float(np.abs(pred.low_res_logits - want_logits).max()) <= LOGITS_TOL, case
        assert float(np.abs(pred.scores - g[case + "iou_predictions"]).max()) <= IOU_TOL, case
        for got, want in zip(pred.masks, g[case + "masks"], strict=True):
            assert mask_iou(got, want) >= MASK_IOU_MIN, case


@pytest.mark.parametrize("path", FULL_CASES, ids=lambda p: p.stem)
def test_onnx_route_cases_match(engine, path) -> None:
    """The decoder graph fed the official ONNX inputs; single-mask selection done as the official export."""
    g = np.load(path)
    size = tuple(int(v) for v in g["original_size"])
    input_size = tuple(int(v) for v in g["input_size"])
    for case in onnx_cases(g):
        src = int(g[case + "mask_input_source"][0])
        mask_input = (g[f"o{src:02d}_low_res_masks_f16"].astype(np.float32) if src >= 0
                      else np.zeros((1, 1, 256, 256), np.float32))
        coords = g[case + "point_coords"]
        logits, iou = engine.decoder.run(None, {
            "image_embeddings": g["embedding"], "point_coords": coords, "point_labels": g[case + "point_labels"],
            "mask_input": mask_input, "has_mask_input": g[case + "has_mask_input"]})
        n_points = coords.shape[1]
        token = int(np.argmax(iou[0] + (n_points - 2.5) * np.array([1000.0, 0, 0, 0])))
        assert abs(float(iou[0, token]) - float(g[case + "iou_predictions"].reshape(-1)[0])) <= IOU_TOL, case
        low = logits[0, token:token + 1]
        want = g[case + "low_res_masks_f16"].astype(np.float32).reshape(1, 256, 256)
        assert float(np.abs(low - want).max()) <= LOGITS_TOL, case
        mask = upsample_masks(low, input_size, size)[0]
        assert mask_iou(mask, g[case + "masks"].reshape(size)) >= MASK_IOU_MIN, case
