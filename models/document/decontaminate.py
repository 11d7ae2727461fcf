"""Colour decontamination: take the background's colour out of a cutout's semi-transparent edge.

A pixel of alpha ``a`` shows ``I = a F + (1 - a) B``: the object's colour ``F`` mixed with the
background's ``B``. Saved as is, a cutout of a subject shot against a green wall keeps a green
fringe. Here ``B`` is estimated as the mean colour of the nearby fully transparent pixels (a
pyramid looks further where none are near) and ``F`` solved from the equation; where ``a`` is
small that solution is unstable, so it is blended towards the nearby fully opaque colour. Only
pixels with ``0 < a < 255`` change, and only the band around them is computed.
"""

from __future__ import annotations

import numpy as np

from samcut.models.engine.refine import block_mean, box_sum

RADIUS = 6          # neighbourhood (px) for the local background / foreground colours
STABLE_ALPHA = 0.3  # below this alpha, F leans on the nearby opaque colour instead of the solution


def _pool2(x: np.ndarray) -> np.ndarray:
    """Sum over 2 x 2 blocks of the last two axes of ``C x H x W`` (odd edges padded with zeros)."""
    x = np.pad(x, [(0, 0), (0, x.shape[1] % 2), (0, x.shape[2] % 2)])
    return x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]


def _nearby_colour(weighted: np.ndarray, weight: np.ndarray, r: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Mean colour of the weighted pixels within about ``r`` of each queried pixel (``ys``, ``xs``),
    looking twice as far at each coarser level of a pyramid where none are near; NaN if none at all.
    ``weighted`` is colour planes x weight (``3 x H x W``), ``weight`` ``1 x H x W``."""
    out = np.full((len(ys), 3), np.nan, np.float64)
    todo = np.arange(len(ys))
    level = 0
    while todo.size:
        count = box_sum(weight, r)[0]
        total = box_sum(weighted, r)
        qy, qx = ys[todo] >> level, xs[todo] >> level
        found = count[qy, qx] > 1e-3
        out[todo[found]] = (total[:, qy[found], qx[found]] / count[qy[found], qx[found]]).T
        todo = todo[~found]
        if max(weight.shape[1:]) <= 2 * r + 1:
            break
        weighted, weight, level = _pool2(weighted), _pool2(weight), level + 1
    return out


def decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``uint8 H x W x 3`` colours with the background's colour removed where ``alpha`` (``uint8 H x W``)
    is strictly between 0 and 255; other pixels are returned unchanged.

    The local colours are estimated on a grid of about a quarter megapixel (pixels pooled ``s x s``) since
    they vary slowly; the equation is solved at full resolution for the edge pixels only.
    """
    soft = (alpha > 0) & (alpha < 255)
    if not soft.any():
        return rgb.copy()
    h, w = alpha.shape
    ys, xs = np.nonzero(soft)
    s = max(1, int(np.sqrt((np.ptp(ys) + 1) * (np.ptp(xs) + 1) / 2.5e5)))
    m = (4 * RADIUS + 1) * s  # context for the local colours (the pyramid looks further inside it)
    y0, x0 = max(0, ys.min() - m), max(0, xs.min() - m)
    y1, x1 = min(h, ys.max() + m + 1), min(w, xs.max() + m + 1)
    pad = ((0, -(y1 - y0) % s), (0, -(x1 - x0) % s))
    planes = np.pad(rgb[y0:y1, x0:x1], (*pad, (0, 0)), mode="edge").transpose(2, 0, 1).astype(np.float32)
    a = np.pad(alpha[y0:y1, x0:x1], pad, mode="edge")[None]
    r = max(1, round(RADIUS / s))
    by, bx = ys - y0, xs - x0
    pixel = rgb[ys, xs].astype(np.float32)
    pa = (alpha[ys, xs].astype(np.float32) / 255.0)[:, None]
    background, foreground = (
        _nearby_colour(block_mean(planes * wt, s), block_mean(wt, s), r, by // s, bx // s)
        for wt in ((a == 0).astype(np.float32), (a == 255).astype(np.float32)))
    background = np.where(np.isnan(background), pixel, background)  # no background anywhere: keep
    foreground = np.where(np.isnan(foreground), pixel, foreground)
    solved = np.clip((pixel - (1 - pa) * background) / np.maximum(pa, 1e-3), 0, 255)
    trust = np.clip(pa / STABLE_ALPHA, 0, 1)
    out = rgb.copy()
    out[ys, xs] = np.clip(trust * solved + (1 - trust) * foreground + 0.5, 0, 255).astype(np.uint8)
    return out
