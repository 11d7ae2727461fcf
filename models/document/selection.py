"""The selection: a ``uint8 H x W`` mask (0-255, soft edges allowed) and the operations on it."""

from __future__ import annotations

from enum import Enum

import numpy as np
from PIL import Image, ImageFilter


class Mode(str, Enum):
    """How a proposal combines with the selection."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"
    INTERSECT = "intersect"


def combine(selection: np.ndarray, proposal: np.ndarray, mode: Mode) -> np.ndarray:
    """New ``uint8`` selection from ``selection`` and a bool or ``uint8`` ``proposal`` of the same shape."""
    p = proposal.astype(np.uint8) * 255 if proposal.dtype == bool else proposal
    if mode is Mode.REPLACE:
        return p.copy()
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
