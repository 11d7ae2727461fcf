"""Make ``docs/app.png``: the real window on a test composite, a selection applied and a new
proposal on screen, with the synthetic reference model (``SAMCUT_REFERENCE_DIR``).

    SAMCUT_REFERENCE_DIR=../shared/reference .venv/bin/python scripts/screenshot.py [OUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]


def wait(app: Any, condition: Callable[[], object], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.02)


def click(canvas: Any, x: float, y: float) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    p = canvas.to_widget(x, y)
    QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(round(p.x()),
                                                                                                 round(p.y())))


def drag_box(canvas: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Ctrl + drag: a box, as the Box tool draws it."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    a, b = canvas.to_widget(*start), canvas.to_widget(*end)
    ctrl = Qt.KeyboardModifier.ControlModifier
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, ctrl, QPoint(round(a.x()), round(a.y())))
    QTest.mouseMove(canvas, QPoint(round((a.x() + b.x()) / 2), round((a.y() + b.y()) / 2)))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, ctrl, QPoint(round(b.x()), round(b.y())))


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import SegmentationService
    from samcut.models.store.convert import convert_checkpoint

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "app.png"
    reference = Path(os.environ.get("SAMCUT_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    work = Path(tempfile.mkdtemp(prefix="samcut-shot-"))
    os.environ["SAMCUT_CONFIG_DIR"] = str(work / "config")
    model = convert_checkpoint(reference / "synthetic" / "mobile_sam_synthetic.pt", work / "model") and work / "model"
    app = QApplication.instance() or QApplication(sys.argv[:1])
    bridge = EngineBridge(SegmentationService(SamEngine(model)))
    window = MainWindow(bridge, Preferences())
    window.resize(1100, 720)
    window.show()
    window.files.open_path(reference / "synthetic" / "composite_1.png")
    wait(app, lambda: window.editor is not None and window.status.encoder_label.text().startswith("Ready"))
    wait(app, lambda: window.finder.objects is not None, 600)  # the finder's count shows in the status bar
    window.bars.refine_action.setChecked(True)
    drag_box(window.canvas, (530, 540), (1185, 1023))  # the Box tool around the pasted object
    wait(app, lambda: window.editor.proposal is not None and not window.editor.awaiting_answer)
    window.apply_proposal()
    click(window.canvas, 300, 300)
    wait(app, lambda: window.editor.proposal is not None and not window.editor.awaiting_answer)
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(out))
    print(out)
    window.editor.mark_saved()
    window.editor.drop_proposal()
    window.close()


if __name__ == "__main__":
    main()
