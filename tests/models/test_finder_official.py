"""``samcut objects`` against SAM's automatic mask generator, re-implemented here in torch from its
published definition (``SamAutomaticMaskGenerator`` with one crop, ``segment_anything/utils/amg.py``):

- candidates: the grid's multimask outputs, kept when predicted IoU > ``pred_iou_thresh`` (if > 0);
- masks upsampled to the photo (bilinear 256 -> 1024, crop to the resized frame, bilinear to the
  photo; align_corners False), stability = #(logit > 1) / #(logit > -1), kept when >= the threshold
  (if > 0), binarized at 0;
- boxes: inclusive (x0, y0, x1, y1) of the mask, zeros when empty; greedy box NMS by predicted IoU,
  IoU of boxes with area (x1 - x0) * (y1 - y0), dropped when > ``box_nms_thresh``.

Both sides get the same decoder outputs (the synthetic model, composite_0); everything after the
decoder is written independently here (torch ops, full-resolution masks), so this pins samcut's
post-processing to the official one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main
from samcut.models.engine import SamEngine
from samcut.models.engine.finder import FinderSettings, ObjectFinder
from samcut.models.engine.postprocess import full_mask
from samcut.models.engine.types import Prompt

from reference import synthetic_dir

torch = pytest.importorskip("torch")
F = torch.nn.functional

IMAGE = "composite_0.png"


@dataclass
class Candidates:
    """The grid's decoder outputs as the official generator sees them (flattened point-major)."""

    points: list[tuple[float, float]]
    low: np.ndarray     # N x 256 x 256 logits of the multimask outputs
    ious: np.ndarray    # (N,)
    input_size: tuple[int, int]
    size: tuple[int, int]


def grid_candidates(engine: SamEngine, image: np.ndarray, per_side: int) -> Candidates:
    """The official grid (``build_point_grid``: cell centres, row by row) through the decoder."""
    embedding = engine.encode(image)
    h, w = embedding.original_size
    offset = 1 / (2 * per_side)
    side = np.linspace(offset, 1 - offset, per_side)
    grid = np.stack([np.tile(side[None, :], (per_side, 1)), np.tile(side[:, None], (1, per_side))], axis=-1)
    points = [tuple(p) for p in (grid.reshape(-1, 2) * np.array([w, h])).tolist()]
    lows, ious = [], []
    for start in range(0, len(points), 16):
        batch = points[start:start + 16]
        low, scores = engine.decode_low_res_batch(embedding, [Prompt(points=[p], labels=[1]) for p in batch])
        lows.append(low)
        ious.append(scores)
    low, iou = np.concatenate(lows), np.concatenate(ious)
    return Candidates(points, low, iou, tuple(embedding.input_size[:2]), (h, w))


def official_generator(c: Candidates, iou_thresh: float, stability_thresh: float,
                       nms_thresh: float) -> list[np.ndarray]:
    """The official generator's masks (bool H x W), in its output order."""
    h, w = c.size
    rh, rw = c.input_size
    low = torch.from_numpy(np.ascontiguousarray(c.low[:, 1:])).flatten(0, 1)[:, None].float()
    iou = torch.from_numpy(np.ascontiguousarray(c.ious[:, 1:])).flatten().float()
    keep = iou > iou_thresh if iou_thresh > 0 else torch.ones_like(iou, dtype=torch.bool)
    low, iou = low[keep], iou[keep]
    masks, ious, boxes = [], [], []
    for part in range(0, len(low), 16):
        up = F.interpolate(low[part:part + 16], (1024, 1024), mode="bilinear", align_corners=False)
        up = F.interpolate(up[..., :rh, :rw], (h, w), mode="bilinear", align_corners=False)[:, 0]
        stability = (up > 1.0).sum(dim=(1, 2)).float() / (up > -1.0).sum(dim=(1, 2)).float()
        for mask_logits, s, q in zip(up, stability, iou[part:part + 16], strict=True):
            if stability_thresh > 0 and not bool(s >= stability_thresh):
                continue
            mask = (mask_logits > 0).numpy()
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            boxes.append([cols[0], rows[0], cols[-1], rows[-1]] if rows.size else [0, 0, 0, 0])
            masks.append(np.packbits(mask))
            ious.append(float(q))
    if not masks:
        return []
    b = torch.tensor(boxes, dtype=torch.float32)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    kept: list[int] = []
    for i in torch.argsort(torch.tensor(ious), descending=True, stable=True).tolist():
        if kept:
            k = torch.tensor(kept)
            wx = (torch.minimum(b[k, 2], b[i, 2]) - torch.maximum(b[k, 0], b[i, 0])).clamp(min=0)
            hy = (torch.minimum(b[k, 3], b[i, 3]) - torch.maximum(b[k, 1], b[i, 1])).clamp(min=0)
            inter = wx * hy
            if bool((inter / (area[k] + area[i] - inter) > nms_thresh).any()):
                continue
        kept.append(i)
    return [np.unpackbits(masks[i])[:h * w].reshape(h, w).astype(bool) for i in kept]


