"""Edge refinement at full resolution: snap the mask's boundary to the image's edges.

SAM's mask is 256 x 256 logits stretched over the photo, so on a large photo an edge is smeared
over many pixels. Here a guided filter (He et al.), guided by the photo's luminance and fed the
upsampled mask probability, recovers the edge: crisp where the photo's edge is sharp, a soft alpha
where it is soft (hair, blur). It runs only on tiles along the boundary, found on the 256 grid, so
its cost follows the boundary's length, not the photo's area.
"""

from __future__ import annotations

import numpy as np

from samcut.models.engine.postprocess import axis_weights, full_mask
from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES

CELLS_PER_TILE = 4  # tiles are 4 x 4 low-res cells (16 x 16 px of the 1024 frame)
UNSURE = 0.02  # the filter may change pixels whose mask probability lies in (UNSURE, 1 - UNSURE)


def _box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """Sums over ``(2r+1)^2`` windows (zeros outside), separable cumulative sums on slices."""
    k = 2 * r + 1
    padded = np.pad(x.astype(np.float64), ((0, 0), (r + 1, r), (r + 1, r)))
    c = np.cumsum(padded, axis=1)
    rows = c[:, k:, :] - c[:, :-k, :]
    c = np.cumsum(rows, axis=2)
    return c[:, :, k:] - c[:, :, :-k]


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over ``(2r+1)^2`` windows of each patch in ``x`` (``n x P x Q``), windows clipped at borders."""
    area = _box_sum(np.ones((1, *x.shape[1:])), r)
    return (_box_sum(x, r) / area).astype(np.float32)


def _linear_upsampler(small: int, factor: int) -> np.ndarray:
    """``small*factor x small`` bilinear (align_corners=False) interpolation matrix."""
    big = small * factor
    src = np.clip((np.arange(big) + 0.5) / factor - 0.5, 0, small - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, small - 1)
    frac = (src - i0).astype(np.float32)
    out = np.zeros((big, small), np.float32)
    out[np.arange(big), i0] += 1 - frac
    out[np.arange(big), i1] += frac
    return out


def guided_filter(guide: np.ndarray, p: np.ndarray, r: int, eps: float, subsample: int = 1) -> np.ndarray:
    """Grey-guided filter on a batch of patches: ``guide``, ``p`` float32 ``n x P x Q`` in [0, 1].

    With ``subsample`` s > 1 (P and Q multiples of s) the linear coefficients are computed at
    1/s resolution and upsampled bilinearly ("fast guided filter"): about s^2 times less work, the
    output still follows the full-resolution guide.
    """
    s = subsample
    if s > 1:
        n, h, w = guide.shape
        small_i = guide.reshape(n, h // s, s, w // s, s).mean(axis=(2, 4))
        small_p = p.reshape(n, h // s, s, w // s, s).mean(axis=(2, 4))
        rs = max(1, r // s)
    else:
        small_i, small_p, rs = guide, p, r
    mean_i = box_mean(small_i, rs)
    mean_p = box_mean(small_p, rs)
    cov_ip = box_mean(small_i * small_p, rs) - mean_i * mean_p
    var_i = box_mean(small_i * small_i, rs) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = box_mean(a, rs), box_mean(b, rs)
    if s > 1:
        up_y = _linear_upsampler(mean_a.shape[1], s)
        up_x = _linear_upsampler(mean_a.shape[2], s).T
        mean_a = up_y @ mean_a @ up_x
        mean_b = up_y @ mean_b @ up_x
    return mean_a * guide + mean_b


def boundary_tiles(low_res: np.ndarray) -> np.ndarray:
    """``k x 2`` (row, col) of the ``CELLS_PER_TILE``-cell tiles of the 256 grid that hold part of the edge."""
    positive = np.asarray(low_res).reshape(LOW_RES, LOW_RES) > 0
    edge = np.zeros_like(positive)
    edge[:-1] |= positive[:-1] != positive[1:]
    edge[1:] |= positive[:-1] != positive[1:]
    edge[:, :-1] |= positive[:, :-1] != positive[:, 1:]
    edge[:, 1:] |= positive[:, :-1] != positive[:, 1:]
    t = CELLS_PER_TILE
    return np.argwhere(edge.reshape(LOW_RES // t, t, LOW_RES // t, t).any(axis=(1, 3)))


def refine_alpha(rgb: np.ndarray, low_res: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int],
                 radius: int | None = None, eps: float = 1e-3) -> np.ndarray:
    """``uint8 H x W`` alpha of one ``256 x 256`` logit map, refined along its boundary.

    ``rgb`` is the original image (``uint8 H x W x 3``). Away from the boundary the alpha is the
    plain thresholded mask (0 or 255); near it, the guided filter's output. All boundary tiles
    are filtered together as one batch of equal-sized patches.
    """
    h, w = original_size
    new_h, new_w = input_size
    logits = np.asarray(low_res, np.float32).reshape(LOW_RES, LOW_RES)
    scale_y, scale_x = h / new_h, w / new_w
    if radius is None:
        radius = int(np.clip(round(2 * max(scale_x, scale_y)), 2, 24))
    alpha = full_mask(logits, input_size, original_size).astype(np.uint8) * 255
    tiles = boundary_tiles(logits)
    if len(tiles) == 0:
        return alpha
    tile_px = CELLS_PER_TILE * (IMAGE_SIZE // LOW_RES)
    subsample = max(1, radius // 3)  # fast guided filter on large photos
    core_h, core_w = int(np.ceil(tile_px * scale_y)), int(np.ceil(tile_px * scale_x))
    margin = 2 * radius + 2
    core_h += -(core_h + 2 * margin) % subsample  # patch sides divisible by the subsampling
    core_w += -(core_w + 2 * margin) % subsample
    y0 = (tiles[:, 0] * tile_px * scale_y).astype(np.int64)
    x0 = (tiles[:, 1] * tile_px * scale_x).astype(np.int64)
    keep = (y0 < h) & (x0 < w)
    y0, x0 = y0[keep], x0[keep]
    # Patch pixel coordinates (clamped at the image border: edge pixels repeat).
    rows = np.clip(y0[:, None] - margin + np.arange(core_h + 2 * margin)[None, :], 0, h - 1)
    cols = np.clip(x0[:, None] - margin + np.arange(core_w + 2 * margin)[None, :], 0, w - 1)
    luminance = rgb[rows[:, :, None], cols[:, None, :]].astype(np.float32) @ np.array(
        [0.299 / 255, 0.587 / 255, 0.114 / 255], np.float32)
    wy = axis_weights(new_h, h)[rows]            # n x P x 256
    wx = axis_weights(new_w, w)[cols]            # n x Q x 256
    patch_logits = np.matmul(np.matmul(wy, logits), wx.transpose(0, 2, 1))
    p = 1.0 / (1.0 + np.exp(-np.clip(patch_logits, -30, 30)))
    q = guided_filter(luminance, p.astype(np.float32), radius, eps, subsample)
    # Only where the upsampled mask itself is unsure (its smeared edge) may the filter decide;
    # where SAM is confident, its answer stands.
    unsure = (p > UNSURE) & (p < 1 - UNSURE)
    q = np.where(unsure, q, p >= 0.5)
    core = np.clip(q[:, margin:margin + core_h, margin:margin + core_w] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    for i in range(len(y0)):
        ya, xa = int(y0[i]), int(x0[i])
        yb, xb = min(h, ya + core_h), min(w, xa + core_w)
        alpha[ya:yb, xa:xb] = core[i, : yb - ya, : xb - xa]
    return alpha


def refine_region(rgb: np.ndarray, alpha: np.ndarray, box: tuple[int, int, int, int], weight: np.ndarray,
                  radius: int, eps: float = 1e-3) -> np.ndarray:
    """Re-estimate a selection's alpha from the image inside a brushed area (the refine brush).

    ``rgb`` ``uint8 H x W x 3`` and ``alpha`` ``uint8 H x W`` (the selection); ``box`` is
    ``(y0, y1, x0, x1)`` in image pixels and ``weight`` float32 of the box's shape in [0, 1] (the
    brush's coverage). The guided filter, fed the current alpha, runs on the box plus a margin;
    returns the box's new ``uint8`` alpha: the filter's output where the brush went, blended by
    ``weight``, the old alpha elsewhere.
    """
    h, w = alpha.shape
    y0, y1, x0, x1 = box
    margin = 2 * radius + 2
    ya, yb, xa, xb = max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin)
    subsample = max(1, radius // 3)
    pad = ((0, -(yb - ya) % subsample), (0, -(xb - xa) % subsample))
    guide = rgb[ya:yb, xa:xb].astype(np.float32) @ np.array([0.299 / 255, 0.587 / 255, 0.114 / 255], np.float32)
    p = alpha[ya:yb, xa:xb].astype(np.float32) / 255.0
    q = guided_filter(np.pad(guide, pad, mode="edge")[None], np.pad(p, pad, mode="edge")[None], radius, eps,
                      subsample)[0]
    q = np.clip(q[y0 - ya:y1 - ya, x0 - xa:x1 - xa], 0.0, 1.0)
    old = p[y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return np.clip((weight * q + (1 - weight) * old) * 255.0 + 0.5, 0, 255).astype(np.uint8)
