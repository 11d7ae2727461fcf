"""Edge refinement at full resolution: snap the mask's boundary to the image's edges.

SAM's mask is 256 x 256 logits stretched over the photo, so on a large photo an edge is smeared
over many pixels. Here a guided filter (He et al.), guided by the photo's luminance and fed the
upsampled mask probability, recovers the edge: crisp where the photo's edge is sharp, a soft alpha
where it is soft (hair, blur). It runs only on tiles along the boundary, found on the 256 grid, so
its cost follows the boundary's length, not the photo's area.
"""

from __future__ import annotations

import numpy as np

from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES

CELLS_PER_TILE = 4  # tiles are 4 x 4 low-res cells (16 x 16 px of the 1024 frame)


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


def guided_filter(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Grey-guided filter on a batch of patches: ``guide``, ``p`` float32 ``n x P x P`` in [0, 1]."""
    mean_i = box_mean(guide, r)
    mean_p = box_mean(p, r)
    cov_ip = box_mean(guide * p, r) - mean_i * mean_p
    var_i = box_mean(guide * guide, r) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, r) * guide + box_mean(b, r)


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
    from samcut.models.engine.postprocess import axis_weights, full_mask

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
    core_h, core_w = int(np.ceil(tile_px * scale_y)), int(np.ceil(tile_px * scale_x))
    margin = 2 * radius + 2
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
    q = guided_filter(luminance, p.astype(np.float32), radius, eps)
    core = np.clip(q[:, margin:margin + core_h, margin:margin + core_w] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    for i in range(len(y0)):
        ya, xa = int(y0[i]), int(x0[i])
        yb, xb = min(h, ya + core_h), min(w, xa + core_w)
        alpha[ya:yb, xa:xb] = core[i, : yb - ya, : xb - xa]
    return alpha
