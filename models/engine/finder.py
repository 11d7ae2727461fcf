"""Object Finder: the image's objects from a grid of single-point prompts, and its main subject.

It is Segment Anything's automatic mask generator on samcut's decoder (``finder_rules``: the
settings, SAM's names and defaults, and the steps): every grid point's three multimask candidates
are filtered by predicted IoU and by stability (measured on the photo's pixels at full
resolution, ``mask_stats``), and duplicates go by box NMS, best predicted IoU first. Each object
keeps the decoder's own low-res logits (float16), so hover, a click, Subject and ``samcut
objects`` all show the decoder's real mask for it.

When nothing passes the thresholds (weak or untrained weights), the finder falls back to the
best candidates by predicted IoU (the ``FALLBACK_POOL`` best, box NMS, no thresholds), marked
``passed=False``: the app's hover, clicks and Subject still have objects to work with and say
so; ``samcut objects`` lists only what passed, as the official generator does.

Frames: grid points, boxes and areas are in *original* image pixels (boxes ``(x0, y0, x1, y1)``
with inclusive ends, as the official generator's); logits are in the decoder's low-res frame
(``256 x 256``); ``FoundObject.frame`` says how that grid maps onto the image.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from samcut.models.engine.candidates import MULTIMASK_TOKENS
from samcut.models.engine.finder_rules import FinderSettings, box_nms, grid_points, mask_nms
from samcut.models.engine.mask_stats import full_res_stats, logits_at
from samcut.models.engine.preprocess import LOW_RES, resized_size
from samcut.models.engine.types import XYXY, InputFrame, Prompt, input_frame

__all__ = ["FALLBACK_POOL", "FinderSettings", "FoundObject", "ObjectFinder", "find_objects", "grid_points",
           "main_subject", "object_under", "objects_at"]

FALLBACK_POOL = 64
"""Candidates kept (best predicted IoU) beside those that pass, for when none passes."""
_STATS_CHUNK = 48  # candidates measured at a time (float32 copies: 12 MB)


@dataclass(frozen=True, eq=False)
class FoundObject:
    """One object: ``low_res`` the decoder's float16 ``256 x 256`` logits for it; ``box``
    ``(x0, y0, x1, y1)`` (inclusive) and ``area`` (pixels) of its mask in the original image;
    ``predicted_iou`` and ``stability`` as SAM's generator reports them; ``point`` the grid point
    ``(x, y)`` that found it; ``frame``: how the logits' grid maps onto the image (None: the
    padded frame of SAM v1 and MobileSAM, ``resized_size`` of the image); ``passed``: it passed
    the thresholds (False: a fallback, see the module)."""

    low_res: np.ndarray
    box: XYXY
    area: int
    predicted_iou: float
    stability: float
    point: tuple[float, float]
    frame: InputFrame | None = None
    passed: bool = True

    @property
    def score(self) -> float:
        """Predicted IoU x stability: how good the object looks (hover and Subject weigh by it)."""
        return max(0.0, self.predicted_iou) * self.stability

    @property
    def mask(self) -> np.ndarray:
        """bool ``256 x 256``: the mask in the low-res frame (comparisons, not display)."""
        return self.low_res > 0

    def input_frame(self, image_size: tuple[int, int]) -> InputFrame:
        """The frame of this object's logits in an image of ``image_size`` ``(H, W)``."""
        return self.frame or InputFrame(*resized_size(*image_size))

    def logits(self) -> np.ndarray:
        """float32 ``256 x 256``: the decoder's logits for this object (a proposal, a mask input)."""
        return self.low_res.astype(np.float32)


@dataclass(order=True)
class _Candidate:
    """One multimask output waiting for ``ObjectFinder.objects`` (ordered by predicted IoU, then
    the earlier first: ``rank`` is minus the serial number)."""

    predicted_iou: float
    rank: int
    point: tuple[float, float] = field(compare=False)
    low_res: np.ndarray = field(compare=False)


