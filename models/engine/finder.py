"""Object Finder: the image's objects from a grid of single-point prompts, and its main subject.

Frames: grid points and boxes are in *original* image pixels (x, y); masks are kept in the
decoder's *low-res* frame (``256 x 256`` over the padded 1024 square), where comparing and
storing them is cheap (8 KB each packed); ``FoundObject.logits`` turns one back into decoder
logits for a proposal, and ``postprocess`` upsamples it like any decoder output.

The finder decodes one grid point at a time (``ObjectFinder.points`` / ``add``), so a caller can
interleave user requests between steps (the app runs it at the lowest priority and any input
goes first). Every multimask candidate of every point is scored by predicted IoU x stability
(the share of its mask that survives moving the threshold from -1 to +1: a mask that melts
when the threshold moves is a guess); near-empty and near-full masks are dropped, then
duplicates (low-res IoU above ``DUPLICATE_IOU``) keep only the better one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from samcut.models.engine.candidates import MULTIMASK_TOKENS
from samcut.models.engine.preprocess import IMAGE_SIZE, LOW_RES, resized_size
from samcut.models.engine.types import XYXY, InputFrame, Prompt, input_frame

DUPLICATE_IOU = 0.7
STABILITY_OFFSET = 1.0
MIN_AREA, MAX_AREA = 0.001, 0.9  # of the low-res frame the image covers
MAX_OBJECTS = 400
LOGIT = 8.0  # the logit magnitude a stored mask is given back as


@dataclass(frozen=True)
class FoundObject:
    """One object: ``mask`` bool ``256 x 256`` (low-res frame), ``box`` ``(x0, y0, x1, y1)`` and
    ``area`` (pixels) in the original image, ``score`` (predicted IoU x stability), ``point``
    the grid point ``(x, y)`` that found it; ``frame``: how the mask's grid maps onto the image
    (None: the padded frame of SAM v1 and MobileSAM, ``resized_size`` of the image)."""

    mask: np.ndarray
    box: XYXY
    area: int
    score: float
    point: tuple[float, float]
    frame: InputFrame | None = None

    def input_frame(self, image_size: tuple[int, int]) -> InputFrame:
        """The frame of this object's mask in an image of ``image_size`` ``(H, W)``."""
        return self.frame or InputFrame(*resized_size(*image_size))

    def logits(self) -> np.ndarray:
        """float32 ``256 x 256`` logits for a proposal or mask input: the mask as +-``LOGIT``, with a
        3 x 3 box blur, so that upsampling gives a smooth edge instead of the cells' stair steps
        (a cell's sign is kept unless most of its neighbours disagree: lone cells melt away)."""
        signed = np.pad(np.where(self.mask, LOGIT, -LOGIT).astype(np.float32), 1, mode="edge")
        blurred = sum(signed[dy:dy + LOW_RES, dx:dx + LOW_RES] for dy in range(3) for dx in range(3)) / 9.0
        return blurred.astype(np.float32)


def grid_points(size: tuple[int, int], per_side: int = 16) -> list[tuple[float, float]]:
    """``per_side**2`` points ``(x, y)`` at the centres of an even grid over an ``(H, W)`` image."""
    h, w = size
    return [((gx + 0.5) * w / per_side, (gy + 0.5) * h / per_side)
            for gy in range(per_side) for gx in range(per_side)]


def stability(logits: np.ndarray, offset: float = STABILITY_OFFSET) -> float:
    """IoU of the mask at threshold ``+offset`` with the mask at ``-offset`` (1 = crisp)."""
    outer = int((logits > -offset).sum())
    return float((logits > offset).sum()) / outer if outer else 0.0


