"""Low-res logits -> logits or masks at the photo's size, for all of it or one region.

The official chain is: bilinear 256 -> 1024 (align_corners=False), crop to the resized
frame ``new_h x new_w``, bilinear to ``H x W`` (align_corners=False, no antialias), then
``> 0``. Both resizes are separable and linear, so per axis they fold into one
``out x 256`` weight matrix with at most four taps per row; any rectangle of the result
is ``A_y[rows] @ logits @ A_x[cols].T``, whose cost follows the rectangle, not the photo.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES

BAND_VALUES = 4 << 20  # float32 logits upsampled at a time by ``sampled_mask`` (16 MB)


def _bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """``out x in`` weights of a 1-D bilinear resize (align_corners=False), torch's float32 indexing."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.maximum(scale * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5),
                     np.float32(0))
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam1 = np.clip(src - i0, 0, 1).astype(np.float64)
    weights = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(weights, (rows, i0), 1.0 - lam1)
    np.add.at(weights, (rows, i1), lam1)
    return weights


@lru_cache(maxsize=16)
def axis_weights(resized: int, original: int) -> np.ndarray:
    """``original x 256`` float32 weights: 256 -> 1024, crop to ``resized``, -> ``original``."""
    up = _bilinear_matrix(LOW_RES, IMAGE_SIZE)[:resized]
    down = _bilinear_matrix(resized, original)
    weights = (down @ up).astype(np.float32)
    weights.flags.writeable = False
    return weights


def upsample_logits(low_res: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
                    rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """``C x 256 x 256`` logits -> float32 ``C x h x w`` logits of the original image.

    ``rows``/``cols`` select a rectangle of the original image (default: all of it).
    """
    wy = axis_weights(input_size[0], original_size[0])[rows]
    wx = axis_weights(input_size[1], original_size[1])[cols]
    low = np.asarray(low_res, np.float32).reshape(-1, LOW_RES, LOW_RES)
    return np.matmul(np.matmul(wy, low), wx.T)


def upsample_masks(low_res: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
                   rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """As ``upsample_logits``, thresholded at ``> 0``: bool ``C x h x w``."""
    return upsample_logits(low_res, input_size, original_size, rows, cols) > 0


def positive_region(low_res: np.ndarray, input_size: tuple[int, int],
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


def full_mask(low_res: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int]) -> np.ndarray:
    """bool ``H x W`` mask of one ``256 x 256`` logit map, upsampling only its positive region."""
    return sampled_mask(low_res, input_size, original_size, np.arange(original_size[0]), np.arange(original_size[1]))


def sampled_mask(low_res: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
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
        logits = np.asarray(low_res).reshape(1, LOW_RES, LOW_RES)
        # in bands of rows: the float logits of a 100 MP region would be 4 bytes per pixel at once
        band = max(1, BAND_VALUES // max(1, int(c1 - c0)))
        for b0 in range(int(r0), int(r1), band):
            b1 = min(int(r1), b0 + band)
            out[b0:b1, c0:c1] = upsample_masks(logits, input_size, original_size, rows[b0:b1], cols[c0:c1])[0]
    return out
