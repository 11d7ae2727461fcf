"""How the selection and the proposal are shown: six view modes, cycled with F (as in Photoshop's
Select and Mask), built from masks already sampled at screen resolution.

Every function here takes the *sampled* masks of the visible rectangle (one value per screen
pixel: ``selection`` ``uint8 h x w`` 0-255, ``proposal`` bool ``h x w``, either may be None) and
returns one ``uint8 h x w x 4`` RGBA image drawn over the photo. Switching mode therefore never
decodes, upsamples or touches a mask: it re-colours what is on screen.
"""

from __future__ import annotations

import numpy as np

from samcut.gui.overlay import SELECTION_TINT, tint_rgba
from samcut.models.document.selection import edges

VIEW_MODES: tuple[tuple[str, str], ...] = (
    ("overlay", "&Overlay"),
    ("ants", "Marching &Ants"),
    ("black", "On &Black"),
    ("white", "On &White"),
    ("checker", "On &Checkerboard"),
    ("mask", "&Mask (Greyscale)"),
)
VIEW_NAMES = tuple(name for name, _ in VIEW_MODES)
CHECKER_CELL = 8  # screen pixels per checkerboard square


def next_view(current: str, step: int = 1) -> str:
    """The view mode after ``current`` in the cycle (F), or before it with ``step=-1``."""
    index = VIEW_NAMES.index(current) if current in VIEW_NAMES else 0
    return VIEW_NAMES[(index + step) % len(VIEW_NAMES)]


def _combined(selection: np.ndarray | None, proposal: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """``uint8 h x w`` coverage of what would be kept: the selection, with the proposal added."""
    kept = np.zeros(shape, np.uint8) if selection is None else np.asarray(selection, np.uint8)
    if proposal is not None:
        kept = np.maximum(kept, proposal.astype(np.uint8) * 255)
    return kept


def _background(mode: str, shape: tuple[int, int], origin: tuple[int, int]) -> np.ndarray:
    """``uint8 h x w x 3`` backdrop: black, white, or a grey checkerboard fixed to the screen
    (``origin``: the overlay's top-left in widget pixels, so the squares do not swim when panning)."""
    if mode == "black":
        return np.zeros((*shape, 3), np.uint8)
    if mode == "white":
        return np.full((*shape, 3), 255, np.uint8)
    yy = (np.arange(shape[0]) + origin[1]) // CHECKER_CELL
    xx = (np.arange(shape[1]) + origin[0]) // CHECKER_CELL
    light = ((yy[:, None] + xx[None, :]) % 2 == 0)
    return np.repeat(np.where(light, 204, 153).astype(np.uint8)[..., None], 3, axis=2)


def _outline(out: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], dashed: bool) -> None:
    """Draw ``mask``'s inner edge into ``out`` (RGBA), opaque; dashed black/white like ants."""
    line = edges(mask)
    yy, xx = np.nonzero(line)
    if dashed:
        dark = ((yy + xx) // 4) % 2 == 0
        out[yy[dark], xx[dark]] = (0, 0, 0, 255)
        out[yy[~dark], xx[~dark]] = (255, 255, 255, 255)
    else:
        out[yy, xx] = (*colour, 255)


def compose(mode: str, selection: np.ndarray | None, proposal: np.ndarray | None,
            proposal_tint: tuple[int, int, int], shape: tuple[int, int],
            origin: tuple[int, int] = (0, 0)) -> np.ndarray | None:
    """The RGBA image for view ``mode`` (any but "overlay", which the canvas draws as two cached
    layers); None when it would show nothing."""
    if mode == "ants":
        if (selection is None or not selection.any()) and (proposal is None or not proposal.any()):
            return None
        out = np.zeros((*shape, 4), np.uint8)
        if selection is not None:
            _outline(out, selection >= 128, SELECTION_TINT, dashed=True)
        if proposal is not None:
            _outline(out, proposal, proposal_tint, dashed=False)
        return out
    if mode == "mask":  # the selection white on black; a proposal not applied yet, light grey
        out = np.empty((*shape, 4), np.uint8)
        grey = _combined(selection, None, shape)
        if proposal is not None:
            grey = np.where(proposal, np.maximum(grey, 160), grey).astype(np.uint8)
        out[..., :3] = grey[..., None]
        out[..., 3] = 255
        if proposal is not None:
            _outline(out, proposal, proposal_tint, dashed=False)
        return out
    kept = _combined(selection, proposal, shape)
    out = np.empty((*shape, 4), np.uint8)
    out[..., :3] = _background(mode, shape, origin)
    out[..., 3] = 255 - kept  # the photo shows through where it is kept (soft edges blend)
    if proposal is not None:
        _outline(out, proposal, proposal_tint, dashed=False)
    return out


def overlay_selection(selection: np.ndarray) -> np.ndarray:
    """The overlay mode's selection layer: tinted, with marching-ant edges."""
    return tint_rgba(selection, SELECTION_TINT, 90, outline=True, dashed=True)