class ObjectFinder:
    """Collects candidates point by point (``add``: cheap, no measuring); ``objects()`` measures,
    filters and deduplicates them (the heavy part, for a worker thread)."""

    def __init__(self, original_size: tuple[int, int], input_size: InputFrame | tuple[int, int],
                 settings: FinderSettings | None = None) -> None:
        self.original_size, self.input_size = original_size, input_size
        self.settings = settings or FinderSettings()
        self.points = grid_points(original_size, self.settings.points_per_side)
        self._passing: list[_Candidate] = []   # predicted IoU above the threshold (all at 0)
        self._pool: list[_Candidate] = []      # a min-heap of the best others, for the fallback
        self._serial = 0

    def add(self, point: tuple[float, float], logits: np.ndarray, scores: np.ndarray) -> None:
        """One grid point's decoder output: ``logits`` ``4 x 256 x 256``, ``scores`` ``(4,)``."""
        threshold = self.settings.pred_iou_thresh
        for token in MULTIMASK_TOKENS:
            iou = float(scores[token])
            self._serial += 1
            candidate = _Candidate(iou, -self._serial, point, np.asarray(logits[token], np.float16))
            if threshold <= 0 or iou > threshold:
                self._passing.append(candidate)
            elif len(self._pool) < FALLBACK_POOL:
                heapq.heappush(self._pool, candidate)
            elif candidate > self._pool[0]:
                heapq.heapreplace(self._pool, candidate)

    def _measure(self, candidates: list[_Candidate]) -> list[FoundObject]:
        """Boxes, areas and stability at full resolution, ``candidates``' order kept."""
        offset = self.settings.stability_score_offset
        frame = input_frame(self.input_size)
        found = []
        for start in range(0, len(candidates), _STATS_CHUNK):
            part = candidates[start:start + _STATS_CHUNK]
            stats = full_res_stats(np.stack([c.low_res for c in part]).astype(np.float32), frame,
                                   self.original_size, (offset, -offset))
            for c, above, box, area in zip(part, stats.above, stats.boxes, stats.areas, strict=True):
                stability = float(above[0]) / float(above[1]) if above[1] else 0.0
                found.append(FoundObject(c.low_res, tuple(int(v) for v in box), int(area), c.predicted_iou,
                                         stability, c.point, frame))
        return found

    def _select(self, measured: list[FoundObject]) -> list[FoundObject]:
        """Box NMS by predicted IoU, then samcut's optional departures, best first."""
        s = self.settings
        if s.drop_empty:
            measured = [o for o in measured if o.area > 0]
        if not measured:
            return []
        keep = box_nms(np.array([o.box for o in measured]), np.array([o.predicted_iou for o in measured]),
                       s.box_nms_thresh)
        kept = [measured[i] for i in keep]
        if s.mask_nms_thresh > 0:
            kept = [kept[i] for i in mask_nms([o.mask for o in kept], s.mask_nms_thresh)]
        return kept[:s.max_objects] if s.max_objects else kept

    def objects(self) -> list[FoundObject]:
        """The objects, best predicted IoU first: those that pass the settings' thresholds, or when
        none does, the fallback's (``passed=False``; see the module)."""
        passing = sorted(self._passing, key=lambda c: -c.rank)
        measured = self._measure(passing)
        threshold = self.settings.stability_score_thresh
        kept = self._select([o for o in measured if threshold <= 0 or o.stability >= threshold])
        if kept:
            return kept
        pool = sorted(self._pool + passing, reverse=True)[:FALLBACK_POOL]  # best IoU, earlier first
        pool.sort(key=lambda c: -c.rank)
        known = {id(c): o for c, o in zip(passing, measured, strict=True)}  # (measured above: not again)
        fresh = iter(self._measure([c for c in pool if id(c) not in known]))
        fallback = self._select([o for o in (known.get(id(c)) or next(fresh) for c in pool) if o.area > 0])
        return [replace(o, passed=False) for o in fallback]


BATCH = 16  # grid points per decoder run when nothing waits on the finder (the CLI)


def find_objects(decode_batch: Callable[[list[Prompt]], tuple[np.ndarray, np.ndarray]],
                 original_size: tuple[int, int], input_size: InputFrame | tuple[int, int],
                 settings: FinderSettings | None = None, progress: Callable[[int, int], None] | None = None,
                 batch: int = BATCH) -> list[FoundObject]:
    """Run the whole grid through ``decode_batch`` (prompts -> ``(logits B x 4 x 256 x 256, scores
    B x 4)``, e.g. ``SamEngine.decode_low_res_batch``), ``batch`` grid points at a time."""
    finder = ObjectFinder(original_size, input_size, settings)
    for start in range(0, len(finder.points), batch):
        points = finder.points[start:start + batch]
        logits, scores = decode_batch([Prompt(points=[point], labels=[1]) for point in points])
        for point, point_logits, point_scores in zip(points, logits, scores, strict=True):
            finder.add(point, point_logits, point_scores)
        if progress is not None:
            progress(start + len(points), len(finder.points))
    return finder.objects()


def objects_at(objects: list[FoundObject], point: tuple[float, float],
               original_size: tuple[int, int]) -> Iterator[FoundObject]:
    """The objects whose full-resolution mask covers the pixel under ``point`` ``(x, y)`` (original
    pixels), in the list's order: exactly the masks hover and a click show."""
    if not objects:
        return iter(())
    pixel = (int(point[1]), int(point[0]))
    by_frame: dict[InputFrame, list[int]] = {}
    for index, obj in enumerate(objects):
        by_frame.setdefault(obj.input_frame(original_size), []).append(index)
    covering = set()
    for frame, indices in by_frame.items():
        values = logits_at([objects[i].low_res for i in indices], frame, original_size, pixel)
        covering.update(i for i, value in zip(indices, values, strict=True) if value > 0)
    return (obj for index, obj in enumerate(objects) if index in covering)


