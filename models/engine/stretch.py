"""SAM 2.1's encoder input: the photo stretched to 1024 x 1024, exactly as ``SAM2ImagePredictor`` makes it.

The official chain is ``x / 255`` in float32, ``F.interpolate(x, (1024, 1024), mode="bilinear",
align_corners=False, antialias=True)`` (aspect ratio not kept, no padding, skipped when the photo is
already 1024 x 1024), then ``(x - mean) / std`` with ImageNet's 0-1 constants. Torch's antialiased
bilinear (``_upsample_bilinear2d_aa``, CPU) is separable: first the width (each row), then the height
(each column of that result). Per axis, output ``o`` is a triangle filter centred on
``scale * (o + 0.5)`` whose support widens by the shrink factor ``scale = size / 1024`` (1 when
enlarging, where it is plain half-pixel bilinear with edge clamp), its weights normalised per output.

``axis_taps`` reproduces torch's weights bit for bit (same float32 / float64 steps) and keeps them
sparse: a first input index, a tap count and ``width`` weights per output (1024 rows whatever the
photo: 2.4 MB for a 300000-pixel side). ``stretched_input`` applies them tap by tap in torch's own
order of rounding (see ``_PLAIN_BLOCK``): the result equals torch 2.13's on x86-64 (AVX-512 build) bit for
bit, and the official goldens' SHA-256s; a torch build that rounds otherwise differs by an ulp or two
(< 1e-6). It is plain numpy float32 / float64 arithmetic, so the same bytes on every machine.

Memory stays bounded whatever the shape: the photo is converted to float32 and resized across its
width a band of input rows at a time, the rows of that result still needed are kept in a rolling
buffer for the height pass, and the output is made in bands of rows. Peak allocation (tracemalloc,
the 12.6 MB result included, the photo not; sizes H x W): 22 MB for 2 x 300000, 33 MB for
100000 x 200, 42 MB for 6000 x 8000, 35 MB for 20000 x 20000.

Speed (this shared, busy 2-core machine, numpy 2.4, best of 3): 400 x 600 0.05 s, 3000 x 4000 either
way round 0.26-0.36 s (torch's own F.interpolate: 0.4-0.5 s), 100000 x 200 3 s, 20000 x 20000 7 s. Torch's order (width
first) is kept for exactness, so tall narrow photos pay for widening every row, as in torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from samcut.models.engine.preprocess import IMAGE_SIZE

PIXEL_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
PIXEL_STD = np.array([0.229, 0.224, 0.225], np.float32)

BAND_VALUES = 1 << 21  # float32 values of one band of converted input rows / of width-resized rows (8 MB)
OUT_ROWS = 128  # output rows made at a time
_WEIGHT_VALUES = 1 << 20  # output x tap values computed at a time while making an axis's weights

_PLAIN_BLOCK = 4
"""Torch's CPU kernel sums one output's ``n`` taps in order, but not with one kind of rounding: the
first product is rounded, then the taps ``1 .. 4 * ((n - 1) // 4)`` are added as rounded products
(GCC vectorises that part of the loop, four taps at a time), and the last ``(n - 1) % 4`` taps with
fused multiply-adds (the scalar remainder, contracted to FMA in the AVX2 / AVX-512 builds). Found by
testing every plain/fused pattern against torch 2.13 (x86-64, AVX-512) for 2 to 14 taps, and checked on
whole images up to 587 taps: bit-identical there, across the width and the height alike. Enlarging
has at most 3 taps, so it is fused throughout."""


def _f32(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(x, np.float32)


@dataclass(frozen=True)
class AxisTaps:
    """One axis's ``size -> 1024`` weights, sparse: output ``o`` is
    ``sum(weights[o, k] * input[first[o] + k] for k < count[o])``; ``weights[o, k]`` is 0 for ``k >= count[o]``.

    ``first``, ``count``: int64 ``(1024,)``; ``weights``: float32 ``1024 x width``, ``width`` the
    most taps any output can have (``2 * ceil(scale) + 1``, 3 when enlarging).
    """

    size: int
    first: np.ndarray
    count: np.ndarray
    weights: np.ndarray

    @property
    def end(self) -> np.ndarray:
        """One past the last input index of each output (non-decreasing)."""
        return self.first + self.count

    @cached_property
    def plain(self) -> np.ndarray:
        """float32 ``1024 x p``: the weights of the taps summed as rounded products (tap 0 and the blocks of
        four, ``_PLAIN_BLOCK``), 0 for the others; ``p`` the most such taps of any output."""
        last = _PLAIN_BLOCK * ((self.count - 1) // _PLAIN_BLOCK)
        k = np.arange(self.weights.shape[1])
        return np.ascontiguousarray(np.where(k <= last[:, None], self.weights, np.float32(0))[:, :int(last.max()) + 1])

    @cached_property
    def fused(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The taps after them, one fused multiply-add each, as steps ``(tap, weight)``: int64 ``(1024,)``
        tap of every output and its float64 weight (0 where the output has no such tap)."""
        last = _PLAIN_BLOCK * ((self.count - 1) // _PLAIN_BLOCK)
        steps = []
        for j in range(1, _PLAIN_BLOCK):
            tap = last + j
            has = tap < self.count
            if has.any():
                tap = np.where(has, tap, 0)
                w = np.where(has, self.weights[np.arange(len(tap)), tap], np.float32(0)).astype(np.float64)
                steps.append((tap, w))
        return steps

    @cached_property
    def interleaved(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """``plain`` transposed with each output's weight repeated for its 3 channel values (float32
        ``p x 3072``), and the fused steps' weights the same way (float64 ``(3072,)`` each)."""
        return (np.ascontiguousarray(np.repeat(self.plain.T, 3, axis=1)),
                [np.repeat(w, 3) for _, w in self.fused])

    def index(self, tap: int | np.ndarray, outputs: slice = slice(None)) -> np.ndarray:
        """Input index of ``tap`` (a number or one per output) of ``outputs``, clamped into the axis
        (where it is clamped the weight is 0)."""
        return np.minimum(self.first[outputs] + tap, self.size - 1)


@lru_cache(maxsize=4)
def axis_taps(size: int) -> AxisTaps:
    """Torch's antialiased bilinear weights for ``size -> 1024`` (``HelperInterpLinear`` with
    ``antialias=True``, float32 input), computed with the same float32 / float64 steps."""
    if size <= 0:
        raise ValueError(f"axis size must be positive, got {size}")
    scale = np.float32(size) / np.float32(IMAGE_SIZE)  # area_pixel_compute_scale<float>
    support = scale if scale >= 1.0 else np.float32(1.0)  # (interp_size / 2) * scale, or 1 when enlarging
    width = int(np.ceil(support)) * 2 + 1
    invscale = np.float32(1.0 / np.float64(scale)) if scale >= 1.0 else np.float32(1.0)
    first = np.empty(IMAGE_SIZE, np.int64)
    count = np.empty(IMAGE_SIZE, np.int64)
    weights = np.zeros((IMAGE_SIZE, width), np.float32)
    taps = np.arange(width)
    chunk = max(1, _WEIGHT_VALUES // width)
    for o0 in range(0, IMAGE_SIZE, chunk):
        o = np.arange(o0, min(IMAGE_SIZE, o0 + chunk))
        center = _f32(np.float64(scale) * (o + 0.5))  # float * double, stored as float
        # int64(float(center -/+ support) + 0.5): the float difference, then a double sum, truncated
        lo = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
        hi = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), size)
        n = np.clip(hi - lo, 0, width)
        # filter((float(j + xmin) - center + 0.5) * invscale), the argument rounded to float
        pos = (lo[:, None] + taps).astype(np.float32)
        arg = _f32(((pos - center[:, None]).astype(np.float64) + 0.5) * np.float64(invscale))
        x = np.abs(arg)
        w = np.where((x < 1.0) & (taps < n[:, None]), np.float32(1.0) - x, np.float32(0.0)).astype(np.float32)
        total = np.zeros(o.size, np.float32)
        for k in range(width):  # summed in order, in float32
            total += w[:, k]
        safe = np.where(total != 0, total, np.float32(1.0))
        w /= safe[:, None]
        first[o], count[o], weights[o] = lo, n, w
    for a in (first, count, weights):
        a.flags.writeable = False
    return AxisTaps(size, first, count, weights)


def _fma_into(acc: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
    """``acc = fma(values, weights, acc)`` in float32: the float32 product is exact in float64, so one
    float64 sum rounded to float32 is the fused result (bar double rounding, which these non-negative
    sums of comparable terms practically never meet)."""
    wide = values.astype(np.float64)
    wide *= weights
    wide += acc
    np.copyto(acc, wide, casting="same_kind")


def _across_width(rows: np.ndarray, taps: AxisTaps | None) -> np.ndarray:
    """``uint8 r x W x 3`` -> float32 ``r x 3072``: ``/ 255``, then each row resized to 1024 (channels
    interleaved, as the photo's), tap by tap over all outputs at once."""
    unit = rows.astype(np.float32)
    unit /= np.float32(255)
    if taps is None:
        return unit.reshape(len(rows), -1)

    def gather(tap: int | np.ndarray) -> np.ndarray:
        return np.take(unit, taps.index(tap), axis=1).reshape(len(rows), -1)

    plain, fused = taps.interleaved
    acc = gather(0)
    acc *= plain[0]
    for k in range(1, len(plain)):
        values = gather(k)
        values *= plain[k]
        acc += values
    for (tap, _), w in zip(taps.fused, fused, strict=True):
        _fma_into(acc, gather(tap), w)
    return acc


def _across_height(band: np.ndarray, taps: AxisTaps, outputs: slice, offset: int) -> np.ndarray:
    """Output rows ``outputs`` of the height pass, from ``band`` = width-resized input rows
    ``offset ..`` (float32 ``r x 3072``): the plain taps of all these outputs gathered and weighted at
    once, summed in order, then the fused taps."""
    n, p = outputs.stop - outputs.start, taps.plain.shape[1]
    rows = np.minimum(taps.first[outputs, None] - offset + np.arange(p), len(band) - 1)
    products = np.take(band, rows.ravel(), axis=0).reshape(n, p, -1)
    products *= taps.plain[outputs, :, None]
    acc = products[:, 0].copy()
    for k in range(1, p):  # in order, as torch
        acc += products[:, k]
    for tap, w in taps.fused:
        if w[outputs].any():
            values = np.take(band, np.minimum(taps.index(tap[outputs], outputs) - offset, len(band) - 1), axis=0)
            _fma_into(acc, values, w[outputs, None])
    return acc


def _output_bands(taps: AxisTaps | None, row_values: int) -> Iterator[slice]:
    """Bands of output rows, each needing at most ``BAND_VALUES`` values of width-resized rows and of
    gathered products (or one output row, whatever it needs), and at most ``OUT_ROWS`` rows."""
    if taps is None:
        for r0 in range(0, IMAGE_SIZE, OUT_ROWS):
            yield slice(r0, min(IMAGE_SIZE, r0 + OUT_ROWS))
        return
    rows = max(1, BAND_VALUES // row_values)  # width-resized rows kept
    outputs = max(1, min(OUT_ROWS, BAND_VALUES // (taps.plain.shape[1] * row_values)))  # products gathered
    end = taps.end
    r0 = 0
    while r0 < IMAGE_SIZE:
        r1 = int(np.searchsorted(end, taps.first[r0] + rows, side="right"))
        r1 = min(max(r1, r0 + 1), r0 + outputs, IMAGE_SIZE)
        yield slice(r0, r1)
        r0 = r1


def stretched_input(image: np.ndarray) -> np.ndarray:
    """``uint8 H x W x 3`` RGB -> float32 ``1 x 3 x 1024 x 1024``, SAM 2.1's encoder input.

    ``x / 255``, stretched to 1024 x 1024 with torch's antialiased bilinear (aspect ratio not kept, no
    padding; no resize when already 1024 x 1024), then ``(x - mean) / std``. See the module docstring
    for exactness, memory and speed.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 RGB image, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    tx = axis_taps(width) if width != IMAGE_SIZE else None
    ty = axis_taps(height) if height != IMAGE_SIZE else None
    out = np.empty((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    row_values = 3 * IMAGE_SIZE  # values of one width-resized row
    chunk = max(1, BAND_VALUES // (3 * max(width, IMAGE_SIZE)))  # input rows converted at a time
    kept, kept_from = np.empty((0, row_values), np.float32), 0  # width-resized rows kept_from ..
    for rows in _output_bands(ty, row_values):
        lo = int(ty.first[rows.start]) if ty is not None else rows.start
        hi = int(ty.end[rows.stop - 1]) if ty is not None else rows.stop
        have = kept_from + len(kept)
        parts = [kept[max(0, lo - kept_from):]] if have > lo else []
        for r in range(max(lo, have), hi, chunk):
            parts.append(_across_width(image[r:min(hi, r + chunk)], tx))
        kept = parts[0] if len(parts) == 1 else np.concatenate(parts)
        kept_from = lo
        band = kept if ty is None else _across_height(kept, ty, rows, lo)
        out[0, :, rows, :] = band.reshape(-1, IMAGE_SIZE, 3).transpose(2, 0, 1)
    for c in range(3):
        out[0, c] -= PIXEL_MEAN[c]
        out[0, c] /= PIXEL_STD[c]
    return out
