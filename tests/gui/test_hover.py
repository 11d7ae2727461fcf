"""Hover preview: the object a click would take shows under the pointer, before any button goes
down; hovering never makes a stroke's mask wait more than one decode."""

from __future__ import annotations

import threading
import time

import numpy as np
from fake_engine import FakeEngine
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from helpers import open_now, wait_for_encode, widget_point


class SlowFakeEngine(FakeEngine):
    """Each decode takes ``delay`` seconds; logs (start, end, first point) of every decode."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.log: list[tuple[float, float, tuple[float, float]]] = []
        self._lock = threading.Lock()

    def decode_low_res(self, embedding, prompt):
        start = time.perf_counter()
        time.sleep(self.delay)
        out = super().decode_low_res(embedding, prompt)
        with self._lock:
            self.log.append((start, time.perf_counter(), tuple(prompt.points[0]) if prompt.points else (-1, -1)))
        return out


def hover_at(canvas, x: float, y: float) -> None:
    """A pointer move over the canvas with no button down, sent to it directly (QTest's moves go
    wherever the shared offscreen cursor's window is, which an earlier test may have left)."""
    point = QPointF(widget_point(canvas, x, y))
    event = QMouseEvent(QEvent.Type.MouseMove, point, canvas.mapToGlobal(point), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, event)


def open_photo(qtbot, window, tmp_path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 240), (90, 120, 150)).save(path)
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)


def test_hover_shows_what_a_click_would_select_without_pressing(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    open_photo(qtbot, window, tmp_path)
    hover_at(window.canvas, 160, 120)
    qtbot.waitUntil(lambda: window.canvas._hover is not None, timeout=60_000)
    hover = window.canvas._hover.full()
    assert hover[120, 160] and hover.sum() < hover.size / 2  # the object under the pointer
    assert window.editor.proposal is None and window.editor.prompt.empty  # nothing was clicked
    assert window.hover.latencies_ms and window.hover.latencies_ms[-1] < 5000
    # A click there gives the mask the preview showed.
    QTest.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     widget_point(window.canvas, 160, 120))
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    np.testing.assert_array_equal(window.editor.proposal.full(), hover)
    assert window.canvas._hover is None  # the preview gave way to the proposal
    # Off in the View menu (and remembered): no preview at all.
    window.actions_by_name["hover_preview"].setChecked(False)
    assert window.preferences.hover_preview is False
    window.drop_proposal()
    hover_at(window.canvas, 100, 100)
    qtbot.wait(300)
    assert window.canvas._hover is None


def test_hovering_never_delays_a_stroke_by_more_than_one_decode(qtbot, window_on, tmp_path) -> None:
    engine = SlowFakeEngine(delay=0.15)
    window = window_on(engine)
    open_photo(qtbot, window, tmp_path)
    canvas = window.canvas
    for x in range(40, 120, 4):  # the pointer wanders: hover decodes keep coming
        hover_at(canvas, x, 60)
        qtbot.wait(10)
    qtbot.waitUntil(lambda: bool(engine.log), timeout=60_000)
    pressed = time.perf_counter()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 250, 180))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       widget_point(canvas, 250, 180))
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    stroke_decodes = [entry for entry in engine.log if entry[2] == (250.0, 180.0) or abs(entry[2][0] - 250) < 2]
    assert stroke_decodes
    first_stroke_start = min(start for start, _end, _p in stroke_decodes)
    hovers_between = [e for e in engine.log
                      if pressed <= e[0] < first_stroke_start and e not in stroke_decodes]
    assert hovers_between == []  # no hover decode started after the press went before the stroke
    assert first_stroke_start - pressed < engine.delay * 1.5  # at most the one hover in flight
