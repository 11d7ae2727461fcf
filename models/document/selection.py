"""The selection: a ``uint8 H x W`` mask (0-255, soft edges allowed) and the operations on it."""

from __future__ import annotations

from enum import Enum

import numpy as np
from PIL import Image, ImageFilter

from samcut.models.engine.types import RowSpans


class Mode(str, Enum):
    """How a proposal combines with the selection."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"
    INTERSECT = "intersect"


def combine(selection: np.ndarray, proposal: np.ndarray, mode: Mode) -> np.ndarray:
    """New ``uint8`` selection from ``selection`` and a bool or ``uint8`` ``proposal`` of the same shape."""
    if mode is Mode.REPLACE:
        return proposal.view(np.uint8) * np.uint8(255) if proposal.dtype == bool else proposal.copy()
    p = proposal.view(np.uint8) * np.uint8(255) if proposal.dtype == bool else proposal
    if mode is Mode.ADD:
        return np.maximum(selection, p)
    if mode is Mode.SUBTRACT:
        return np.minimum(selection, 255 - p)
    if mode is Mode.INTERSECT:
        return np.minimum(selection, p)
    raise ValueError(mode)


def _dilate_once(mask: np.ndarray, square: bool) -> np.ndarray:
    out = mask.copy()
    out[1:] = np.maximum(out[1:], mask[:-1])
    out[:-1] = np.maximum(out[:-1], mask[1:])
    out[:, 1:] = np.maximum(out[:, 1:], mask[:, :-1])
    out[:, :-1] = np.maximum(out[:, :-1], mask[:, 1:])
    if square:
        out[1:, 1:] = np.maximum(out[1:, 1:], mask[:-1, :-1])
        out[:-1, :-1] = np.maximum(out[:-1, :-1], mask[1:, 1:])
        out[1:, :-1] = np.maximum(out[1:, :-1], mask[:-1, 1:])
        out[:-1, 1:] = np.maximum(out[:-1, 1:], mask[1:, :-1])
    return out


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate by ``pixels`` with an octagon (alternating cross and square steps: close to a disc)."""
    out = mask
    for i in range(max(0, pixels)):
        out = _dilate_once(out, square=bool(i % 2))
    return out.copy() if out is mask else out


def shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Erode by ``pixels`` (the dual of ``grow``)."""
    return 255 - grow(255 - mask, pixels)


def feather(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Soften the edge with a Gaussian blur of radius ``pixels``."""
    if pixels <= 0:
        return mask.copy()
    return np.asarray(Image.fromarray(mask).filter(ImageFilter.GaussianBlur(pixels)))


def smooth(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Round corners and drop specks smaller than about ``pixels``: blur, then threshold at half."""
    if pixels <= 0:
        return mask.copy()
    return (feather(mask, pixels) >= 128).astype(np.uint8) * 255


def edges(mask: np.ndarray) -> np.ndarray:
    """Pixels of a bool mask that have a 4-neighbour outside it (its inner boundary)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def stroke_coverage(shape: tuple[int, int], path: np.ndarray, radius: float
                    ) -> tuple[RowSpans, np.ndarray] | None:
    """Coverage of a round brush of ``radius`` px dragged along ``path`` (``N x 2`` (x, y) pixels).

    Returns ``((y0, y1, x0, x1), coverage)``: the touched rectangle of an ``H x W`` image and a
    float32 coverage in [0, 1] for it (1 inside the swept disc, a one-pixel anti-aliased rim), or
    None when the stroke misses the image. Pixel (r, c) has its centre at (c + 0.5, r + 0.5).
    """
    h, w = shape
    pts = np.asarray(path, np.float64).reshape(-1, 2)
    reach = radius + 1.0
    x0, y0 = (max(0, int(np.floor(v - reach))) for v in pts.min(axis=0))
    x1, y1 = int(np.ceil(pts[:, 0].max() + reach)), int(np.ceil(pts[:, 1].max() + reach))
    x1, y1 = min(w, x1), min(h, y1)
    if x0 >= x1 or y0 >= y1:
        return None
    coverage = np.zeros((y1 - y0, x1 - x0), np.float32)
    segments = zip(pts, pts[1:], strict=False) if len(pts) > 1 else [(pts[0], pts[0])]
    for a, b in segments:
        # Only the segment's own bounding box (plus the brush) can be reached by it.
        sx0 = max(x0, int(np.floor(min(a[0], b[0]) - reach)))
        sx1 = min(x1, int(np.ceil(max(a[0], b[0]) + reach)))
        sy0 = max(y0, int(np.floor(min(a[1], b[1]) - reach)))
        sy1 = min(y1, int(np.ceil(max(a[1], b[1]) + reach)))
        if sx0 >= sx1 or sy0 >= sy1:
            continue
        px = np.arange(sx0, sx1, dtype=np.float64)[None, :] + 0.5
        py = np.arange(sy0, sy1, dtype=np.float64)[:, None] + 0.5
        d = b - a
        length2 = float(d @ d)
        t = np.zeros(1) if length2 == 0 else np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / length2, 0, 1)
        dist = np.hypot(px - (a[0] + t * d[0]), py - (a[1] + t * d[1]))
        cover = np.clip(radius + 0.5 - dist, 0, 1).astype(np.float32)
        view = coverage[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0]
        np.maximum(view, cover, out=view)
    return (y0, y1, x0, x1), coverage


def painted_region(mask: np.ndarray, path: np.ndarray, radius: float, add: bool
                   ) -> tuple[RowSpans, np.ndarray] | None:
    """A brush stroke painted into (``add``) or erased from ``mask`` (``uint8``), computed over the
    stroke's own rectangle only: ``((y0, y1, x0, x1), new pixels of that rectangle)``, or None when
    the stroke misses the image. ``mask`` is not changed."""
    swept = stroke_coverage(mask.shape, path, radius)
    if swept is None:
        return None
    (y0, y1, x0, x1), coverage = swept
    level = np.round(coverage * 255).astype(np.uint8)
    region = mask[y0:y1, x0:x1]
    new = np.maximum(region, level) if add else np.minimum(region, 255 - level)
    return (y0, y1, x0, x1), new


def paint(mask: np.ndarray, path: np.ndarray, radius: float, add: bool) -> np.ndarray:
    """A copy of ``mask`` (``uint8``) with a brush stroke painted in (``add``) or erased."""
    out = mask.copy()
    painted = painted_region(mask, path, radius, add)
    if painted is not None:
        (y0, y1, x0, x1), region = painted
        out[y0:y1, x0:x1] = region
    return out
