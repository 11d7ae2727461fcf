"""Writing masks and cutouts as PNG files, atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from samcut.models.document.decontaminate import decontaminate as remove_background_colour
from samcut.models.io.atomic import atomic_write


def mask_to_alpha(mask: np.ndarray) -> np.ndarray:
    """bool or ``uint8`` ``H x W`` mask -> ``uint8`` alpha (bool True -> 255)."""
    if mask.dtype == bool:
        return mask.astype(np.uint8) * 255
    return np.asarray(mask, np.uint8)


def cutout_rgba(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray | None = None,
                decontaminate: bool = False) -> np.ndarray:
    """``uint8 H x W x 4``: the image with the selection (times any original alpha) as alpha; with
    ``decontaminate``, the background's colour is taken out of the semi-transparent edge."""
    sel = mask_to_alpha(mask)
    if alpha is not None:
        sel = ((sel.astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    if decontaminate:
        rgb = remove_background_colour(rgb, sel)
    return np.dstack([rgb, sel])


def _save_png(path: Path | str, array: np.ndarray) -> Path:
    """``H x W`` uint8 saves as grey (L), ``H x W x 4`` as RGBA."""
    image = Image.fromarray(np.ascontiguousarray(array))
    return atomic_write(path, lambda fh: image.save(fh, format="PNG"))


def save_mask(path: Path | str, mask: np.ndarray) -> Path:
    """8-bit grey PNG, 255 selected, 0 not (soft values kept)."""
    return _save_png(path, mask_to_alpha(mask))


def save_cutout(path: Path | str, rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray | None = None,
                decontaminate: bool = False) -> Path:
    """RGBA PNG of the cutout."""
    return _save_png(path, cutout_rgba(rgb, mask, alpha, decontaminate))
