"""Driving the canvas with real mouse events."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def widget_point(canvas, x: float, y: float) -> QPoint:
    p: QPointF = canvas.to_widget(x, y)
    return QPoint(round(p.x()), round(p.y()))


def drag(canvas, path_image_xy, button=Qt.MouseButton.LeftButton,
         modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at the first point, move through the rest, release at the last (image coordinates)."""
    pts = [widget_point(canvas, x, y) for x, y in path_image_xy]
    QTest.mousePress(canvas, button, modifier, pts[0])
    for p in pts[1:]:
        QTest.mouseMove(canvas, p)
    QTest.mouseRelease(canvas, button, modifier, pts[-1])


def wait_for_encode(qtbot, window, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: window.bridge.handle is not None and window.bridge.handle.embedding.done(),
                    timeout=timeout)
    qtbot.waitUntil(lambda: window.status.encoder_label.text().startswith("Ready"), timeout=timeout)


def wait_for_proposal(qtbot, window, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: window.editor.proposal is not None and not window.editor.awaiting_answer, timeout=timeout)


def answer_next_message_box(button) -> list[str]:
    """Click ``button`` in the next message box that opens (modal ``exec`` included); returns a list
    that receives each answered box's text."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen: list[str] = []

    def boxes() -> list[QMessageBox]:
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]

    earlier = set(map(id, boxes()))  # boxes an earlier step left open are not "the next one"

    def answer() -> None:
        box = next((w for w in boxes() if id(w) not in earlier), None)
        if box is None:
            QTimer.singleShot(50, answer)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(50, answer)
    return seen


def open_now(qtbot, window, path, timeout: int = 30_000) -> bool:
    """Open ``path`` as File > Open does (decoded in the background) and wait until that is over;
    returns whether the window shows it now."""
    from pathlib import Path

    task = window.files.open_path(Path(path))
    qtbot.waitUntil(lambda: task.future.done() and task not in window.runner.active(), timeout=timeout)
    return window.editor is not None and window.editor.path == Path(path)


def save_now(qtbot, window, path, cutout: bool, timeout: int = 30_000) -> None:
    """Save the cutout or mask on the save lane and wait until it is written (or has failed)."""
    task = window.files.save_in_background(path, cutout=cutout)
    qtbot.waitUntil(lambda: task.future.done() and task not in window.runner.active(), timeout=timeout)
