"""The window's toolbars and status bar: widgets only, filled in by ``MainWindow``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QToolBar

from samcut.gui.actions import build_mode_group, build_tool_group
from samcut.gui.icons import tool_icon
from samcut.models.document.selection import Mode


def _busy_bar() -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, 0)
    bar.setMaximumWidth(120)
    bar.setVisible(False)
    return bar


@dataclass
class Toolbars:
    """What the window changes on its toolbars after building them."""

    mode_actions: dict[Mode, QAction]
    tool_actions: dict[str, QAction]
    refine_action: QAction
    candidate_label: QLabel
    host_toolbar: QToolBar


def build_toolbars(window: QMainWindow, actions: dict[str, QAction], on_mode: Callable[[Mode], None],
                   on_tool: Callable[[str], None]) -> Toolbars:
    """Top bar (file, undo, modes, proposal), the tool palette on the left, a hidden host bar."""
    bar = QToolBar("Tools", window)
    bar.setObjectName("tools")
    bar.setMovable(False)
    window.addToolBar(bar)
    for name in ("open", "save_cutout", "undo", "redo"):
        bar.addAction(actions[name])
    bar.addSeparator()
    bar.addWidget(QLabel(" Mode: "))
    mode_group, mode_actions = build_mode_group(window, on_mode)
    for action in mode_group.actions():
        bar.addAction(action)
    palette = QToolBar("Tool palette", window)  # the tools on the left, as in image editors
    palette.setObjectName("palette")
    palette.setMovable(False)
    window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, palette)
    tool_actions = build_tool_group(window, on_tool)
    palette.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    palette.setIconSize(QSize(24, 24))
    for name, action in tool_actions.items():
        action.setIcon(tool_icon(name))
        palette.addAction(action)
    palette.addSeparator()
    refine = palette.addAction("Refine Edges")
    refine.setCheckable(True)
    refine.setChecked(True)
    refine.setShortcut("E")
    refine.setStatusTip("Snap applied proposals to the image's edges at full resolution (E)")
    bar.addSeparator()
    for name in ("commit", "drop", "next_candidate"):
        bar.addAction(actions[name])
    candidate_label = QLabel("")
    bar.addWidget(candidate_label)
    host = QToolBar("Host", window)
    host.setObjectName("host")
    host.setMovable(False)
    host.setVisible(False)
    window.addToolBar(host)
    return Toolbars(mode_actions, tool_actions, refine, candidate_label, host)


class StatusPanel:
    """The status bar's fields: image size, encoder state (+ busy bar), last decode, background
    work (+ busy bar), a message field for what just happened, zoom (permanent, right). Messages
    get a field of their own: Qt's ``showMessage`` would paint over the other fields."""

    def __init__(self, window: QMainWindow) -> None:
        status = window.statusBar()
        self.size_label = QLabel("")
        self.encoder_label = QLabel("No image")
        self.encode_bar = _busy_bar()
        self.decode_label = QLabel("")
        self.work_bar = _busy_bar()
        self.message_label = QLabel("")
        self.finder_label = QLabel("")  # the Object Finder's progress, then how many objects it found
        self.quality_label = QLabel("")  # the quality model: its progress, then that it answers
        self.quality_bar = QProgressBar()
        self.quality_bar.setRange(0, 100)
        self.quality_bar.setMaximumWidth(100)
        self.quality_bar.setTextVisible(False)
        self.quality_bar.setVisible(False)
        self.zoom_label = QLabel("")
        for widget in (self.size_label, self.encoder_label, self.encode_bar, self.quality_label, self.quality_bar,
                       self.decode_label, self.finder_label, self.work_bar, self.message_label):
            status.addWidget(widget)
        status.addPermanentWidget(self.zoom_label)
        self._message_timer = QTimer(window)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.message_label.setText(""))

    def say(self, text: str, ms: int = 0) -> None:
        """Show ``text`` in the message field (for ``ms`` milliseconds; 0: until the next message)."""
        self.message_label.setText(text)
        self._message_timer.stop()
        if ms:
            self._message_timer.start(ms)

    def encoder(self, text: str, busy: bool = False) -> None:
        self.encoder_label.setText(text)
        self.encode_bar.setVisible(busy)

    def quality(self, text: str, fraction: float | None = None) -> None:
        """The quality model's state; ``fraction`` (0-1) shows its progress bar."""
        self.quality_label.setText(text)
        self.quality_bar.setVisible(fraction is not None)
        if fraction is not None:
            self.quality_bar.setValue(int(fraction * 100))