def matched_share(ours: list[np.ndarray], theirs: list[np.ndarray], at: float = 0.9) -> float:
    """Share of ``ours`` with a mask in ``theirs`` at IoU >= ``at`` (both bool H x W lists)."""
    if not ours or not theirs:
        return float(not ours)
    def words(mask: np.ndarray) -> np.ndarray:
        return np.packbits(np.pad(mask.ravel(), (0, -mask.size % 64))).view(np.uint64)

    packed = np.stack([words(m) for m in theirs])
    sizes = np.array([int(m.sum()) for m in theirs])
    matched = 0
    for mask in ours:
        inter = np.bitwise_count(packed & words(mask)).sum(axis=1)
        union = sizes + int(mask.sum()) - inter
        matched += bool((inter >= at * np.maximum(union, 1)).any())
    return matched / len(ours)


def samcut_objects(model_dir, out, *options: str) -> tuple[list[np.ndarray], list[dict]]:
    assert main(["objects", str(synthetic_dir() / IMAGE), "--out", str(out), "--models", str(model_dir),
                 "--no-cache", *options]) == 0
    listed = json.loads((out / "objects.json").read_text())["objects"]
    return [np.asarray(Image.open(out / entry["file"])) > 0 for entry in listed], listed


def samcut_finder(c: Candidates, settings: FinderSettings) -> list[np.ndarray]:
    """samcut's finder on the same decoder outputs, its passed objects' masks at full resolution."""
    finder = ObjectFinder(c.size, c.input_size, settings)
    for point, low, ious in zip(c.points, c.low, c.ious, strict=True):
        finder.add(point, low, ious)
    return [full_mask(o.logits(), c.input_size, c.size) for o in finder.objects() if o.passed]


def test_objects_equal_the_official_generator(synthetic_model_dir, tmp_path) -> None:
    """The issue's bar without thresholds (``samcut objects`` end to end: all candidates, box NMS
    0.7, 16 x 16 grid): count within 5 % and >= 95 % matched both ways at IoU 0.9, listed as SAM
    reports them; and at SAM's defaults and at looser thresholds, what the official one keeps."""
    engine = SamEngine(synthetic_model_dir)
    image = np.asarray(Image.open(synthetic_dir() / IMAGE).convert("RGB"))
    candidates = grid_candidates(engine, image, 16)
    theirs = official_generator(candidates, 0.0, 0.0, 0.7)
    ours, listed = samcut_objects(synthetic_model_dir, tmp_path / "all", "--pred-iou-thresh", "0",
                                  "--stability-score-thresh", "0", "--box-nms-thresh", "0.7",
                                  "--points-per-side", "16")
    assert abs(len(ours) - len(theirs)) <= 0.05 * len(theirs), (len(ours), len(theirs))
    assert matched_share(ours, theirs) >= 0.95 and matched_share(theirs, ours) >= 0.95
    ious = [entry["predicted_iou"] for entry in listed]
    assert ious == sorted(ious, reverse=True)
    for mask, entry in zip(ours, listed, strict=True):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        expected = [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])] if rows.size else [0, 0, 0, 0]
        assert entry["box"] == expected and entry["area"] == int(mask.sum())
        x0, y0, x1, y1 = expected
        assert entry["bbox"] == [x0, y0, x1 - x0, y1 - y0] and 0 <= entry["stability_score"] <= 1

    defaults = official_generator(candidates, 0.88, 0.95, 0.7)
    found = samcut_finder(candidates, FinderSettings())
    assert len(found) == len(defaults) and matched_share(found, defaults) == 1.0
    loose = official_generator(candidates, 0.4, 0.4, 0.7)  # (nothing passes 0.5 / 0.5 here)
    found = samcut_finder(candidates, FinderSettings(pred_iou_thresh=0.4, stability_score_thresh=0.4))
    assert loose and abs(len(found) - len(loose)) <= max(1, 0.05 * len(loose))
    assert matched_share(found, loose) >= 0.95 and matched_share(loose, found) >= 0.95
