"""Brush strokes -> prompt points.

A stroke is a polyline in original image pixels (x, y). It becomes a few well-spaced prompt
points: the polyline is resampled by arc length at the centres of ``k`` equal parts, where ``k``
grows with the stroke's length (one point per ``spacing`` pixels) and is capped. The result
depends only on the path, not on pointer speed or how many events drew it. A click (a path
shorter than ``spacing / 2``) is one point where the press was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_POINTS_PER_STROKE = 6
MAX_PROMPT_POINTS = 16


@dataclass(frozen=True)
class Stroke:
    """One brush gesture: ``path`` in original image pixels, ``positive`` adds, else subtracts."""

    path: tuple[tuple[float, float], ...]
    positive: bool = True


def default_spacing(image_size: tuple[int, int]) -> float:
    """Pixels of stroke per prompt point: 1/12 of the image's longest side (about 85 px in the 1024 frame)."""
    return max(image_size) / 12.0


def resample_path(path: Sequence[tuple[float, float]], spacing: float,
                  max_points: int = MAX_POINTS_PER_STROKE) -> np.ndarray:
    """``N x 2`` float64 points evenly spaced along ``path`` by arc length (``1 <= N <= max_points``)."""
    pts = np.asarray(path, np.float64).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("a stroke needs at least one point")
    seg = np.hypot(*np.diff(pts, axis=0).T) if len(pts) > 1 else np.zeros(0)
    length = float(seg.sum())
    if length < spacing / 2:
        return pts[:1].copy()
    count = int(np.clip(round(length / spacing), 1, max_points))
    targets = (np.arange(count) + 0.5) * (length / count)
    cumulative = np.concatenate([[0.0], np.cumsum(seg)])
    keep = np.concatenate([[True], seg > 0])  # drop repeated events, which add no length
    cumulative, pts = cumulative[keep], pts[keep]
    x = np.interp(targets, cumulative, pts[:, 0])
    y = np.interp(targets, cumulative, pts[:, 1])
    return np.stack([x, y], axis=1)


@dataclass
class StrokePrompt:
    """The prompt being built for one object: strokes so far, an optional box, the last logits."""

    image_size: tuple[int, int]
    strokes: list[Stroke] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    @property
    def empty(self) -> bool:
        return not self.strokes and self.box is None

    def points_and_labels(self, live: Stroke | None = None) -> tuple[list[tuple[float, float]], list[int]]:
        """All strokes' points, plus the stroke being drawn (newest kept when over ``MAX_PROMPT_POINTS``)."""
        spacing = default_spacing(self.image_size)
        points: list[tuple[float, float]] = []
        labels: list[int] = []
        for stroke in self.strokes + ([live] if live is not None else []):
            for x, y in resample_path(stroke.path, spacing):
                points.append((float(x), float(y)))
                labels.append(1 if stroke.positive else 0)
        return points[-MAX_PROMPT_POINTS:], labels[-MAX_PROMPT_POINTS:]
