"""Undo/redo of the selection, storing only the changed rectangle of each step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Change:
    """One undoable step: the rectangle ``(y0, y1, x0, x1)`` and its pixels before and after."""

    label: str
    box: tuple[int, int, int, int]
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


def changed_box(old: np.ndarray, new: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding rectangle ``(y0, y1, x0, x1)`` of the pixels that differ, or None."""
    diff = old != new
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0]:rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class History:
    """Bounded undo/redo stacks of ``Change`` (by step count and by bytes held)."""

    def __init__(self, max_steps: int = 100, max_bytes: int = 512 * 2**20) -> None:
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._undo: list[Change] = []
        self._redo: list[Change] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._undo) + sum(c.nbytes for c in self._redo)

    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def record(self, label: str, old: np.ndarray, new: np.ndarray) -> bool:
        """Remember the step ``old -> new``; returns False (and records nothing) if nothing changed."""
        box = changed_box(old, new)
        if box is None:
            return False
        y0, y1, x0, x1 = box
        self._undo.append(Change(label, box, old[y0:y1, x0:x1].copy(), new[y0:y1, x0:x1].copy()))
        self._redo.clear()
        while len(self._undo) > self.max_steps or (len(self._undo) > 1 and self.nbytes > self.max_bytes):
            self._undo.pop(0)
        return True

    def _move(self, source: list[Change], target: list[Change], mask: np.ndarray, after: bool) -> str | None:
        if not source:
            return None
        change = source.pop()
        y0, y1, x0, x1 = change.box
        mask[y0:y1, x0:x1] = change.after if after else change.before
        target.append(change)
        return change.label

    def undo(self, mask: np.ndarray) -> str | None:
        """Revert the last step in ``mask`` (in place); returns its label."""
        return self._move(self._undo, self._redo, mask, after=False)

    def redo(self, mask: np.ndarray) -> str | None:
        """Re-apply the last undone step in ``mask`` (in place); returns its label."""
        return self._move(self._redo, self._undo, mask, after=True)

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
