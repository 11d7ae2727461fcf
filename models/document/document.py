"""The document: one image, its selection, the prompt being drawn, the live proposal, undo history.

Owned by the GUI thread; no Qt and no inference here (results arrive as ``DecodeResult``-like
values). Coordinates are original image pixels (x = column, y = row).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from samcut.models.document import selection as ops
from samcut.models.document.history import History
from samcut.models.document.imageio import LoadedImage
from samcut.models.document.selection import Mode
from samcut.models.document.strokes import Stroke, StrokePrompt
from samcut.models.engine.postprocess import full_mask, sampled_mask
from samcut.models.engine.refine import refine_alpha, refine_region
from samcut.models.engine.types import Prompt


@dataclass(frozen=True)
class Proposal:
    """Candidate masks for the current prompt: ``C x 256 x 256`` logits, ``(C,)`` scores, the chosen one.

    The logits belong to a frame: the whole image, or a zoomed region of it whose top-left is
    ``origin`` ``(x, y)`` and whose size is ``original_size``; ``image_size`` is the whole image's
    ``(H, W)``. Every mask method answers in whole-image pixels (zero outside the frame).
    """

    low_res_logits: np.ndarray
    scores: np.ndarray
    chosen: int
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    origin: tuple[int, int] = (0, 0)
    image_size: tuple[int, int] | None = None

    @property
    def whole_image(self) -> bool:
        return self.origin == (0, 0) and self.image_size in (None, self.original_size)

    @property
    def frame(self) -> tuple[slice, slice]:
        """Rows and columns of the image that the frame covers."""
        (x0, y0), (h, w) = self.origin, self.original_size
        return slice(y0, y0 + h), slice(x0, x0 + w)

    def _place(self, frame_values: np.ndarray) -> np.ndarray:
        """A whole-image array holding ``frame_values`` in the frame, zero elsewhere."""
        if self.whole_image:
            return frame_values
        out = np.zeros(self.image_size, frame_values.dtype)
        out[self.frame] = frame_values
        return out

    def with_chosen(self, chosen: int) -> Proposal:
        return replace(self, chosen=chosen % self.count)

    @property
    def count(self) -> int:
        return int(self.scores.shape[0])

    @property
    def score(self) -> float:
        return float(self.scores[self.chosen])

    def mask(self, rows: slice | np.ndarray = slice(None), cols: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The chosen candidate as bool, for a rectangle or ascending sampled rows/columns of the image
        (only the samples inside its positive region are upsampled)."""
        logits = self.low_res_logits[self.chosen]
        (x0, y0), (h, w) = self.origin, self.original_size
        height, width = self.image_size or self.original_size
        r = np.arange(height)[rows] - y0
        c = np.arange(width)[cols] - x0
        r_in, c_in = (r >= 0) & (r < h), (c >= 0) & (c < w)
        if r_in.all() and c_in.all():
            return sampled_mask(logits, self.input_size, self.original_size, r, c)
        out = np.zeros((r.size, c.size), bool)
        if r_in.any() and c_in.any():
            out[np.ix_(r_in, c_in)] = sampled_mask(logits, self.input_size, self.original_size, r[r_in], c[c_in])
        return out

    def full(self) -> np.ndarray:
        """The chosen candidate as a bool whole-image mask (computed on its bounding region only)."""
        return self._place(full_mask(self.low_res_logits[self.chosen], self.input_size, self.original_size))

    def refined(self, rgb: np.ndarray) -> np.ndarray:
        """The chosen candidate as ``uint8`` alpha with its edge refined against ``rgb`` (whole image)."""
        return self._place(refine_alpha(rgb[self.frame], self.low_res_logits[self.chosen], self.input_size,
                                        self.original_size))


