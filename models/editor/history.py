"""One linear undo history for an image session.

A ``Step`` changes the selection's pixels in one rectangle, the prompt, or both (applying a
proposal does both: the selection gains it and the prompt starts afresh). Steps sit on one
timeline in the order they happened; undo walks back along it and redo forward, whatever kind
each step is. Only the changed rectangle's pixels are kept, taken from the edit's own box (a
brush stroke's swept area), never from a whole-image diff.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np

from samcut.models.document.strokes import Stroke
from samcut.models.editor.proposal import Proposal
from samcut.models.engine.types import XYXY, RowSpans

_selection_ids = itertools.count(1)


def new_selection_id() -> int:
    """A fresh identity for a selection's content (see ``Step.selection_before``)."""
    return next(_selection_ids)


@dataclass(frozen=True)
class MaskBase:
    """A stroke's mask input: the chosen low-res logits (``256 x 256`` float32) shown when it began,
    and the ``model`` that decoded them (another model's logits are not its mask input: the prompt
    is replayed on the new model instead, ``Editor.decode_request``)."""

    logits: np.ndarray
    model: str = ""


@dataclass(frozen=True)
class PromptState:
    """The prompt being built for one object, immutable so that history can share it.

    ``strokes``: finished strokes in image pixels; ``bases``: for each stroke, the proposal shown
    when it began (``MaskBase``), its mask input (None for the first);
    ``box``: ``(x0, y0, x1, y1)`` image pixels or None; ``frame``: the zoomed region
    ``(x0, y0, x1, y1)`` the prompt is decoded in, None for the whole image. ``shown``: the
    proposal (candidate chosen) that this prompt had when the user left it, or that it is made of
    (a found object taken with a click): undo and redo bring back that very proposal, no decode.
    """

    strokes: tuple[Stroke, ...] = ()
    bases: tuple[MaskBase | None, ...] = field(default=(), compare=False)
    box: tuple[float, float, float, float] | None = None
    frame: XYXY | None = None
    shown: Proposal | None = field(default=None, compare=False)

    @property
    def empty(self) -> bool:
        return not self.strokes and self.box is None


EMPTY_PROMPT = PromptState()


@dataclass(frozen=True)
class Step:
    """One undoable step.

    ``box`` and ``before``/``after`` (``uint8`` pixels of that rectangle) when the selection
    changed, else None; ``prompt_before``/``prompt_after`` when the prompt changed, else None.
    ``selection_before``/``selection_after`` name the selection's content on either side (equal
    when the step leaves the selection alone), which is how "saved" is remembered.
    """

    label: str
    box: RowSpans | None = None
    before: np.ndarray | None = None
    after: np.ndarray | None = None
    prompt_before: PromptState | None = None
    prompt_after: PromptState | None = None
    selection_before: int = 0
    selection_after: int = 0

    @property
    def nbytes(self) -> int:
        """Bytes held: the pixels, and the logits of proposals kept with the prompts."""
        held = [a for a in (self.before, self.after) if a is not None]
        held += [p.shown.low_res_logits for p in (self.prompt_before, self.prompt_after)
                 if p is not None and p.shown is not None]
        return sum(a.nbytes for a in held)


def changed_box(old: np.ndarray, new: np.ndarray) -> RowSpans | None:
    """Bounding rectangle ``(y0, y1, x0, x1)`` of the pixels that differ, or None.

    For whole-image operations (invert, grow, apply), whose cost is the image's anyway."""
    diff = old != new
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0]:rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class Timeline:
    """Steps in the order they happened and a cursor: steps before it are done, after it undone.

    Bounded by step count and by pixel bytes held (the oldest steps go first; the newest step is
    always kept). ``max_steps=0`` keeps no history at all (scripts that never undo).
    """

    def __init__(self, max_steps: int = 200, max_bytes: int = 512 * 2**20) -> None:
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._steps: list[Step] = []
        self._cursor = 0

    @property
    def keeps_history(self) -> bool:
        return self.max_steps > 0

    @property
    def can_undo(self) -> bool:
        return self._cursor > 0

    @property
    def can_redo(self) -> bool:
        return self._cursor < len(self._steps)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._steps)

    @property
    def position(self) -> int:
        """How many steps are done (the cursor)."""
        return self._cursor

    def __len__(self) -> int:
        return len(self._steps)

    def undo_label(self) -> str | None:
        return self._steps[self._cursor - 1].label if self.can_undo else None

    def redo_label(self) -> str | None:
        return self._steps[self._cursor].label if self.can_redo else None

    def push(self, step: Step) -> None:
        """Add ``step`` after the cursor; the steps that were undone are forgotten."""
        del self._steps[self._cursor:]
        if not self.keeps_history:
            self._cursor = 0
            return
        self._steps.append(step)
        held = self.nbytes
        while len(self._steps) > self.max_steps or (len(self._steps) > 1 and held > self.max_bytes):
            held -= self._steps.pop(0).nbytes
        self._cursor = len(self._steps)

    def remember_shown(self, prompt: PromptState, shown: PromptState) -> None:
        """The current ``prompt`` is being left as ``shown`` (with its proposal): every step that
        restores ``prompt`` (the redo of the step that made it, the undo of the one after it, across
        steps that left the prompt alone) restores ``shown`` instead."""
        for index, step in enumerate(self._steps):
            if step.prompt_after is prompt:
                self._steps[index] = step = replace(step, prompt_after=shown)
            if step.prompt_before is prompt:
                self._steps[index] = replace(step, prompt_before=shown)

    def step_back(self) -> Step | None:
        """The step to revert (the cursor moves before it), or None at the start."""
        if not self.can_undo:
            return None
        self._cursor -= 1
        return self._steps[self._cursor]

    def step_forward(self) -> Step | None:
        """The step to re-apply (the cursor moves after it), or None at the end."""
        if not self.can_redo:
            return None
        self._cursor += 1
        return self._steps[self._cursor - 1]
