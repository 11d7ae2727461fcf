"""The memory budget: how many bytes editing an image will take at its peak, checked before decoding.

A pixel limit alone says nothing about the machine: a 200 MP RGBA photo takes about twice the
memory of a 200 MP grey scan. So the gate is stated in bytes. ``estimated_peak_bytes`` is a
fixed part (Python, numpy, ONNX Runtime, the model, the encoder's activations) plus bytes per pixel
that depend on how the file decodes, plus bytes per pixel of height + width (what follows a side,
not the area: nothing on a photo, most of the cost of a 1 x 16000000 strip); the figures are
measured by ``bench/memory.py`` (peak resident memory of ``samcut segment`` on 1 MP and 100 MP
images of each mode, and on strips) and rounded up.
The budget is ``$SAMCUT_MAX_MEMORY`` (bytes, or with a K/M/G suffix) or, by default, half of
this machine's physical memory.
"""

from __future__ import annotations

import os

from samcut.models.io import platform

MAX_MEMORY_ENV = "SAMCUT_MAX_MEMORY"
FIXED_BYTES = 440 << 20
"""What ``samcut segment`` peaks at on a 1 MP image, rounded up: 290-300 MiB in fp32, 380 MiB where
``auto`` precision runs bf16 through OpenVINO (bench/memory.py)."""
SIDE_BYTES = 24
"""Peak bytes per pixel of height + width, measured 8 (wide) to 17 (tall) on 1 x 16000000 strips:
Pillow's row pointers for each image it holds (8 bytes per row), its resize coefficients (16 bytes
per pixel of a side it shrinks), the upsampling taps (13 bytes) and edge refinement's lookups."""

# Marginal bytes per pixel by the file's Pillow mode, measured at 100 MP by bench/memory.py and
# rounded up (grey 4.1, RGB 4.9, RGBA 8.2). Grey decodes as 1 byte per pixel in Pillow and is
# spread to RGB in numpy; RGB is held by Pillow as 4 bytes per pixel while it is copied out; alpha
# adds its own plane and the white composite the encoder sees.
_BYTES_PER_PIXEL = {"L": 4.5, "1": 4.5, "RGB": 5.5, "RGBA": 9.0, "LA": 9.0, "PA": 9.0}
_WIDE_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_DEFAULT_BYTES_PER_PIXEL = 9.0  # palette (may hold transparency), CMYK, LAB...: the RGBA figure


def bytes_per_pixel(mode: str) -> float:
    """Peak bytes per pixel of editing an image whose file decodes in Pillow ``mode``."""
    if mode in _WIDE_GREY:
        return 4.5 + (4.0 if mode in ("I", "F") else 2.0)  # the wide samples are held beside the 8-bit copy
    return _BYTES_PER_PIXEL.get(mode, _DEFAULT_BYTES_PER_PIXEL)


def estimated_peak_bytes(pixels: int, mode: str, size: tuple[int, int] | None = None) -> int:
    """Peak resident bytes expected while segmenting an image of ``pixels`` pixels in ``mode``;
    with its ``size`` ``(H, W)``, the cost per pixel of its sides too (what thin strips add)."""
    sides = 0 if size is None else int(size[0]) + int(size[1])
    return FIXED_BYTES + int(pixels * bytes_per_pixel(mode)) + SIDE_BYTES * sides


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where it cannot be asked (each OS's way
    of asking: ``samcut.models.io.platform.physical_memory``)."""
    return platform.physical_memory()


def parse_bytes(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"800K"`` or a plain byte count -> bytes (``ValueError`` otherwise)."""
    raw = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(raw[-1:], 1)
    number = raw[:-1] if scale > 1 else raw
    value = float(number)
    if not value > 0 or value != value:
        raise ValueError(f"{text!r} is not a positive size")
    return int(value * scale)


def memory_budget() -> tuple[int, str]:
    """The budget in bytes and where it comes from (for messages)."""
    raw = os.environ.get(MAX_MEMORY_ENV, "").strip()
    if raw:
        try:
            return parse_bytes(raw), MAX_MEMORY_ENV
        except ValueError:
            raise ValueError(f"{MAX_MEMORY_ENV}={raw!r} is not a size "
                             "(give bytes, or a number with K, M or G)") from None
    total = physical_memory()
    if total is None:
        return 4 << 30, "the default of 4 GB"
    return total // 2, "half of this machine's memory"


def format_bytes(count: float) -> str:
    """``1536 MiB`` -> ``"1.5 GB"``; below a gigabyte in MB."""
    return f"{count / 2**30:.1f} GB" if count >= 2**30 else f"{count / 2**20:.0f} MB"
