"""Overlays drawn at screen resolution: only the visible part of the image is ever sampled.

``sample_grid`` picks the original-image rows and columns under each screen pixel of the
visible rectangle, so the cost of an overlay follows the window, not the photo.
"""

from __future__ import annotations

import sys

import numpy as np

from samcut.models.document.selection import edges

SELECTION_TINT = (255, 80, 40)
PROPOSAL_TINT = (40, 140, 255)
# Proposal colours to choose from, each far from the selection's orange-red: blue, magenta, lime.
PROPOSAL_TINTS = ((40, 140, 255), (240, 50, 220), (60, 230, 60))


def contrasting_tint(under: np.ndarray, current: tuple[int, int, int] = PROPOSAL_TINT,
                     keep_margin: float = 1.25) -> tuple[int, int, int]:
    """The proposal colour that stands out most from the pixels ``under`` it (``uint8 N x 3``):
    the one farthest from their mean colour. The ``current`` one is kept unless another is
    ``keep_margin`` times farther, so the colour does not flicker from stroke to stroke."""
    if under.size == 0:
        return current
    mean = under.reshape(-1, 3).mean(axis=0)
    distance = {tint: float(np.linalg.norm(mean - np.asarray(tint, np.float64))) for tint in PROPOSAL_TINTS}
    best = max(distance, key=distance.__getitem__)
    if current in distance and distance[best] < keep_margin * distance[current]:
        return current
    return best


def sample_grid(start: float, stop: float, scale: float, limit: int) -> np.ndarray:
    """Integer source indices in ``[start, stop)`` sampled once per screen pixel (``scale`` = zoom)."""
    lo, hi = max(0, int(np.floor(start))), min(limit, int(np.ceil(stop)))
    if hi <= lo:
        return np.zeros(0, np.int64)
    count = max(1, min(hi - lo, int(np.ceil((hi - lo) * scale))))
    return np.minimum(lo + ((np.arange(count) + 0.5) * (hi - lo) / count).astype(np.int64), hi - 1)


def tint_rgba(mask: np.ndarray, colour: tuple[int, int, int], fill_alpha: int, outline: bool,
              dashed: bool = False) -> np.ndarray:
    """``uint8 h x w x 4`` overlay: ``mask`` (bool, or uint8 0-255 for soft) tinted, edges opaque.

    Built as one ``uint32`` per pixel (R, G, B, A bytes in memory order): contiguous word writes
    instead of four interleaved byte planes, several times faster on a screen-sized overlay.
    """
    def pixel(rgb: tuple[int, int, int], alpha: int) -> np.uint32:
        return np.frombuffer(bytes((*rgb, alpha)), np.uint32)[0]

    if mask.dtype == bool:
        out = np.where(mask, pixel(colour, fill_alpha), pixel(colour, 0))
        inside = mask
    else:
        alpha = mask.astype(np.uint32) * np.uint32(fill_alpha) // np.uint32(255)
        alpha_byte = np.uint32(24 if sys.byteorder == "little" else 0)  # A is the fourth byte in memory
        out = pixel(colour, 0) | (alpha << alpha_byte)
        inside = mask >= 128
    if outline:
        line = edges(inside)
        if dashed:
            yy, xx = np.nonzero(line)
            dark = ((yy + xx) // 4) % 2 == 0
            out[yy[dark], xx[dark]] = pixel((0, 0, 0), 255)
            out[yy[~dark], xx[~dark]] = pixel((255, 255, 255), 255)
        else:
            out[line] = pixel(colour, 255)
    return out.view(np.uint8).reshape(*mask.shape, 4)


def outline_levels(mask: np.ndarray) -> np.ndarray:
    """``uint8 h x w`` colour-table indices of a bool mask: 0 outside, 1 inside, 2 on its inner edge."""
    mask = np.ascontiguousarray(mask, bool)
    return mask.view(np.uint8) + edges(mask).view(np.uint8)


def outline_table(colour: tuple[int, int, int], fill_alpha: int) -> list[int]:
    """The three ``0xAARRGGBB`` colours of ``outline_levels``: clear, tinted fill, opaque edge."""
    rgb = (colour[0] << 16) | (colour[1] << 8) | colour[2]
    return [0, (fill_alpha << 24) | rgb, 0xFF000000 | rgb]