class Document:
    """Everything the user is editing for one image."""

    def __init__(self, image: LoadedImage, path: Path | None = None) -> None:
        self.image = image
        self.path = path
        h, w = image.size
        self.selection = np.zeros((h, w), np.uint8)
        self.history = History()
        self.prompt = StrokePrompt((h, w))
        self.proposal: Proposal | None = None
        # The prompt's frame: None = the whole image, else a zoomed region (x0, y0, x1, y1); chosen
        # when the prompt's first stroke or box begins and kept until the prompt ends.
        self.frame: tuple[int, int, int, int] | None = None
        # Mask input for each stroke: the chosen logits shown when the stroke began (None for the first).
        self._stroke_bases: list[np.ndarray | None] = []
        self._live_base: np.ndarray | None = None
        self._undone: list[tuple[Stroke, np.ndarray | None]] = []
        self._saved_selection = self.selection  # selections are replaced, never changed in place

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    @property
    def unsaved(self) -> bool:
        """Work the user would lose by closing: a selection unlike the one last saved (or loaded),
        or strokes or a box whose proposal has not been applied."""
        return not self.prompt.empty or not np.array_equal(self.selection, self._saved_selection)

    def mark_saved(self, selection: np.ndarray | None = None) -> None:
        """``selection`` (default: the current one) is now safe on disk, or is what the image came with."""
        self._saved_selection = self.selection if selection is None else selection

    # prompt --------------------------------------------------------------------------------
    def _chosen_logits(self) -> np.ndarray | None:
        p = self.proposal
        return None if p is None else p.low_res_logits[p.chosen]

    def _set_frame(self, frame: tuple[int, int, int, int] | None) -> None:
        """A new prompt's frame; strokes are spaced by the frame's size (what the encoder saw)."""
        if self.prompt.empty:
            self.frame = frame
            self.prompt.image_size = self.size if frame is None else (frame[3] - frame[1], frame[2] - frame[0])

    def begin_stroke(self, frame: tuple[int, int, int, int] | None = None) -> None:
        """Call on press: the proposal shown now becomes the mask input of the new stroke. A new
        prompt is decoded in ``frame`` (a zoomed region ``(x0, y0, x1, y1)``, or None: the image)."""
        self._set_frame(frame)
        self._live_base = self._chosen_logits()

    def add_stroke(self, stroke: Stroke) -> None:
        """Call on release with the finished stroke."""
        self.prompt.strokes.append(stroke)
        self._stroke_bases.append(self._live_base)
        self._live_base = None
        self._undone.clear()

    def set_box(self, box: tuple[float, float, float, float] | None,
                frame: tuple[int, int, int, int] | None = None) -> None:
        self._set_frame(frame)
        self.prompt.box = box

    def engine_prompt(self, live: Stroke | None = None) -> Prompt:
        """The decoder prompt: finished strokes, the stroke being drawn, the box; the mask input is the
        proposal that was shown when the newest stroke began (SAM's iterative refinement)."""
        points, labels = self.prompt.points_and_labels(live)
        if live is not None:
            mask_input = self._live_base
        else:
            mask_input = self._stroke_bases[-1] if self._stroke_bases else None
        box = self.prompt.box
        if self.frame is not None:  # into the frame's own pixels
            x0, y0 = self.frame[:2]
            points = [(x - x0, y - y0) for x, y in points]
            box = None if box is None else (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
        return Prompt(points=points, labels=labels, box=box, mask_input=mask_input)

    @property
    def frame_origin(self) -> tuple[int, int]:
        return (0, 0) if self.frame is None else (self.frame[0], self.frame[1])

    def set_proposal(self, low_res: np.ndarray, scores: np.ndarray, chosen: int, input_size: tuple[int, int],
                     original_size: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> Proposal:
        """Show a decoder result (``C x 256 x 256`` logits of the frame at ``origin``) with candidate
        ``chosen`` selected."""
        self.proposal = Proposal(low_res, scores, chosen, input_size, original_size, origin, self.size)
        return self.proposal

    def cycle_candidate(self, step: int = 1) -> Proposal | None:
        if self.proposal is None:
            return None
        self.proposal = self.proposal.with_chosen(self.proposal.chosen + step)
        return self.proposal

    def drop_proposal(self) -> None:
        self.prompt = StrokePrompt(self.size)
        self.proposal = None
        self.frame = None
        self._stroke_bases.clear()
        self._live_base = None
        self._undone.clear()

    # selection -----------------------------------------------------------------------------
    def _apply(self, label: str, new: np.ndarray) -> bool:
        old = self.selection
        if not self.history.record(label, old, new):
            return False
        self.selection = new
        return True

    def commit(self, mode: Mode, refine: bool = False) -> bool:
        """Merge the proposal into the selection with ``mode`` (its edge refined against the image when
        ``refine``); the prompt starts afresh."""
        if self.proposal is None:
            return False
        proposal = self.proposal.refined(self.image.rgb) if refine else self.proposal.full()
        changed = self._apply(f"{mode.value} selection", ops.combine(self.selection, proposal, mode))
        self.drop_proposal()
        return changed

    def select_all(self) -> bool:
        return self._apply("select all", np.full_like(self.selection, 255))

    def select_none(self) -> bool:
        return self._apply("select none", np.zeros_like(self.selection))

    def invert(self) -> bool:
        return self._apply("invert selection", 255 - self.selection)

    def grow(self, pixels: int) -> bool:
        return self._apply(f"grow {pixels} px", ops.grow(self.selection, pixels))

    def shrink(self, pixels: int) -> bool:
        return self._apply(f"shrink {pixels} px", ops.shrink(self.selection, pixels))

    def feather(self, pixels: float) -> bool:
        return self._apply(f"feather {pixels:g} px", ops.feather(self.selection, pixels))

    def smooth(self, pixels: float) -> bool:
        return self._apply(f"smooth {pixels:g} px", ops.smooth(self.selection, pixels))

    # brushes -------------------------------------------------------------------------------
    def paint(self, path: np.ndarray, radius: float, add: bool) -> bool:
        """Paint (``add``) or erase a round brush of ``radius`` px along ``path`` (``N x 2`` (x, y) pixels)."""
        return self._apply("paint" if add else "erase", ops.paint(self.selection, path, radius, add))

    def refine_brush(self, path: np.ndarray, radius: float) -> bool:
        """Let the image decide the alpha where the brush went (soft where its edge is soft)."""
        swept = ops.stroke_coverage(self.size, path, radius)
        if swept is None:
            return False
        box, weight = swept
        y0, y1, x0, x1 = box
        new = self.selection.copy()
        filter_radius = int(np.clip(round(radius / 4), 2, 32))
        new[y0:y1, x0:x1] = refine_region(self.image.rgb, self.selection, box, weight, filter_radius)
        return self._apply("refine edge", new)

    # undo ----------------------------------------------------------------------------------
    def undo(self) -> str | None:
        """Undo the last stroke of the prompt being drawn, else the last selection change."""
        if self.prompt.strokes:
            self._undone.append((self.prompt.strokes.pop(), self._stroke_bases.pop()))
            if self.prompt.empty:
                self.proposal = None
            return "stroke"
        selection = self.selection.copy()
        label = self.history.undo(selection)
        self.selection = selection
        return label

    def redo(self) -> str | None:
        if self._undone:
            stroke, base = self._undone.pop()
            self.prompt.strokes.append(stroke)
            self._stroke_bases.append(base)
            return "stroke"
        selection = self.selection.copy()
        label = self.history.redo(selection)
        self.selection = selection
        return label
