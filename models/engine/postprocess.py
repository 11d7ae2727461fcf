"""Low-res logits -> logits or masks at the photo's size, for all of it or one region.

The official chain is: bilinear 256 -> 1024 (align_corners=False), crop to the resized
frame ``new_h x new_w``, bilinear to ``H x W`` (align_corners=False, no antialias), then
``> 0``. Both resizes are separable and linear, so per axis they fold into one
``original x 256`` weight matrix. Each of its rows touches at most ``TAPS`` (three) adjacent
low-res cells, so it is kept sparse (``AxisTaps``: a first cell and three weights per photo
row or column, 13 bytes each) and applied tap by tap, in tiles of rows x columns: the memory follows
the pixels asked for, whatever the photo's shape (a dense ``original x 256`` float32 matrix
is 400 MB for a 400000-pixel side). Every output pixel is the same fixed sum of products
however the work is cut into bands or regions, so a region equals the slice of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES
from samcut.models.engine.types import InputFrame, input_frame

TILE_VALUES = 2 << 20  # float32 values of one tile of rows x columns while upsampling (two such buffers: 16 MB)
COL_CHUNK = 1 << 16  # photo columns of one tile (a 400000-pixel row is cut in seven)
TAPS = 3
"""Low-res cells one photo row (or column) depends on: two bilinear steps of two adjacent taps each
reach three adjacent cells at most."""
_CHUNK = 1 << 16  # photo rows whose weights are folded at a time (bounds the float64 temporaries)


def _bilinear_taps(in_size: int, out_size: int, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 1-D bilinear resize (align_corners=False, torch's float32 indexing) at output indices
    ``outputs`` ``(n,)``: the two input taps ``i0``, ``i1`` (int64 ``(n,)``, equal at the border)
    and the second tap's float64 weight ``(n,)`` (the first's is ``1 - lam1``)."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.maximum(scale * (outputs.astype(np.float32) + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam1 = np.clip(src - i0, 0, 1).astype(np.float64)
    return i0, i1, lam1


@lru_cache(maxsize=1)
def _up_weights() -> tuple[np.ndarray, np.ndarray]:
    """The first step, 256 -> 1024, whatever the photo: dense float64 ``1024 x 256`` weights and
    the first non-zero cell of each row (int64 ``(1024,)``)."""
    i0, i1, lam1 = _bilinear_taps(LOW_RES, IMAGE_SIZE, np.arange(IMAGE_SIZE))
    weights = np.zeros((IMAGE_SIZE, LOW_RES), np.float64)
    rows = np.arange(IMAGE_SIZE)
    np.add.at(weights, (rows, i0), 1.0 - lam1)
    np.add.at(weights, (rows, i1), lam1)
    weights.flags.writeable = False
    return weights, (weights != 0).argmax(axis=1)


@dataclass(frozen=True)
class AxisTaps:
    """One axis's ``original x 256`` upsampling weights, sparse: photo row (or column) ``r`` is
    ``weights[r]`` on low-res cells ``start[r] : start[r] + TAPS`` and zero on every other cell.

    ``start``: uint8 ``(original,)``, at most ``256 - TAPS``; ``weights``: float32 ``original x TAPS``.
    """

    start: np.ndarray
    weights: np.ndarray

    def at(self, rows: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """float32 weights of photo ``rows`` on low-res ``cells`` (int arrays that broadcast together),
        zero where the cell is outside the row's taps: what a dense matrix's ``[rows, cells]`` gives."""
        k = np.asarray(cells, np.int64) - self.start[rows]
        inside = (k >= 0) & (k < TAPS)
        return np.where(inside, self.weights[rows, np.clip(k, 0, TAPS - 1)], np.float32(0))


def _direct_taps(original: int) -> AxisTaps:
    """One axis of a stretched frame (SAM 2.1): bilinear 256 -> ``original`` in one step, two taps
    per photo row, stored in the same three-tap layout (the third weight 0)."""
    start = np.empty(original, np.uint8)
    weights = np.zeros((original, TAPS), np.float32)
    for first in range(0, original, _CHUNK):
        part = slice(first, min(original, first + _CHUNK))
        i0, i1, lam1 = _bilinear_taps(LOW_RES, original, np.arange(part.start, part.stop))
        lo = np.minimum(i0, LOW_RES - TAPS)
        rows = np.arange(part.stop - part.start)
        w = np.zeros((rows.size, TAPS), np.float64)
        np.add.at(w, (rows, i0 - lo), 1.0 - lam1)
        np.add.at(w, (rows, i1 - lo), lam1)
        start[part], weights[part] = lo, w
    start.flags.writeable = weights.flags.writeable = False
    return AxisTaps(start, weights)


@lru_cache(maxsize=16)
def axis_taps(resized: int, original: int, stretched: bool = False) -> AxisTaps:
    """The weights of one axis: 256 -> 1024, crop to ``resized``, -> ``original`` (13 bytes per photo
    row or column). Folded in float64 and rounded to float32 once, chunk by chunk. ``stretched``
    (SAM 2.1's frame): 256 -> ``original`` directly, as its predictor does."""
    if stretched:
        return _direct_taps(original)
    up, up_first = _up_weights()
    start = np.empty(original, np.uint8)  # cells 0..253: one byte (sums with small ints stay in range)
    weights = np.empty((original, TAPS), np.float32)
    span = np.arange(TAPS)
    for first in range(0, original, _CHUNK):
        part = slice(first, min(original, first + _CHUNK))
        i0, i1, lam1 = _bilinear_taps(resized, original, np.arange(part.start, part.stop))
        same = i0 == i1  # at the border both taps are one pixel, weighted (1 - lam1) + lam1
        d0 = np.where(same, (1.0 - lam1) + lam1, 1.0 - lam1)
        d1 = np.where(same, 0.0, lam1)
        lo = np.minimum(up_first[i0], LOW_RES - TAPS)
        cells = lo[:, None] + span
        folded = d0[:, None] * up[i0[:, None], cells] + d1[:, None] * up[i1[:, None], cells]
        if not np.allclose(folded.sum(axis=1), 1.0):  # a tap fell outside the window: TAPS is wrong
            raise RuntimeError(f"upsampling weights of {resized} -> {original} reach beyond {TAPS} cells")
        start[part], weights[part] = lo, folded
    start.flags.writeable = weights.flags.writeable = False
    return AxisTaps(start, weights)


def _along_rows(low: np.ndarray, sy: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """``C x 256 x 256`` float32 -> ``C x n x 256``: the first axis through ``n`` photo rows' taps
    (``sy`` first cells ``(n,)``, ``wy`` weights ``n x TAPS``)."""
    mid = low[:, sy, :] * wy[None, :, 0, None]
    for k in range(1, TAPS):
        mid += low[:, sy + k, :] * wy[None, :, k, None]
    return mid


def _along_cols(mid: np.ndarray, sx: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """``C x n x 256`` float32 -> ``C x n x m``: the second axis through ``m`` photo columns' taps."""
    out = np.take(mid, sx, axis=2)
    out *= wx[:, 0]
    gathered = np.empty_like(out)
    for k in range(1, TAPS):
        np.take(mid, sx + k, axis=2, out=gathered)
        gathered *= wx[:, k]
        out += gathered
    return out


def _upsample_into(out: np.ndarray, low_res: np.ndarray, input_size: InputFrame | tuple[int, int],
                   original_size: tuple[int, int], rows: slice | np.ndarray, cols: slice | np.ndarray) -> None:
    """Write ``C x h x w`` logits (float ``out``) or ``logits > 0`` (bool ``out``) of ``C x 256 x 256``
    ``low_res`` at the original image's ``rows`` x ``cols`` (slices or ascending index arrays).

    Rows first, then columns, tile by tile (at most ``COL_CHUNK`` columns by as many rows as keep a
    tile near ``TILE_VALUES`` values): each output value is the same sum of products whatever the
    tiling, so any region equals the slice of the whole.
    """
    low = np.asarray(low_res, np.float32).reshape(-1, LOW_RES, LOW_RES)
    frame = input_frame(input_size)
    ty = axis_taps(frame.height, original_size[0], frame.stretched)
    tx = axis_taps(frame.width, original_size[1], frame.stretched)
    sy, wy = ty.start[rows], ty.weights[rows]
    sx, wx = tx.start[cols], tx.weights[cols]
    width = min(sx.size, COL_CHUNK)
    band = max(1, TILE_VALUES // (low.shape[0] * max(width, LOW_RES)))
    for r0 in range(0, sy.size, band):
        r = slice(r0, r0 + band)
        mid = _along_rows(low, sy[r], wy[r])
        for c0 in range(0, sx.size, max(1, width)):
            c = slice(c0, c0 + width)
            logits = _along_cols(mid, sx[c], wx[c])
            if out.dtype == bool:
                np.greater(logits, 0, out=out[:, r, c])
            else:
                out[:, r, c] = logits


def _count(index: slice | np.ndarray, size: int) -> int:
    """How many of a side of ``size`` a slice or an index array selects."""
    return len(range(*index.indices(size))) if isinstance(index, slice) else int(np.asarray(index).size)


def upsample_logits(low_res: np.ndarray, input_size: InputFrame | tuple[int, int], original_size: tuple[int, int],
                    rows: slice | np.ndarray = slice(None), cols: slice | np.ndarray = slice(None)) -> np.ndarray:
    """``C x 256 x 256`` logits -> float32 ``C x h x w`` logits of the original image.

    ``rows``/``cols`` select a rectangle (slices) or ascending samples (index arrays) of the
    original image (default: all of it).
    """
    c = int(np.asarray(low_res).size // (LOW_RES * LOW_RES))
    out = np.empty((c, _count(rows, original_size[0]), _count(cols, original_size[1])), np.float32)
    _upsample_into(out, low_res, input_size, original_size, rows, cols)
    return out


def upsample_masks(low_res: np.ndarray, input_size: InputFrame | tuple[int, int], original_size: tuple[int, int],
                   rows: slice | np.ndarray = slice(None), cols: slice | np.ndarray = slice(None)) -> np.ndarray:
    """As ``upsample_logits``, thresholded at ``> 0``: bool ``C x h x w`` (no float copy of it is held)."""
    c = int(np.asarray(low_res).size // (LOW_RES * LOW_RES))
    out = np.empty((c, _count(rows, original_size[0]), _count(cols, original_size[1])), bool)
    _upsample_into(out, low_res, input_size, original_size, rows, cols)
    return out


def positive_region(low_res: np.ndarray, input_size: InputFrame | tuple[int, int],
                    original_size: tuple[int, int]) -> tuple[slice, slice] | None:
    """Rows and columns of the original image outside which ``low_res`` (``256 x 256``) upsamples to <= 0.

    Bilinear weights are non-negative and reach at most one low-res cell beyond a sample, so
    a one-cell margin around the positive cells is exact. None when nothing is positive.
    """
    positive = np.asarray(low_res).reshape(LOW_RES, LOW_RES) > 0
    rows = np.flatnonzero(positive.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(positive.any(axis=0))

    def span(first: int, last: int, resized: int, original: int) -> slice:
        cell = IMAGE_SIZE // LOW_RES
        lo = max(0, (first - 1) * cell) * original / resized
        hi = min(IMAGE_SIZE, (last + 2) * cell) * original / resized
        return slice(max(0, int(np.floor(lo)) - 1), min(original, int(np.ceil(hi)) + 1))

    return (span(int(rows[0]), int(rows[-1]), input_size[0], original_size[0]),
            span(int(cols[0]), int(cols[-1]), input_size[1], original_size[1]))


def full_mask(low_res: np.ndarray, input_size: InputFrame | tuple[int, int],
              original_size: tuple[int, int]) -> np.ndarray:
    """bool ``H x W`` mask of one ``256 x 256`` logit map, upsampling only its positive region (the
    same values as ``upsample_masks``)."""
    out = np.zeros(original_size, bool)
    region = positive_region(low_res, input_size, original_size)
    if region is not None:
        _upsample_into(out[None, region[0], region[1]], np.asarray(low_res).reshape(1, LOW_RES, LOW_RES),
                       input_size, original_size, *region)
    return out


def sampled_mask(low_res: np.ndarray, input_size: InputFrame | tuple[int, int], original_size: tuple[int, int],
                 rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """bool ``len(rows) x len(cols)``: one ``256 x 256`` logit map's mask at the original image's
    ``rows`` x ``cols`` (ascending indices, e.g. one per screen pixel), upsampling only the samples
    inside its positive region; the same values as ``upsample_masks`` at those samples."""
    rows, cols = np.asarray(rows), np.asarray(cols)
    out = np.zeros((rows.size, cols.size), bool)
    region = positive_region(low_res, input_size, original_size)
    if region is None:
        return out
    r0, r1 = np.searchsorted(rows, [region[0].start, region[0].stop])
    c0, c1 = np.searchsorted(cols, [region[1].start, region[1].stop])
    if r1 > r0 and c1 > c0:
        # straight into the mask, band by band: never a float copy of the region (4 bytes per pixel)
        _upsample_into(out[None, r0:r1, c0:c1], np.asarray(low_res).reshape(1, LOW_RES, LOW_RES), input_size,
                       original_size, rows[r0:r1], cols[c0:c1])
    return out
