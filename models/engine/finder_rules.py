"""The Object Finder's rules, as Segment Anything's automatic mask generator names them.

``FinderSettings`` holds the generator's parameters with its defaults (``SamAutomaticMaskGenerator``
in segment-anything and MobileSAM) and samcut's few departures, each off by default, so that the
default finder keeps what the official generator keeps on the same decoder outputs:

1. a grid of ``points_per_side``\\ :sup:`2` single-point prompts (cell centres); each gives three
   candidates (the multimask outputs);
2. keep a candidate when its predicted IoU ``> pred_iou_thresh`` (no filter at 0);
3. its stability score, the IoU of its mask at logit ``> +stability_score_offset`` with its mask
   at ``> -stability_score_offset`` (photo pixels, full resolution), ``>= stability_score_thresh``
   (no filter at 0);
4. box non-maximum suppression: best predicted IoU first, a candidate goes when its box's IoU
   with a kept box is ``> box_nms_thresh`` (boxes of inclusive pixel coordinates, area
   ``(x1 - x0) * (y1 - y0)``, as torchvision computes it).

samcut's departures (all off by default): ``drop_empty`` (a mask with no pixel is listed by the
official generator when the thresholds are 0), ``mask_nms_thresh`` (a second pass after the box
NMS dropping a mask whose low-res mask IoU with a better kept one is above it: boxes of nested
or diagonal objects overlap without the masks doing so, and the reverse), ``max_objects`` (a cap).
``min_mask_region_area`` (the official small-region clean-up, off there by default) is not done
by samcut: only its default, 0, is accepted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class FinderSettings:
    """The Object Finder's parameters (SAM's names and defaults; the grid is 16 x 16 in samcut,
    32 x 32 in the official generator, for speed: 256 decodes)."""

    points_per_side: int = 16
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_mask_region_area: int = 0
    drop_empty: bool = False
    mask_nms_thresh: float = 0.0
    max_objects: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.points_per_side <= 128:
            raise ValueError(f"points_per_side must be 1 to 128, not {self.points_per_side}")
        for name in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "mask_nms_thresh"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if not self.stability_score_offset > 0:
            raise ValueError(f"stability_score_offset must be above 0, not {self.stability_score_offset}")
        if self.min_mask_region_area != 0:
            raise ValueError("min_mask_region_area: samcut does not remove small regions (only SAM's default, 0)")
        if self.max_objects < 0:
            raise ValueError(f"max_objects must be 0 (all) or more, not {self.max_objects}")

    def key(self) -> str:
        """A stable text naming these settings (stored with cached objects)."""
        return json.dumps(asdict(self), sort_keys=True)


def grid_points(size: tuple[int, int], per_side: int = 16) -> list[tuple[float, float]]:
    """``per_side**2`` points ``(x, y)`` at the centres of an even grid over an ``(H, W)`` image,
    row by row (the official generator's order)."""
    h, w = size
    return [((gx + 0.5) * w / per_side, (gy + 0.5) * h / per_side)
            for gy in range(per_side) for gx in range(per_side)]


def box_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: int64 indices of the kept boxes, best score first.

    ``boxes`` ``N x 4`` ``(x0, y0, x1, y1)``; a box is dropped when its IoU with a kept one is
    ``> threshold``; IoU with an empty box (zero area on both) counts as 0. Ties keep the earlier
    index first (a stable sort)."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    b = np.asarray(boxes, np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    alive = np.ones(len(b), bool)
    kept: list[int] = []
    for i in order:
        if not alive[i]:
            continue
        kept.append(int(i))
        w = np.clip(np.minimum(b[i, 2], b[:, 2]) - np.maximum(b[i, 0], b[:, 0]), 0, None)
        h = np.clip(np.minimum(b[i, 3], b[:, 3]) - np.maximum(b[i, 1], b[:, 1]), 0, None)
        inter = w * h
        union = area[i] + area - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        alive &= ~(iou > threshold)
    return np.array(kept, np.int64)


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per ``uint64`` word."""
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(words).astype(np.int64)
    return np.unpackbits(words.view(np.uint8), axis=-1).reshape(*words.shape, 64).sum(axis=-1)


def mask_nms(masks: list[np.ndarray], threshold: float) -> list[int]:
    """Indices of ``masks`` (bool, same shape, best first) kept when each is dropped whose IoU with
    an earlier kept one is above ``threshold`` (exact IoU on bit-packed masks)."""
    kept: list[int] = []
    words = np.zeros((0, max(1, masks[0].size // 64) if masks else 1), np.uint64)
    sizes = np.zeros(0, np.int64)
    for index, mask in enumerate(masks):
        packed = np.packbits(np.pad(mask.ravel(), (0, -mask.size % 64))).view(np.uint64)
        size = int(mask.sum())
        if len(kept):
            inter = popcount(words & packed).sum(axis=1)
            union = sizes + size - inter
            if (inter > threshold * np.maximum(union, 1)).any():
                continue
        kept.append(index)
        words = np.vstack([words, packed[None]])
        sizes = np.append(sizes, size)
    return kept
