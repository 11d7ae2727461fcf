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


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """A colour minus its grey: the direction of its hue, its length how colourful it is."""
    rgb = np.asarray(rgb, np.float64)
    return rgb - rgb.mean(axis=-1, keepdims=True)


def contrasting_tint(under: np.ndarray, current: tuple[int, int, int] = PROPOSAL_TINT,
                     clash_limit: float = 6.0) -> tuple[int, int, int]:
    """The proposal colour that stands out from the pixels ``under`` it (``uint8 N x 3``).

    Hue decides, not brightness (a translucent blue over navy is still blue on blue). A colour's
    *clash* with the pixels is the mean, over them, of their chroma (their colour minus its grey,
    0-255) times the squared cosine of the hue angle between them, where it is positive: only
    near hues clash. The ``current`` colour
    is kept while its clash stays under ``clash_limit`` or no other clashes a quarter less; so
    grey images keep the usual blue and nothing flickers from stroke to stroke.
    """
    if under.size == 0:
        return current
    chroma = _chroma(under.reshape(-1, 3))
    strength = np.linalg.norm(chroma, axis=1)

    def clash(tint: tuple[int, int, int]) -> float:
        direction = _chroma(np.asarray(tint))
        cosine = chroma @ (direction / np.linalg.norm(direction)) / np.maximum(strength, 1e-9)
        return float((strength * np.maximum(cosine, 0) ** 2).mean())  # squared: only near hues clash

    clashes = {tint: clash(tint) for tint in {*PROPOSAL_TINTS, current}}
    best = min(PROPOSAL_TINTS, key=clashes.__getitem__)
    if clashes[current] < clash_limit or clashes[best] > 0.75 * clashes[current]:
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