def object_under(objects: list[FoundObject], point: tuple[float, float],
                 original_size: tuple[int, int]) -> FoundObject | None:
    """What the pointer is on: of the good objects covering ``point`` (score at least half the
    best one's there), the smallest; a part is what one points at, the group around it is not.
    ``point`` in the pixels of the image of ``original_size`` ``(H, W)`` the objects were found in."""
    covering = list(objects_at(objects, point, original_size))
    if not covering:
        return None
    best = max(obj.score for obj in covering)
    return min((obj for obj in covering if obj.score >= 0.5 * best), key=lambda obj: obj.area)


def main_subject(objects: list[FoundObject], original_size: tuple[int, int]) -> FoundObject | None:
    """The image's main subject, as a photographer frames one: the object that scores best on
    predicted quality x centrality x size. Centrality is 1 at the centre falling to 0.25 at the
    corners (distance of the box centre, in half-diagonals); size prefers objects covering 5-60%
    of the image (a speck is not the subject, and neither is the background filling the frame);
    masks touching three or four image borders are background and are skipped when others exist.

    It reads the finder's list as it is: when no candidate passed SAM's thresholds that list is
    the fallback (the best candidates by predicted IoU, ``passed=False``), and the subject is
    chosen among them; callers tell the user so (``subject_note``)."""
    objects = [obj for obj in objects if obj.area > 0]
    if not objects:
        return None
    h, w = original_size

    def borders(obj: FoundObject) -> int:
        x0, y0, x1, y1 = obj.box
        return sum((x0 <= 1, y0 <= 1, x1 >= w - 1, y1 >= h - 1))

    def rank(obj: FoundObject) -> float:
        x0, y0, x1, y1 = obj.box
        dx, dy = ((x0 + x1) / 2 - w / 2) / (w / 2), ((y0 + y1) / 2 - h / 2) / (h / 2)
        centrality = 1.0 - 0.75 * min(1.0, float(np.hypot(dx, dy)) / np.sqrt(2))
        share = obj.area / float(h * w)
        size = 1.0 if 0.05 <= share <= 0.6 else max(0.1, share / 0.05 if share < 0.05 else (1 - share) / 0.4)
        return obj.score * centrality * size

    candidates = [obj for obj in objects if borders(obj) < 3] or objects
    return max(candidates, key=rank)


def subject_note(objects: list[FoundObject], settings: FinderSettings | None = None) -> str:
    """A line for the user when ``objects`` are the fallback (nothing passed the thresholds), else ""."""
    if not objects or objects[0].passed:
        return ""
    s = settings or FinderSettings()
    return (f"no object passed SAM's quality thresholds (predicted IoU above {s.pred_iou_thresh:g}, stability "
            f"{s.stability_score_thresh:g} or more): these are the best guesses by predicted IoU")


def to_arrays(objects: list[FoundObject], settings: FinderSettings | None = None) -> dict[str, np.ndarray]:
    """The objects as plain arrays (for the embedding cache): float16 logits, boxes, areas,
    predicted IoUs, stabilities, points, passed flags, the frame and the settings that found them."""
    frame = objects[0].frame if objects else None
    return {
        "object_logits": np.stack([o.low_res for o in objects]).astype(np.float16)
        if objects else np.zeros((0, LOW_RES, LOW_RES), np.float16),
        "object_boxes": np.array([o.box for o in objects], np.int64).reshape(-1, 4),
        "object_areas": np.array([o.area for o in objects], np.int64),
        "object_ious": np.array([o.predicted_iou for o in objects], np.float64),
        "object_stability": np.array([o.stability for o in objects], np.float64),
        "object_points": np.array([o.point for o in objects], np.float64).reshape(-1, 2),
        "object_passed": np.array([o.passed for o in objects], bool),
        "object_frame": np.array([*frame] if frame else [], np.int64),
        "object_settings": np.array((settings or FinderSettings()).key()),
    }


def from_arrays(arrays: dict[str, np.ndarray], settings: FinderSettings | None = None) -> list[FoundObject] | None:
    """``to_arrays`` back; None when they were found with other settings than ``settings`` (default
    ones when None); ``ValueError`` when the arrays do not fit together."""
    if str(arrays.get("object_settings", "")) != (settings or FinderSettings()).key():
        return None
    logits = np.asarray(arrays["object_logits"], np.float16)
    count = logits.shape[0]
    columns = [np.asarray(arrays[name]) for name in ("object_boxes", "object_areas", "object_ious",
                                                       "object_stability", "object_points", "object_passed")]
    if logits.shape[1:] != (LOW_RES, LOW_RES) or any(len(column) != count for column in columns):
        raise ValueError("the stored objects do not fit together")
    boxes, areas, ious, stability, points, passed = columns
    stored = np.asarray(arrays.get("object_frame", np.zeros(0)), np.int64).reshape(-1)
    if stored.size not in (0, 3):
        raise ValueError("the stored objects' frame is not (height, width, stretched)")
    frame = InputFrame(int(stored[0]), int(stored[1]), bool(stored[2])) if stored.size else None
    return [FoundObject(logits[i], tuple(int(v) for v in boxes[i]), int(areas[i]), float(ious[i]),
                        float(stability[i]), (float(points[i][0]), float(points[i][1])), frame, bool(passed[i]))
            for i in range(count)]
