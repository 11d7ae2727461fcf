"""The Qt for Python build in use must not lose references to None (PySide6 6.12.0 on Python 3.11 does)."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_void_calls_keep_none_alive(qtbot) -> None:
    from PySide6.QtWidgets import QLabel

    from samcut.gui.qt_check import binding_defect

    label = QLabel("x")
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(20_000):  # a few minutes of painting: about what killed the app with 6.12.0
        label.update()
        label.setText("y")
    assert sys.getrefcount(None) >= before - 100
    assert binding_defect() is None
