"""Edge refinement at full resolution: snap the mask's boundary to the image's edges.

SAM's mask is 256 x 256 logits stretched over the photo, so on a large photo an edge is smeared
over many pixels. Here a guided filter (He et al.), guided by the photo's colour and fed the
upsampled mask probability, recovers the edge: crisp where the photo's edge is sharp, a soft alpha
where it is soft (hair, blur). It runs only on tiles along the boundary, found on the 256 grid, so
its cost follows the boundary's length, not the photo's area. ``refine_region`` does the same for
an area the user brushed over (the refine brush), starting from the current selection.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from samcut.models.engine.postprocess import TAPS, axis_taps, full_mask
from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES
from samcut.models.engine.types import InputFrame, RowSpans, input_frame

CELLS_PER_TILE = 4  # tiles are 4 x 4 low-res cells (16 x 16 px of the 1024 frame)
UNSURE = 0.02  # the filter may change pixels whose mask probability lies in (UNSURE, 1 - UNSURE)
BATCH_PIXELS = 2_000_000  # patch pixels filtered at once: bounds the working memory near 100 MB
MAX_CORE = 1024  # photo pixels of a tile's core per side in one patch (longer cores, on thin strips, are cut)


def box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """Float64 sums over ``(2r+1)^2`` windows of the last two axes of ``n x P x Q`` (zeros outside),
    separable cumulative sums on slices."""
    k = 2 * r + 1
    padded = np.pad(x.astype(np.float64), ((0, 0), (r + 1, r), (r + 1, r)))
    c = np.cumsum(padded, axis=1)
    rows = c[:, k:, :] - c[:, :-k, :]
    c = np.cumsum(rows, axis=2)
    return c[:, :, k:] - c[:, :, :-k]


@lru_cache(maxsize=32)
def _window_area(shape: tuple[int, int], r: int) -> np.ndarray:
    """Pixels in each ``(2r+1)^2`` window of a ``shape`` patch, clipped at its border (``1 x P x Q``)."""
    area = box_sum(np.ones((1, *shape)), r)
    area.flags.writeable = False
    return area


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over ``(2r+1)^2`` windows of each patch in ``x`` (``n x P x Q``), windows clipped at borders."""
    return (box_sum(x, r) / _window_area(x.shape[1:], r)).astype(np.float32)


def _linear_upsample(x: np.ndarray, factor: int, axis: int) -> np.ndarray:
    """Bilinear (align_corners=False) upsampling of float32 ``x`` by ``factor`` along ``axis``
    (``small`` -> ``small * factor``), two taps per output: never a dense ``big x small`` matrix."""
    small = x.shape[axis]
    src = np.clip((np.arange(small * factor) + 0.5) / factor - 0.5, 0, small - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, small - 1)
    shape = [1] * x.ndim
    shape[axis] = -1
    frac = (src - i0).astype(np.float32).reshape(shape)
    out = np.take(x, i0, axis=axis)
    out *= 1 - frac
    upper = np.take(x, i1, axis=axis)
    upper *= frac
    out += upper
    return out


def _solve_symmetric3(m: dict[tuple[int, int], np.ndarray], v: list[np.ndarray]) -> list[np.ndarray]:
    """Per-pixel solution x of ``M x = v`` for symmetric 3 x 3 ``M`` (entries ``m[i, j]``, i <= j)."""
    a11, a12, a13, a22, a23, a33 = m[0, 0], m[0, 1], m[0, 2], m[1, 1], m[1, 2], m[2, 2]
    c11, c12, c13 = a22 * a33 - a23 * a23, a13 * a23 - a12 * a33, a12 * a23 - a13 * a22
    c22, c23, c33 = a11 * a33 - a13 * a13, a12 * a13 - a11 * a23, a11 * a22 - a12 * a12
    det = a11 * c11 + a12 * c12 + a13 * c13
    return [(c11 * v[0] + c12 * v[1] + c13 * v[2]) / det, (c12 * v[0] + c22 * v[1] + c23 * v[2]) / det,
            (c13 * v[0] + c23 * v[1] + c33 * v[2]) / det]


def block_mean(x: np.ndarray, s: int) -> np.ndarray:
    """Means over ``s x s`` blocks of the last two axes of ``n x P x Q`` (P, Q multiples of s)."""
    cols = x[..., 0::s].copy()  # strided adds: much faster than a sum over a short axis
    for i in range(1, s):
        cols += x[..., i::s]
    out = cols[:, 0::s].copy()
    for i in range(1, s):
        out += cols[:, i::s]
    out *= np.float32(1 / (s * s))
    return out


