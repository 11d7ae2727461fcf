"""The Object Finder in the app: after an image is encoded, its objects are found in the
background, one grid point per decode, at the lowest priority.

A step is asked for only when the decode lane is idle and the user has not touched the canvas
for ``QUIET_S``: strokes and hover previews always go first, and the finder resumes by itself
once the user pauses. The objects are kept with the embedding (memory and disk), so reopening an
image finds them at once. Once found, hovering needs no decode (``HoverPreview``), a click on a
highlighted object takes it, and Select > Subject proposes the main one.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from samcut.gui.window_parts import FinderHost
from samcut.models.engine.finder import FoundObject, ObjectFinder, main_subject, object_under, subject_note
from samcut.models.engine.service import DecodeResult

QUIET_S = 0.3


class FinderRun(QObject):
    """Finds the open image's objects for ``window`` (a MainWindow); ``objects`` once done."""

    found = Signal(int)  # how many objects

    def __init__(self, window: FinderHost) -> None:
        super().__init__(window)
        self.window = window
        self.objects: list[FoundObject] | None = None
        self.ticket = 0
        self.finder: ObjectFinder | None = None
        self.next_index = 0
        self._last_input = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._step)
        canvas = window.canvas
        for signal in (canvas.strokeStarted, canvas.strokeMoved, canvas.boxDrawn, canvas.brushFinished):
            signal.connect(self._touched)

    def _touched(self, *_args: object) -> None:
        self._last_input = time.perf_counter()

    def attach(self, bridge: Any) -> None:  # noqa: ANN401 - EngineBridge
        bridge.encodeFinished.connect(lambda ticket, _ms, _cached: self.start(ticket))
        bridge.upgraded.connect(lambda ticket, *_rest: self.start(ticket))  # found again, by the better model
        bridge.upgradeFailed.connect(lambda ticket, _message: self.start(ticket))
        bridge.encodeStarted.connect(lambda _ticket: self.reset())
        bridge.finderStep.connect(self._on_step)

    def reset(self) -> None:
        self.objects, self.finder, self.ticket = None, None, 0
        self._timer.stop()
        self.window.status.finder_label.setText("")
        self.window.status.finder_label.setToolTip("")

    def start(self, ticket: int) -> None:
        """The image ``ticket`` is encoded: take its objects from the cache, or start finding them
        (while the quality model still encodes, the finder waits for it: its decodes would take
        that encode's CPU, and the objects are found once, by the better model)."""
        bridge = self.window.bridge
        if bridge is None or bridge.handle is None or bridge.handle.ticket != ticket:
            return
        self.reset()
        self.ticket = ticket
        handle = bridge.handle
        cached = bridge.service.objects_for(handle)
        if cached is not None:
            self._done(cached, "from the cache")
            return
        if bridge.upgrading:
            self.window.status.finder_label.setText("Objects: after the quality model")
            return
        embedding = handle.embedding.result()
        self.finder = ObjectFinder(embedding.original_size, embedding.input_size)
        self.next_index = 0
        self._timer.start(0)

    def _step(self) -> None:
        bridge = self.window.bridge
        if self.finder is None or bridge is None or bridge.handle is None or bridge.handle.ticket != self.ticket:
            return
        quiet = time.perf_counter() - self._last_input
        if quiet < QUIET_S or not bridge.idle:  # the user first
            self._timer.start(int(max(0.05, QUIET_S - quiet) * 1000) if quiet < QUIET_S else 50)
            return
        if self.next_index >= len(self.finder.points):
            self._finish()
            return
        bridge.request_finder(*self.finder.points[self.next_index])

    def _on_step(self, result: DecodeResult | None, point: tuple[float, float], ticket: int) -> None:
        if ticket != self.ticket or self.finder is None:
            return
        if result is not None:
            self.finder.add(point, result.low_res_logits, result.scores)
        self.next_index += 1
        total = len(self.finder.points)
        self.window.status.finder_label.setText(f"Finding objects… {100 * self.next_index // total}%")
        self._timer.start(0)

    def _finish(self) -> None:
        finder, ticket, bridge = self.finder, self.ticket, self.window.bridge
        self.finder = None
        handle = bridge.handle

        def dedupe(_cancel: object) -> list[FoundObject]:
            objects = finder.objects()
            bridge.service.store_objects(handle, objects)
            return objects

        self.window.runner.run("finder", dedupe, lambda objects: ticket == self.ticket and self._done(objects),
                               label="finding objects")

    def _done(self, objects: list[FoundObject], how: str = "") -> None:
        self.objects = objects
        if self.window.editor is not None:
            self.window.editor.found = objects  # from now on a click takes the object under it
        guesses = bool(objects) and not objects[0].passed  # the finder's fallback (see finder.py)
        label = f"{len(objects)} best guesses" if guesses else f"{len(objects)} objects"
        self.window.status.finder_label.setText(label + (f" ({how})" if how else ""))
        note = subject_note(objects)
        self.window.status.finder_label.setToolTip(note[:1].upper() + note[1:] + "; hover, clicks and Subject use them"
                                                   if note else "")
        self.found.emit(len(objects))

    # what the window asks ------------------------------------------------------------------
    def under(self, x: float, y: float) -> FoundObject | None:
        """The found object under image point ``(x, y)``, if the finder is done."""
        editor = self.window.editor
        if self.objects is None or editor is None:
            return None
        return object_under(self.objects, (x, y), editor.size)

    def subject(self) -> FoundObject | None:
        editor = self.window.editor
        return None if self.objects is None or editor is None else main_subject(self.objects, editor.size)
