"""Overlays drawn at screen resolution: only the visible part of the image is ever sampled.

``sample_grid`` picks the original-image rows and columns under each screen pixel of the
visible rectangle, so the cost of an overlay follows the window, not the photo.
"""

from __future__ import annotations

import numpy as np

from samcut.models.document.selection import edges

SELECTION_TINT = (255, 80, 40)
PROPOSAL_TINT = (40, 140, 255)


def sample_grid(start: float, stop: float, scale: float, limit: int) -> np.ndarray:
    """Integer source indices in ``[start, stop)`` sampled once per screen pixel (``scale`` = zoom)."""
    lo, hi = max(0, int(np.floor(start))), min(limit, int(np.ceil(stop)))
    if hi <= lo:
        return np.zeros(0, np.int64)
    count = max(1, min(hi - lo, int(np.ceil((hi - lo) * scale))))
    return np.minimum(lo + ((np.arange(count) + 0.5) * (hi - lo) / count).astype(np.int64), hi - 1)


def tint_rgba(mask: np.ndarray, colour: tuple[int, int, int], fill_alpha: int, outline: bool,
              dashed: bool = False) -> np.ndarray:
    """``uint8 h x w x 4`` overlay: ``mask`` (bool, or uint8 0-255 for soft) tinted, edges opaque."""
    soft = mask.astype(np.float32) / 255.0 if mask.dtype == np.uint8 else mask.astype(np.float32)
    out = np.zeros((*mask.shape, 4), np.uint8)
    out[..., :3] = colour
    out[..., 3] = (soft * fill_alpha).astype(np.uint8)
    if outline:
        line = edges(soft >= 0.5)
        if dashed:
            yy, xx = np.nonzero(line)
            dark = ((yy + xx) // 4) % 2 == 0
            out[yy[dark], xx[dark], :3] = 0
            out[yy[~dark], xx[~dark], :3] = 255
        out[line, 3] = 255
    return out