def guided_filter(guide: np.ndarray, p: np.ndarray, r: int, eps: float, subsample: int = 1) -> np.ndarray:
    """Guided filter (He et al.) on a batch of patches: ``p`` float32 ``n x P x Q`` in [0, 1], guided
    by ``guide`` float32 ``C x n x P x Q`` in [0, 1], grey (C = 1) or colour (C = 3: tells apart
    object and background of equal brightness).

    With ``subsample`` s > 1 (P and Q multiples of s) the linear coefficients are computed at
    1/s resolution and upsampled bilinearly ("fast guided filter"): about s^2 times less work, the
    output still follows the full-resolution guide.
    """
    s = subsample
    channels = list(guide)
    if s > 1:
        small_i = [block_mean(c, s) for c in channels]
        small_p = block_mean(p, s)
        rs = max(1, r // s)
    else:
        small_i, small_p, rs = channels, p, r
    mean_i = [box_mean(c, rs) for c in small_i]
    mean_p = box_mean(small_p, rs)
    cov_ip = [box_mean(c * small_p, rs) - m * mean_p for c, m in zip(small_i, mean_i, strict=True)]
    if len(channels) == 1:
        a = [cov_ip[0] / (box_mean(small_i[0] * small_i[0], rs) - mean_i[0] * mean_i[0] + eps)]
    else:
        var = {(i, j): box_mean(small_i[i] * small_i[j], rs) - mean_i[i] * mean_i[j] + (eps if i == j else 0.0)
               for i in range(3) for j in range(i, 3)}
        a = _solve_symmetric3(var, cov_ip)
    b = mean_p - sum(ac * m for ac, m in zip(a, mean_i, strict=True))
    mean_a, mean_b = [box_mean(ac, rs) for ac in a], box_mean(b, rs)
    if s > 1:
        mean_a = [_linear_upsample(_linear_upsample(ac, s, 1), s, 2) for ac in mean_a]
        mean_b = _linear_upsample(_linear_upsample(mean_b, s, 1), s, 2)
    return sum(ac * c for ac, c in zip(mean_a, channels, strict=True)) + mean_b


def edge_cells(low_res: np.ndarray) -> np.ndarray:
    """``256 x 256`` bool: the low-res cells with a 4-neighbour of the other sign (both sides of the edge)."""
    positive = np.asarray(low_res).reshape(LOW_RES, LOW_RES) > 0
    edge = np.zeros_like(positive)
    edge[:-1] |= positive[:-1] != positive[1:]
    edge[1:] |= positive[:-1] != positive[1:]
    edge[:, :-1] |= positive[:, :-1] != positive[:, 1:]
    edge[:, 1:] |= positive[:, :-1] != positive[:, 1:]
    return edge


def boundary_tiles(low_res: np.ndarray) -> np.ndarray:
    """``k x 2`` (row, col) of the ``CELLS_PER_TILE``-cell tiles of the 256 grid that hold part of the edge."""
    t = CELLS_PER_TILE
    return np.argwhere(edge_cells(low_res).reshape(LOW_RES // t, t, LOW_RES // t, t).any(axis=(1, 3)))


def _grid_index(pixels: np.ndarray, scale: float, cell_px: int, count: int) -> np.ndarray:
    """Index of the grid cell (``cell_px`` pixels of the 1024 frame, ``count`` cells) holding the centre
    of each photo pixel in ``pixels`` (``scale`` photo pixels per frame pixel)."""
    return np.minimum(((pixels + 0.5) / scale / cell_px).astype(np.int64), count - 1)


@lru_cache(maxsize=16)
def _support(resized: int, original: int, stretched: bool) -> tuple[np.ndarray, np.ndarray]:
    """First and last low-res cell with a non-zero weight for each photo row (``axis_taps``)."""
    taps = axis_taps(resized, original, stretched)
    nonzero = taps.weights != 0
    first = taps.start + nonzero.argmax(axis=1).astype(np.int16)
    return first, taps.start + (TAPS - 1 - nonzero[:, ::-1].argmax(axis=1)).astype(np.int16)


def _windows(resized: int, original: int, stretched: bool, starts: np.ndarray,
             size: int) -> tuple[np.ndarray, np.ndarray]:
    """For patches of ``size`` photo rows starting at ``starts`` (clamped to the photo): their rows of
    the upsampling matrix restricted to the few low-res cells they touch, and those cells' first
    index. Returns ``(n x size x K weights, (n,) first cells)``."""
    first, last = _support(resized, original, stretched)
    rows = np.clip(starts[:, None] + np.arange(size)[None, :], 0, original - 1)
    lo, hi = first[rows].min(axis=1), last[rows].max(axis=1)
    k = int((hi - lo).max()) + 1
    lo = np.minimum(lo, LOW_RES - k)
    cells = lo[:, None] + np.arange(k)[None, :]
    return axis_taps(resized, original, stretched).at(rows[:, :, None], cells[:, None, :]), lo


def _cut(starts: np.ndarray, counts: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranges ``starts[i] : starts[i] + counts[i]`` cut into pieces of at most ``most``: for each piece,
    the range it comes from, its start and its length (all ``(pieces,)``)."""
    pieces = -(-counts // most)
    which = np.repeat(np.arange(len(starts)), pieces)
    offset = (np.arange(len(which)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) * most
    return which, starts[which] + offset, np.minimum(counts[which] - offset, most)


def refine_alpha(rgb: np.ndarray, low_res: np.ndarray, input_size: InputFrame | tuple[int, int],
                 original_size: tuple[int, int],
                 radius: int | None = None, eps: float = 1e-3) -> np.ndarray:
    """``uint8 H x W`` alpha of one ``256 x 256`` logit map, refined along its boundary.

    ``rgb`` is the original image (``uint8 H x W x 3``). Away from the boundary the alpha is the
    plain thresholded mask (0 or 255); near it, the guided filter's output. All boundary tiles
    are filtered together as one batch of equal-sized patches; the rest of the photo is filled
    tile by tile (a tile without an edge on the 256 grid has one sign throughout, so bilinear
    upsampling cannot change it), so the cost follows the boundary.
    """
    h, w = original_size
    new_h, new_w, stretched = input_frame(input_size)
    logits = np.asarray(low_res, np.float32).reshape(LOW_RES, LOW_RES)
    scale_y, scale_x = h / new_h, w / new_w
    if radius is None:
        radius = int(np.clip(round(2 * max(scale_x, scale_y)), 2, 24))
    edge = edge_cells(logits)
    tiles = boundary_tiles(logits)
    if len(tiles) == 0:
        return full_mask(logits, input_size, original_size).astype(np.uint8) * 255
    t = CELLS_PER_TILE
    tile_px = t * (IMAGE_SIZE // LOW_RES)
    tile_value = np.where(logits[::t, ::t] > 0, 255, 0).astype(np.uint8)  # 64 x 64
    tile_row = _grid_index(np.arange(h), scale_y, tile_px, LOW_RES // t)
    tile_col = _grid_index(np.arange(w), scale_x, tile_px, LOW_RES // t)
    # through the shorter side first: the intermediate is 64 x that side (a 64 x W copy of a
    # 1 x 4000000 strip would be 256 MB)
    alpha = tile_value[tile_row][:, tile_col] if h <= w else tile_value[:, tile_col][tile_row]
    subsample = max(1, radius // 2)  # fast guided filter on large photos
    # A tile's core: the photo rows / columns whose centres fall in it.
    y0, rows_in = np.searchsorted(tile_row, tiles[:, 0]), np.bincount(tile_row, minlength=LOW_RES // t)[tiles[:, 0]]
    x0, cols_in = np.searchsorted(tile_col, tiles[:, 1]), np.bincount(tile_col, minlength=LOW_RES // t)[tiles[:, 1]]
    keep = (rows_in > 0) & (cols_in > 0)
    if not keep.any():  # every edge tile lies in the padding (a thin strip's 1024 frame is mostly padding)
        return alpha
    y0, x0, rows_in, cols_in = y0[keep], x0[keep], rows_in[keep], cols_in[keep]
    # On a thin strip a tile's core is long (16 frame pixels of a 400000-pixel side are 6250 photo
    # pixels): cut into pieces, so that a patch, and the filter's working memory, stays small.
    which, x0, cols_in = _cut(x0, cols_in, MAX_CORE)
    y0, rows_in = y0[which], rows_in[which]
    which, y0, rows_in = _cut(y0, rows_in, MAX_CORE)
    x0, cols_in = x0[which], cols_in[which]
    margin = 2 * radius + 2
    core_h, core_w = int(rows_in.max()), int(cols_in.max())
    core_h += -(core_h + 2 * margin) % subsample  # patch sides divisible by the subsampling
    core_w += -(core_w + 2 * margin) % subsample
    ph, pw = core_h + 2 * margin, core_w + 2 * margin

    def filter_tiles(y0: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """The refined ``n x core_h x core_w`` cores of the tiles whose cores start at (y0, x0)."""
        # Patches of the photo (colour planes in [0, 1]), clamped at its border (edge pixels repeat).
        guide = np.empty((3, len(y0), ph, pw), np.float32)
        for i, (ya, xa) in enumerate(zip(y0 - margin, x0 - margin, strict=True)):
            ys, xs = slice(max(0, ya), min(h, ya + ph)), slice(max(0, xa), min(w, xa + pw))
            patch = rgb[ys, xs]
            if patch.shape[:2] != (ph, pw):
                pad = ((ys.start - ya, ya + ph - ys.stop), (xs.start - xa, xa + pw - xs.stop), (0, 0))
                patch = np.pad(patch, pad, mode="edge")
            guide[:, i] = patch.transpose(2, 0, 1)
        guide *= np.float32(1 / 255)
        # The patches' upsampled logits: only the few low-res cells each patch touches take part.
        wy, cy = _windows(new_h, h, stretched, y0 - margin, ph)   # n x P x K, (n,)
        wx, cx = _windows(new_w, w, stretched, x0 - margin, pw)   # n x Q x L, (n,)
        cells = logits[cy[:, None, None] + np.arange(wy.shape[2])[None, :, None],
                       cx[:, None, None] + np.arange(wx.shape[2])[None, None, :]]
        patch_logits = np.matmul(np.matmul(wy, cells), wx.transpose(0, 2, 1))
        p = 1.0 / (1.0 + np.exp(-np.clip(patch_logits, -30, 30)))
        q = guided_filter(guide, p.astype(np.float32), radius, eps, subsample)
        # Only where the upsampled mask itself is unsure (its smeared edge), in the cells along the
        # edge, may the filter decide; where SAM is confident, or far from its edge, its answer stands.
        cell_px = IMAGE_SIZE // LOW_RES
        cell_y = _grid_index(np.clip(y0[:, None] - margin + np.arange(ph), 0, h - 1), scale_y, cell_px, LOW_RES)
        cell_x = _grid_index(np.clip(x0[:, None] - margin + np.arange(pw), 0, w - 1), scale_x, cell_px, LOW_RES)
        near_edge = edge[cell_y[:, :, None], cell_x[:, None, :]]
        unsure = (p > UNSURE) & (p < 1 - UNSURE) & near_edge
        q = np.where(unsure, q, p >= 0.5)
        return np.clip(q[:, margin:margin + core_h, margin:margin + core_w] * 255.0 + 0.5, 0, 255).astype(np.uint8)

    # Batches of tiles: large enough to vectorise, small enough to bound the memory (a noisy mask
    # on a big photo can have thousands of boundary tiles).
    batch = max(1, BATCH_PIXELS // (ph * pw))
    for first in range(0, len(y0), batch):
        part = slice(first, first + batch)
        core = filter_tiles(y0[part], x0[part])
        for i, (ya, xa, rh, cw) in enumerate(zip(y0[part], x0[part], rows_in[part], cols_in[part], strict=True)):
            alpha[ya:ya + rh, xa:xa + cw] = core[i, :rh, :cw]
    return alpha


def refine_region(rgb: np.ndarray, alpha: np.ndarray, box: RowSpans, weight: np.ndarray,
                  radius: int, eps: float = 1e-3) -> np.ndarray:
    """Re-estimate a selection's alpha from the image inside a brushed area (the refine brush).

    ``rgb`` ``uint8 H x W x 3`` and ``alpha`` ``uint8 H x W`` (the selection); ``box`` is
    ``(y0, y1, x0, x1)`` in image pixels and ``weight`` float32 of the box's shape in [0, 1] (the
    brush's coverage). The guided filter, fed the current alpha, runs on the box plus a margin;
    returns the box's new ``uint8`` alpha: the filter's output where the brush went, blended by
    ``weight``, the old alpha elsewhere.
    """
    h, w = alpha.shape
    y0, y1, x0, x1 = box
    margin = 2 * radius + 2
    ya, yb, xa, xb = max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin)
    subsample = max(1, radius // 2)
    pad = ((0, -(yb - ya) % subsample), (0, -(xb - xa) % subsample))
    guide = np.pad(rgb[ya:yb, xa:xb], (*pad, (0, 0)), mode="edge").transpose(2, 0, 1)[:, None] / np.float32(255)
    p = alpha[ya:yb, xa:xb].astype(np.float32) / 255.0
    q = guided_filter(guide, np.pad(p, pad, mode="edge")[None], radius, eps, subsample)[0]
    q = np.clip(q[y0 - ya:y1 - ya, x0 - xa:x1 - xa], 0.0, 1.0)
    old = p[y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return np.clip((weight * q + (1 - weight) * old) * 255.0 + 0.5, 0, 255).astype(np.uint8)
