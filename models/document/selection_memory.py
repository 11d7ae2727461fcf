"""The last selection of each recently edited image, kept so that reopening the image can bring
it back (Select > Reselect, as Ctrl+Shift+D in Photoshop).

Selections are grey PNGs under ``<cache>/selections/``, named by a hash of the image's resolved
path, size and modification time (an edited file is another image); the newest ``MAX_KEPT`` stay.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from samcut.models.io.atomic import atomic_write
from samcut.models.io.platform import make_private_folder

MAX_KEPT = 30


class SelectionMemory:
    """Remembers and recalls ``uint8 H x W`` selections per image file in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _entry(self, image_path: Path) -> Path | None:
        try:
            info = Path(image_path).stat()
            name = f"{Path(image_path).resolve()}\0{info.st_size}\0{info.st_mtime_ns}"
        except OSError:
            return None
        return self.folder / f"{hashlib.blake2b(name.encode(), digest_size=16).hexdigest()}.png"

    def remember(self, image_path: Path, selection: np.ndarray) -> None:
        """Keep ``selection`` for ``image_path`` (an empty selection forgets it). Never raises."""
        entry = self._entry(image_path)
        if entry is None:
            return
        try:
            if not selection.any():
                entry.unlink(missing_ok=True)
                return
            make_private_folder(self.folder)
            atomic_write(entry, lambda fh: Image.fromarray(np.asarray(selection, np.uint8), "L").save(fh, "PNG"))
            kept = sorted(self.folder.glob("*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[MAX_KEPT:]:
                old.unlink(missing_ok=True)
        except OSError:
            pass  # only a convenience

    def recall(self, image_path: Path, size: tuple[int, int]) -> np.ndarray | None:
        """The selection last kept for ``image_path`` if it fits ``size`` ``(H, W)``; a damaged entry
        is deleted."""
        entry = self._entry(image_path)
        if entry is None or not entry.is_file():
            return None
        try:
            with Image.open(entry, formats=["PNG"]) as im:  # our own cache files: PNG only
                if im.mode != "L" or im.size != (size[1], size[0]):
                    raise ValueError("does not fit")
                return np.asarray(im).copy()
        except Exception:  # noqa: BLE001 - a cache entry is never trusted
            with contextlib.suppress(OSError):
                entry.unlink()
            return None
