"""Hover preview: with the Smart Brush and no button down, the object a click would take is drawn
lightly under the pointer (as Photoshop's Object Selection does).

Pointer moves become hover decodes through ``EngineBridge.request_hover``: one in flight, the
newest position waiting, strokes first. A preview is shown only while it still answers where
the pointer is (within ``STALE_PX`` screen pixels) and nothing else is going on: no prompt or
proposal, no drag, the Smart Brush chosen, the image encoded. On/off in the View menu.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject

from samcut.gui.window_parts import HoverHost
from samcut.models.editor.proposal import Proposal
from samcut.models.engine.service import DecodeResult

STALE_PX = 24.0


class HoverPreview(QObject):
    """Connects the canvas's pointer to the bridge's hover decodes for ``window`` (a MainWindow)."""

    def __init__(self, window: HoverHost, enabled: bool) -> None:
        super().__init__(window)
        self.window = window
        self.enabled = enabled
        self.pointer: tuple[float, float] | None = None
        self.asked_at: dict[tuple[float, float], float] = {}
        self.latencies_ms: list[float] = []  # pointer move -> preview set, for the bench and tests
        self._shown_object: object = None  # the found object the preview shows, if it is one
        window.canvas.hovered.connect(self.on_pointer)
        window.canvas.strokeStarted.connect(lambda _x, _y: self.clear())
        window.canvas.boxDrawn.connect(lambda _box: self.clear())

    def attach(self, bridge: Any) -> None:  # noqa: ANN401 - EngineBridge
        bridge.hoverReady.connect(self.on_result)

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if not on:
            self.clear()

    def _wanted(self) -> bool:
        window = self.window
        editor = window.editor
        return (self.enabled and editor is not None and window.bridge is not None
                and window.canvas.tool == "smart" and not window.canvas.dragging
                and editor.prompt.empty and editor.proposal is None)

    def on_pointer(self, x: float, y: float) -> None:
        if not self._wanted():
            self.clear()
            return
        h, w = self.window.editor.size
        if not (0 <= x < w and 0 <= y < h):
            self.clear()
            return
        self.pointer = (x, y)
        if self.window.finder.objects is not None:  # the objects are known: no decode at all
            started = time.perf_counter()
            found = self.window.finder.under(x, y)
            if found is self._shown_object and found is not None:
                return  # the same object: nothing to redraw
            self._shown_object = found
            if found is None:
                self.window.canvas.set_hover(None)
            else:
                self.window.canvas.set_hover(Proposal.from_object(found, self.window.editor.size))
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            return
        self.asked_at[(x, y)] = time.perf_counter()
        if len(self.asked_at) > 64:  # only the newest few can still be answered
            self.asked_at = dict(list(self.asked_at.items())[-16:])
        self.window.bridge.request_hover(x, y)

    def on_result(self, result: DecodeResult, point: tuple[float, float]) -> None:
        asked = self.asked_at.pop(point, None)
        if not self._wanted() or self.pointer is None or asked is None:
            return
        scale = self.window.canvas.scale
        if max(abs(point[0] - self.pointer[0]), abs(point[1] - self.pointer[1])) * scale > STALE_PX:
            return  # the pointer has moved on; its own hover is on the way
        self.window.canvas.set_hover(Proposal.from_result(result, self.window.editor.size))
        self.latencies_ms.append((time.perf_counter() - asked) * 1000)

    def clear(self) -> None:
        self.pointer = None
        self._shown_object = None
        self.window.canvas.set_hover(None)
        if self.window.bridge is not None:
            self.window.bridge.cancel_hover()
