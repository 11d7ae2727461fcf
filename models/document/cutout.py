"""Writing masks and cutouts, atomically, in the format their file name's extension says.

Both are written losslessly: PNG, TIFF (deflate) and lossless WebP hold alpha, so they take
cutouts and masks; BMP holds grey but no alpha, so it takes masks only. JPEG is refused for both:
it cannot hold transparency, and its lossy coding would blur a mask's edge.
"""

from __future__ import annotations

import os
import stat
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


# extension -> (Pillow format, save options, holds alpha)
_FORMATS: dict[str, tuple[str, dict, bool]] = {
    ".png": ("PNG", {}, True),
    ".tif": ("TIFF", {"compression": "tiff_adobe_deflate"}, True),
    ".tiff": ("TIFF", {"compression": "tiff_adobe_deflate"}, True),
    ".webp": ("WEBP", {"lossless": True, "exact": True, "quality": 100}, True),
    ".bmp": ("BMP", {}, False),
}
_LOSSY = (".jpg", ".jpeg", ".jpe", ".jfif")


def output_extensions(cutout: bool) -> tuple[str, ...]:
    """The extensions a cutout (``cutout``) or a mask can be written as, PNG first."""
    return tuple(ext for ext, (_f, _o, alpha) in _FORMATS.items() if alpha or not cutout)


def output_format(path: Path | str, cutout: bool) -> tuple[str, dict]:
    """Pillow's format name and save options for ``path``'s extension; ``ValueError`` saying which
    extensions work when it cannot hold a cutout (alpha) or a mask (losslessly)."""
    ext = Path(path).suffix.lower()
    allowed = ", ".join(output_extensions(cutout))
    kind = "a cutout" if cutout else "a mask"
    if ext in _LOSSY:
        why = "cannot hold transparency" if cutout else "is lossy and would blur the mask's edge"
        raise ValueError(f"{path}: JPEG {why}; save {kind} as {allowed}")
    if ext not in _FORMATS or (cutout and not _FORMATS[ext][2]):
        shown = ext or "no extension"
        raise ValueError(f"{path}: samcut cannot write {kind} as {shown}; give a name ending in {allowed}")
    name, options, _alpha = _FORMATS[ext]
    return name, options


def check_replaceable(path: Path | str) -> None:
    """``PermissionError`` ("X is read-only") when ``path`` is a file that is read-only (no write
    permission for anyone, or none for this user): the atomic write renames over a file whatever
    its permissions, so without this a file the user protected would be replaced without a word."""
    try:
        info = os.stat(path)
    except OSError:
        return  # nothing there (or the write will say why)
    if stat.S_ISREG(info.st_mode) and (not info.st_mode & 0o222 or not os.access(path, os.W_OK)):
        raise PermissionError(f"{path} is read-only: samcut does not replace it (give another name, or make it "
                              f"writable)")


def _save(path: Path | str, array: np.ndarray, cutout: bool) -> Path:
    """``H x W`` uint8 saves as grey (L), ``H x W x 4`` as RGBA, in the extension's format; a
    read-only file at ``path`` is refused (``check_replaceable``)."""
    name, options = output_format(path, cutout)
    check_replaceable(path)
    image = Image.fromarray(np.ascontiguousarray(array))
    return atomic_write(path, lambda fh: image.save(fh, format=name, **options))


def save_mask(path: Path | str, mask: np.ndarray) -> Path:
    """8-bit grey, 255 selected, 0 not (soft values kept)."""
    return _save(path, mask_to_alpha(mask), cutout=False)


def save_cutout(path: Path | str, rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray | None = None,
                decontaminate: bool = False) -> Path:
    """RGBA cutout: the image with the selection as alpha."""
    return _save(path, cutout_rgba(rgb, mask, alpha, decontaminate), cutout=True)