def _low_res_box_to_image(mask: np.ndarray, input_size: tuple[int, int],
                          original_size: tuple[int, int]) -> tuple[XYXY, int]:
    """The mask's bounding box and area in original pixels (from the low-res frame)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    cell = IMAGE_SIZE / LOW_RES
    sy, sx = original_size[0] / input_size[0], original_size[1] / input_size[1]
    box = (int(cols[0] * cell * sx), int(rows[0] * cell * sy),
           min(original_size[1], int(np.ceil((cols[-1] + 1) * cell * sx))),
           min(original_size[0], int(np.ceil((rows[-1] + 1) * cell * sy))))
    return box, int(round(mask.sum() * cell * cell * sx * sy))


class ObjectFinder:
    """Collects candidates point by point; ``objects()`` gives them deduplicated, best first."""

    def __init__(self, original_size: tuple[int, int], input_size: tuple[int, int], per_side: int = 16) -> None:
        self.original_size, self.input_size = original_size, input_size
        self.points = grid_points(original_size, per_side)
        self._candidates: list[FoundObject] = []
        cell = IMAGE_SIZE // LOW_RES
        self._frame = np.zeros((LOW_RES, LOW_RES), bool)  # the cells the image covers (not the padding)
        self._frame[:int(np.ceil(input_size[0] / cell)), :int(np.ceil(input_size[1] / cell))] = True
        self._frame_cells = int(self._frame.sum())

    def add(self, point: tuple[float, float], logits: np.ndarray, scores: np.ndarray) -> None:
        """One grid point's decoder output: ``logits`` ``4 x 256 x 256``, ``scores`` ``(4,)``."""
        for token in MULTIMASK_TOKENS:
            mask = (logits[token] > 0) & self._frame
            cells = int(mask.sum())
            if not MIN_AREA * self._frame_cells <= cells <= MAX_AREA * self._frame_cells:
                continue
            box, area = _low_res_box_to_image(mask, self.input_size, self.original_size)
            quality = max(0.0, float(scores[token])) * stability(logits[token])
            self._candidates.append(FoundObject(mask, box, area, quality, point, input_frame(self.input_size)))

    def objects(self) -> list[FoundObject]:
        """Candidates best first, each kept only if no better one covers nearly the same cells
        (exact IoU on bit-packed masks: hundreds of candidates deduplicated in well under a second)."""
        kept: list[FoundObject] = []
        words = np.zeros((0, LOW_RES * LOW_RES // 64), np.uint64)
        sizes = np.zeros(0, np.int64)
        for candidate in sorted(self._candidates, key=lambda c: -c.score):
            packed = np.packbits(candidate.mask.ravel()).view(np.uint64)
            size = int(candidate.mask.sum())
            if len(kept):
                inter = _popcount(words & packed).sum(axis=1)
                if (inter / (sizes + size - inter) > DUPLICATE_IOU).any():
                    continue
            kept.append(candidate)
            words = np.vstack([words, packed[None]])
            sizes = np.append(sizes, size)
            if len(kept) >= MAX_OBJECTS:
                break
        return kept


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per ``uint64`` word."""
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(words).astype(np.int64)
    return np.unpackbits(words.view(np.uint8), axis=-1).reshape(*words.shape, 64).sum(axis=-1)


BATCH = 16  # grid points per decoder run when nothing waits on the finder (the CLI)


def find_objects(decode_batch: Callable[[list[Prompt]], tuple[np.ndarray, np.ndarray]],
                 original_size: tuple[int, int], input_size: tuple[int, int], per_side: int = 16,
                 progress: Callable[[int, int], None] | None = None, batch: int = BATCH) -> list[FoundObject]:
    """Run the whole grid through ``decode_batch`` (prompts -> ``(logits B x 4 x 256 x 256, scores
    B x 4)``, e.g. ``SamEngine.decode_low_res_batch``), ``batch`` grid points at a time."""
    finder = ObjectFinder(original_size, input_size, per_side)
    for start in range(0, len(finder.points), batch):
        points = finder.points[start:start + batch]
        logits, scores = decode_batch([Prompt(points=[point], labels=[1]) for point in points])
        for point, point_logits, point_scores in zip(points, logits, scores, strict=True):
            finder.add(point, point_logits, point_scores)
        if progress is not None:
            progress(start + len(points), len(finder.points))
    return finder.objects()


def _cell(point: tuple[float, float], input_size: tuple[int, int],
          original_size: tuple[int, int]) -> tuple[int, int]:
    """The low-res cell ``(row, col)`` under an original-image point."""
    x, y = point
    col = int(x * input_size[1] / original_size[1] * LOW_RES / IMAGE_SIZE)
    row = int(y * input_size[0] / original_size[0] * LOW_RES / IMAGE_SIZE)
    return min(LOW_RES - 1, max(0, row)), min(LOW_RES - 1, max(0, col))


def objects_at(objects: list[FoundObject], point: tuple[float, float], input_size: tuple[int, int],
               original_size: tuple[int, int]) -> Iterator[FoundObject]:
    """The objects whose mask covers ``point`` (original pixels), best first."""
    row, col = _cell(point, input_size, original_size)
    return (obj for obj in objects if obj.mask[row, col])


def object_under(objects: list[FoundObject], point: tuple[float, float],
                 original_size: tuple[int, int]) -> FoundObject | None:
    """What the pointer is on: of the good objects covering ``point`` (score at least half the
    best one's there), the smallest; a part is what one points at, the group around it is not.
    ``point`` in the pixels of the image of ``original_size`` ``(H, W)`` the objects were found in."""
    if not objects:
        return None
    covering = list(objects_at(objects, point, objects[0].input_frame(original_size), original_size))
    if not covering:
        return None
    best = covering[0].score
    return min((obj for obj in covering if obj.score >= 0.5 * best), key=lambda obj: obj.area)


def main_subject(objects: list[FoundObject], original_size: tuple[int, int]) -> FoundObject | None:
    """The image's main subject, as a photographer frames one: the object that scores best on
    predicted quality x centrality x size. Centrality is 1 at the centre falling to 0.25 at the
    corners (distance of the box centre, in half-diagonals); size prefers objects covering 5-60%
    of the image (a speck is not the subject, and neither is the background filling the frame);
    masks touching three or four image borders are background and are skipped when others exist."""
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


def to_arrays(objects: list[FoundObject]) -> dict[str, np.ndarray]:
    """The objects as plain arrays (for the embedding cache): packed masks, boxes, areas, scores."""
    return {
        "object_masks": np.packbits(np.stack([o.mask for o in objects]).reshape(len(objects), -1), axis=1)
        if objects else np.zeros((0, LOW_RES * LOW_RES // 8), np.uint8),
        "object_boxes": np.array([o.box for o in objects], np.int64).reshape(-1, 4),
        "object_areas": np.array([o.area for o in objects], np.int64),
        "object_scores": np.array([o.score for o in objects], np.float64),
        "object_points": np.array([o.point for o in objects], np.float64).reshape(-1, 2),
        "object_frame": np.array([*objects[0].frame] if objects and objects[0].frame else [], np.int64),
    }


def from_arrays(arrays: dict[str, np.ndarray]) -> list[FoundObject]:
    """``to_arrays`` back; ``ValueError`` when the arrays do not fit together."""
    masks = np.unpackbits(np.asarray(arrays["object_masks"], np.uint8), axis=1)
    count = masks.shape[0]
    boxes, areas = np.asarray(arrays["object_boxes"]), np.asarray(arrays["object_areas"])
    scores, points = np.asarray(arrays["object_scores"]), np.asarray(arrays["object_points"])
    if masks.shape[1] != LOW_RES * LOW_RES or not (len(boxes) == len(areas) == len(scores) == len(points) == count):
        raise ValueError("the stored objects do not fit together")
    stored = np.asarray(arrays.get("object_frame", np.zeros(0)), np.int64).reshape(-1)
    if stored.size not in (0, 3):
        raise ValueError("the stored objects' frame is not (height, width, stretched)")
    frame = InputFrame(int(stored[0]), int(stored[1]), bool(stored[2])) if stored.size else None
    return [FoundObject(masks[i].reshape(LOW_RES, LOW_RES).astype(bool), tuple(int(v) for v in boxes[i]),
                        int(areas[i]), float(scores[i]), (float(points[i][0]), float(points[i][1])), frame)
            for i in range(count)]
