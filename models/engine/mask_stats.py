"""Full-resolution statistics of low-res masks without upsampling them: how many photo pixels
pass each threshold, the ``> 0`` mask's box, and one pixel's value.

SAM's automatic mask generator measures each candidate on its mask at the photo's size: the
stability score (pixels above ``+offset`` over pixels above ``-offset``), the area and the box
(inclusive pixel coordinates). Upsampling 768 candidates of a 12-megapixel photo would take far
longer than decoding them, so this counts exactly from the upsampling's structure instead.

``postprocess.axis_taps`` gives every photo row (and column) three low-res cells
``start .. start + 2`` with weights that are non-negative and sum to one, so a photo pixel's
logit is a weighted mean of the ``3 x 3`` cells of its row's and column's starts. Photo rows
with the same start form a *run* (about ``photo / 256`` rows), and likewise columns; a run of
rows x a run of columns is a *block*. A block whose 3 x 3 cells are all above a threshold has
every pixel above it, one whose cells are all at or below it has none; only the blocks along a
mask's edge are mixed, and only their pixels are computed, with the same float32 operations in
the same order as ``postprocess.upsample_masks`` (bit for bit the same logits). The work
follows the masks' outlines, not the photo's area.

Frames: ``low`` is ``C x 256 x 256`` in the decoder's low-res frame; rows, columns and boxes
are photo pixels ``(H, W)``; boxes are ``(x0, y0, x1, y1)`` with inclusive ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from samcut.models.engine.postprocess import TAPS, TILE_VALUES, axis_taps
from samcut.models.engine.preprocess import LOW_RES
from samcut.models.engine.types import InputFrame, input_frame


@dataclass(frozen=True)
class MaskStats:
    """Per candidate (``C``): ``above`` int64 ``C x T`` photo pixels with logit above each of the
    thresholds asked for; ``boxes`` int64 ``C x 4`` inclusive ``(x0, y0, x1, y1)`` of the
    ``> 0`` mask (``(0, 0, 0, 0)`` when it is empty, as SAM reports it); ``areas`` int64 ``(C,)``
    pixels of the ``> 0`` mask."""

    above: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray


@dataclass(frozen=True)
class _Runs:
    """One axis's runs: ``start`` the low-res cell of tap 0, ``first`` the photo index, ``count``
    photo indices per run (all int64 ``(n,)``, ascending by ``first``)."""

    start: np.ndarray
    first: np.ndarray
    count: np.ndarray
    weights: np.ndarray
    """float32 ``TAPS x longest x n``: each run's rows' weights (zero past its end), run last (the
    blocks' arithmetic runs over many blocks at once, the long axis innermost)."""
    pad: np.ndarray
    """float32 ``longest x n``: 0 for the run's rows, ``-inf`` past its end."""


@lru_cache(maxsize=16)
def _runs(resized: int, original: int, stretched: bool) -> _Runs:
    """Consecutive photo rows (or columns) on the same cells, cut so that no run is longer than the
    usual one (a block's pixels are computed padded to the longest run)."""
    taps = axis_taps(resized, original, stretched)
    start = taps.start.astype(np.int64)
    starts = np.flatnonzero(np.r_[True, start[1:] != start[:-1]])
    lengths = np.diff(np.r_[starts, start.size])
    longest = max(1, int(np.ceil(np.median(lengths) / 3)))
    pieces = -(-lengths // longest)  # each run cut into pieces of at most `longest`
    offsets = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    first = np.repeat(starts, pieces) + longest * offsets
    count = np.diff(np.r_[first, start.size])
    valid = np.arange(longest) < count[:, None]
    weights = np.where(valid[:, :, None], taps.weights[np.minimum(first[:, None] + np.arange(longest), start.size - 1)],
                       np.float32(0))
    pad = np.where(valid, np.float32(0), np.float32(-np.inf))
    return _Runs(start[first], first.astype(np.int64), count.astype(np.int64),
                 np.ascontiguousarray(weights.transpose(2, 1, 0), np.float32), np.ascontiguousarray(pad.T, np.float32))


def _window(low: np.ndarray, ry: _Runs, rx: _Runs, reduce: np.ufunc) -> np.ndarray:
    """``C x ny x nx``: ``reduce`` (minimum or maximum) over each block's 3 x 3 cells (a cell of zero
    weight only widens the bound, which keeps it safe)."""
    ys, xs = ry.start, rx.start
    rows = reduce(reduce(low[:, ys], low[:, ys + 1]), low[:, ys + 2])
    return reduce(reduce(rows[:, :, xs], rows[:, :, xs + 1]), rows[:, :, xs + 2])


def _block_logits(cells: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """float32 ``py x px x B`` photo logits of ``B`` blocks from their ``3 x 3 x B`` ``cells`` and
    their rows' and columns' weights (``3 x py x B``, ``3 x px x B``), in the float32 operations and
    order of ``postprocess._along_rows`` then ``_along_cols`` (rows tap by tap, then columns)."""
    mid = cells[0, :, None, :] * wy[0, None]  # 3 x py x B: the block's three columns along its rows
    for k in range(1, TAPS):
        mid += cells[k, :, None, :] * wy[k, None]
    out = mid[0, :, None, :] * wx[0, None]
    for k in range(1, TAPS):
        out += mid[k, :, None, :] * wx[k, None]
    return out


def _crop(runs: _Runs, first_cell: int, last_cell: int) -> slice:
    """The runs whose three cells reach into ``first_cell .. last_cell``."""
    return slice(int(np.searchsorted(runs.start + TAPS - 1, first_cell, "left")),
                 int(np.searchsorted(runs.start, last_cell, "right")))


def _widen(box: list, positive: np.ndarray, y0: np.ndarray, x0: np.ndarray) -> list:
    """``box`` ``[x0, y0, x1, y1]`` grown to the positive pixels of blocks (``py x px x B`` bool, each
    block with a positive pixel; ``y0``/``x0`` their first photo row and column ``(B,)``). Only the
    blocks that start furthest out on a side can decide it: only their rows or columns are looked at."""
    def side(starts: np.ndarray, along: np.ndarray, last: bool) -> int:
        edge = starts.max() if last else starts.min()
        inner = along[:, starts == edge].any(axis=1)  # rows (or columns) of those blocks with a pixel
        hits = np.flatnonzero(inner)
        return int(edge + (hits[-1] if last else hits[0]))

    rows, cols = positive.any(axis=1), positive.any(axis=0)  # py x B, px x B
    return [min(box[0], side(x0, cols, False)), min(box[1], side(y0, rows, False)),
            max(box[2], side(x0, cols, True)), max(box[3], side(y0, rows, True))]


def _one(low: np.ndarray, ry: _Runs, rx: _Runs, levels: tuple[float, ...]) -> tuple[np.ndarray, list[int]]:
    """One ``256 x 256`` map: photo pixels above each of ``levels`` (int64 ``(T,)``; ``levels[0]``
    is 0) and the inclusive box ``[x0, y0, x1, y1]`` of those above 0 (zeros when none)."""
    above = np.zeros(len(levels), np.int64)
    alive = low > min(levels)
    rows, cols = np.flatnonzero(alive.any(axis=1)), np.flatnonzero(alive.any(axis=0))
    if rows.size == 0:
        return above, [0, 0, 0, 0]
    ys, xs = _crop(ry, int(rows[0]), int(rows[-1])), _crop(rx, int(cols[0]), int(cols[-1]))
    sy, sx = ry.start[ys], rx.start[xs]
    band = [low[sy + k] for k in range(TAPS)]
    lo = np.minimum(np.minimum(band[0], band[1]), band[2])
    hi = np.maximum(np.maximum(band[0], band[1]), band[2])
    lo = np.minimum(np.minimum(lo[:, sx], lo[:, sx + 1]), lo[:, sx + 2])  # ny x nx: each block's bounds
    hi = np.maximum(np.maximum(hi[:, sx], hi[:, sx + 1]), hi[:, sx + 2])
    mixed = np.zeros(lo.shape, bool)
    for t in levels:
        mixed |= (lo <= t) & (hi > t)
    ny, nx = ry.count[ys].astype(np.float64), rx.count[xs].astype(np.float64)  # (float64: exact for any photo)
    for j, t in enumerate(levels):
        above[j] = int(ny @ ((lo > t) & ~mixed) @ nx)
    whole = (lo > 0) & ~mixed
    whole_rows, whole_cols = np.flatnonzero(whole.any(axis=1)), np.flatnonzero(whole.any(axis=0))
    first_y, first_x = ry.first[ys], rx.first[xs]
    last_y, last_x = first_y + ry.count[ys] - 1, first_x + rx.count[xs] - 1
    box = [np.inf, np.inf, -1, -1]  # x0, y0, x1, y1
    if whole_rows.size:
        box = [first_x[whole_cols[0]], first_y[whole_rows[0]], last_x[whole_cols[-1]], last_y[whole_rows[-1]]]
    iy, ix = np.nonzero(mixed)
    py, px = ry.pad.shape[0], rx.pad.shape[0]
    step = max(1, TILE_VALUES // (py * px))
    offsets = (np.arange(TAPS)[:, None] * LOW_RES + np.arange(TAPS))[:, :, None]  # 3 x 3 x 1
    flat = low.ravel()
    for s in range(0, iy.size, step):
        by, bx = iy[s:s + step], ix[s:s + step]
        cells = flat[offsets + (sy[by] * LOW_RES + sx[bx])]
        gy, gx = ys.start + by, xs.start + bx
        values = _block_logits(cells, ry.weights[:, :, gy], rx.weights[:, :, gx])
        values += ry.pad[:, None, gy]  # -inf past a short run's end
        values += rx.pad[None, :, gx]
        for j, t in enumerate(levels):
            above[j] += int(np.count_nonzero(values > t))
        positive = values > 0
        hit = np.flatnonzero(positive.any(axis=(0, 1)))
        if hit.size:
            box = _widen(box, positive[:, :, hit], first_y[by[hit]], first_x[bx[hit]])
    return above, ([int(v) for v in box] if above[0] else [0, 0, 0, 0])


def full_res_stats(low_res: np.ndarray, frame: InputFrame | tuple[int, int], original_size: tuple[int, int],
                   thresholds: tuple[float, ...] = (0.0,)) -> MaskStats:
    """Exact full-resolution counts, boxes and areas of ``C x 256 x 256`` ``low_res`` logits in a
    photo of ``original_size`` ``(H, W)`` whose low-res frame is ``frame``: what thresholding
    ``postprocess.upsample_logits`` would give, without making it. Each map's work is cropped to
    the cells above the lowest threshold."""
    low = np.asarray(low_res, np.float32).reshape(-1, LOW_RES, LOW_RES)
    frame = input_frame(frame)
    h, w = original_size
    ry, rx = _runs(frame.height, h, frame.stretched), _runs(frame.width, w, frame.stretched)
    levels = tuple(dict.fromkeys((0.0, *thresholds)))  # 0 first: the mask's own threshold
    results = [_one(m, ry, rx, levels) for m in low]
    above = np.array([r[0] for r in results], np.int64).reshape(-1, len(levels))
    boxes = np.array([r[1] for r in results], np.int64).reshape(-1, 4)
    order = [levels.index(t) for t in thresholds]
    return MaskStats(above[:, order], boxes, above[:, 0].copy())


def logits_at(maps: list[np.ndarray], frame: InputFrame | tuple[int, int], original_size: tuple[int, int],
              point: tuple[int, int]) -> np.ndarray:
    """float32 ``(C,)``: each of the ``256 x 256`` logit ``maps``' photo logit at pixel ``point``
    ``(row, col)`` (clamped into the photo), bit for bit what ``upsample_logits`` gives there."""
    frame = input_frame(frame)
    row = min(max(int(point[0]), 0), original_size[0] - 1)
    col = min(max(int(point[1]), 0), original_size[1] - 1)
    ty = axis_taps(frame.height, original_size[0], frame.stretched)
    tx = axis_taps(frame.width, original_size[1], frame.stretched)
    sy, sx = int(ty.start[row]), int(tx.start[col])
    if not maps:
        return np.zeros(0, np.float32)
    cells = np.stack([np.asarray(m)[sy:sy + TAPS, sx:sx + TAPS] for m in maps], axis=-1).astype(np.float32)
    count = cells.shape[-1]  # each map a block of one pixel: the same arithmetic as the blocks'
    wy = np.broadcast_to(ty.weights[row][:, None, None], (TAPS, 1, count))
    wx = np.broadcast_to(tx.weights[col][:, None, None], (TAPS, 1, count))
    return _block_logits(cells, wy, wx)[0, 0]
