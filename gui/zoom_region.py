"""Which part of the image to re-encode when the user zooms in, and when a region applies.

All boxes are ``(x0, y0, x1, y1)`` in image pixels (x = column, y = row), ends exclusive.
The encoder sees a region at 1024 px on its long side, so the detail gained over the whole
image's encode is ``image long side / region long side``.
"""

from __future__ import annotations

from samcut.models.engine.types import XYXY

MIN_GAIN = 1.5     # re-encode automatically only when the view shows at least 1.5x more detail
MIN_SIDE = 256     # smaller regions are enlarged: upscaling them further adds nothing
MARGIN = 0.1       # context around the view, as a fraction of its size, on each side
SNAP = 32          # region corners on a 32 px grid, so that returning to a view hits the cache
REUSE_SLACK = 1.25  # a region up to 1.25x larger than needed is still good enough for the view



def visible_box(view: tuple[float, float, float, float], image_size: tuple[int, int]) -> XYXY | None:
    """The view rectangle clipped to the image (None when the view shows none of it)."""
    h, w = image_size
    x0, y0, x1, y1 = max(0, int(view[0])), max(0, int(view[1])), min(w, int(view[2]) + 1), min(h, int(view[3]) + 1)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def long_side(box: XYXY) -> int:
    return max(box[2] - box[0], box[3] - box[1])


def detail_gain(box: XYXY, image_size: tuple[int, int]) -> float:
    return max(image_size) / max(1, long_side(box))


def region_for_view(view: tuple[float, float, float, float], image_size: tuple[int, int],
                    force: bool = False) -> XYXY | None:
    """The region to encode for a view, or None when the view is not zoomed in enough (unless ``force``)."""
    h, w = image_size
    vis = visible_box(view, image_size)
    if vis is None or vis == (0, 0, w, h):
        return None
    if not force and detail_gain(vis, image_size) < MIN_GAIN:
        return None
    x0, y0, x1, y1 = vis
    mx, my = (x1 - x0) * MARGIN, (y1 - y0) * MARGIN
    x0, y0, x1, y1 = x0 - mx, y0 - my, x1 + mx, y1 + my
    grow = max(0.0, MIN_SIDE - max(x1 - x0, y1 - y0)) / 2
    x0, y0, x1, y1 = x0 - grow, y0 - grow, x1 + grow, y1 + grow
    box = (max(0, int(x0) // SNAP * SNAP), max(0, int(y0) // SNAP * SNAP),
           min(w, -(-int(x1 + 0.999) // SNAP) * SNAP), min(h, -(-int(y1 + 0.999) // SNAP) * SNAP))
    return None if box == (0, 0, w, h) else box


def covers(region: XYXY, view: tuple[float, float, float, float], image_size: tuple[int, int]) -> bool:
    """Whether an encoded ``region`` serves this view: it holds what is visible, at about the detail wanted."""
    vis = visible_box(view, image_size)
    if vis is None:
        return False
    inside = region[0] <= vis[0] and region[1] <= vis[1] and region[2] >= vis[2] and region[3] >= vis[3]
    return inside and long_side(region) <= REUSE_SLACK * long_side(vis) * (1 + 2 * MARGIN) + 2 * SNAP


def applies_at(region: XYXY, view: tuple[float, float, float, float], image_size: tuple[int, int],
               point: tuple[float, float]) -> bool:
    """Whether a prompt starting at ``point`` should be decoded in ``region``: the point lies in it and
    the view is zoomed in at least as far as the region (not zoomed back out past it)."""
    vis = visible_box(view, image_size)
    x, y = point
    if vis is None or not (region[0] <= x < region[2] and region[1] <= y < region[3]):
        return False
    return long_side(vis) <= 1.1 * long_side(region)
