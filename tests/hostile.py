"""Hostile inputs the tests share: a checkpoint whose pickle would run a shell command (what the
loaders must refuse, unrun), an EPS file (Ghostscript must never see it), a TIFF with a bad tag."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n"


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # noqa: ANN204 - pickle's protocol
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoint(folder: Path, legacy: bool = False) -> tuple[Path, Path]:
    """Write ``evil.pt`` (a tensor beside an ``os.system`` call) into ``folder``; returns it and the
    marker file that exists only if the call ever ran."""
    import torch

    marker, path = folder / "pwned", folder / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": _RunsACommand(marker)}, path, _use_new_zipfile_serialization=not legacy)
    return path, marker


def tiff_with_samples(samples: int) -> bytes:
    """A small RGB TIFF whose SamplesPerPixel tag says ``samples`` (Pillow logs an error above 6)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(out, "TIFF")
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry:entry + 2])[0] == 277:
            data[entry + 2:entry + 12] = struct.pack("<HII", 4, 1, samples)
    return bytes(data)
