"""Menu and toolbar actions of the main window, built from one table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from samcut.models.document.selection import Mode


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    shortcuts: tuple[str, ...] = ()
    tip: str = ""


MENUS: dict[str, list[ActionSpec | None]] = {
    "&File": [
        ActionSpec("open", "&Open…", ("Ctrl+O",)),
        ActionSpec("paste", "&Paste Image", ("Ctrl+V",), "Open the image on the clipboard"),
        None,
        ActionSpec("save_cutout", "Save &Cutout…", ("Ctrl+S",), "PNG with the selection as transparency"),
        ActionSpec("save_mask", "Save &Mask…", ("Ctrl+Shift+S",), "8-bit grey PNG of the selection"),
        ActionSpec("copy_cutout", "&Copy Cutout", ("Ctrl+C",), "Copy the cutout with transparency"),
        ActionSpec("decontaminate", "&Decontaminate Edge Colours", (),
                   "Cutouts: take the background's colour out of semi-transparent edge pixels"),
        None,
        ActionSpec("quit", "&Quit", ("Ctrl+Q",)),
    ],
    "&Edit": [
        ActionSpec("undo", "&Undo", ("Ctrl+Z",)),
        ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
        None,
        ActionSpec("commit", "&Apply Proposal", ("Return", "Enter"), "Merge the proposal into the selection"),
        ActionSpec("commit_add", "Apply as &Add", ("Shift+Return", "Shift+Enter")),
        ActionSpec("commit_subtract", "Apply as &Subtract", ("Alt+Return", "Alt+Enter")),
        ActionSpec("commit_intersect", "Apply as &Intersect", ("Shift+Alt+Return",)),
        ActionSpec("drop", "&Drop Proposal", ("Esc",)),
        ActionSpec("next_candidate", "&Next Candidate Mask", ("Tab",)),
        ActionSpec("prev_candidate", "Pre&vious Candidate Mask", ("Shift+Tab", "Backtab")),
        None,
        ActionSpec("brush_bigger", "Brush &Bigger", ("]",)),
        ActionSpec("brush_smaller", "Brush S&maller", ("[",)),
        None,
        ActionSpec("preferences", "Pre&ferences…", ("Ctrl+,",)),
    ],
    "&Select": [
        ActionSpec("select_all", "&All", ("Ctrl+A",)),
        ActionSpec("select_none", "&None", ("Ctrl+Shift+A",)),
        ActionSpec("subject", "S&ubject", ("Ctrl+Alt+Shift+S",), "Propose the image's main subject (Enter applies it)"),
        ActionSpec("reselect", "&Reselect", ("Ctrl+Shift+D",),
                   "Bring back the selection this image had when it was last open"),
        ActionSpec("invert", "&Invert", ("Ctrl+I",)),
        None,
        ActionSpec("grow", "&Grow…"),
        ActionSpec("shrink", "&Shrink…"),
        ActionSpec("feather", "&Feather…"),
        ActionSpec("smooth", "S&mooth…"),
    ],
    "&View": [
        ActionSpec("fit", "&Fit to Window", ("Ctrl+0",)),
        ActionSpec("actual_size", "&Actual Pixels (100%)", ("Ctrl+1",)),
        ActionSpec("zoom_in", "Zoom &In", ("Ctrl++", "Ctrl+=")),
        ActionSpec("zoom_out", "Zoom &Out", ("Ctrl+-",)),
        None,
        ActionSpec("cycle_view", "&Next View Mode", ("F",),
                   "Overlay, marching ants, on black, on white, on checkerboard, mask (as in Select and Mask)"),
        ActionSpec("previous_view", "Pre&vious View Mode", ("Shift+F",)),
        ActionSpec("hover_preview", "&Hover Preview", (),
                   "Smart Brush: show the object under the pointer before you click"),
        None,
        ActionSpec("encode_view", "&Encode Visible Region", ("Ctrl+E",),
                   "Encode what you see at the model's full resolution: finer masks, small objects found"),
        ActionSpec("auto_encode_view", "Re-encode When &Zoomed In", (),
                   "Encode the visible region by itself whenever you zoom in (1.5x or more)"),
    ],
    "&Help": [
        ActionSpec("install_model", "&Install Model…", (), "Download a model or install one from a file"),
        ActionSpec("about", "&About samcut"),
    ],
}

MODES = [(Mode.REPLACE, "Replace", "R"), (Mode.ADD, "Add", "A"), (Mode.SUBTRACT, "Subtract", "S"),
         (Mode.INTERSECT, "Intersect", "I")]


def build_actions(window: QMainWindow, handlers: dict[str, Callable[[], None]]) -> dict[str, QAction]:
    """Create every action in ``MENUS`` with its menu; ``handlers`` maps action names to slots."""
    actions: dict[str, QAction] = {}
    bar = window.menuBar()
    for title, specs in MENUS.items():
        menu: QMenu = bar.addMenu(title)
        actions[f"{title.strip('&').lower()}_menu"] = menu.menuAction()  # e.g. "view_menu"
        for spec in specs:
            if spec is None:
                menu.addSeparator()
                continue
            action = QAction(spec.text, window)
            action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.tip:
                action.setStatusTip(spec.tip)
            if spec.name in handlers:
                action.triggered.connect(handlers[spec.name])
            menu.addAction(action)
            window.addAction(action)
            actions[spec.name] = action
        if title == "&File":
            recent = QMenu("Open &Recent", window)
            menu.insertMenu(actions["paste"], recent)
            actions["recent_menu"] = recent.menuAction()
    return actions


TOOLS = [("smart", "Smart Brush", "W", "Strokes tell the model what to select (right-drag: what not to; "
                                        "Shift adds, Alt subtracts)"),
         ("box", "Box", "B", "Drag a box around an object (Ctrl+drag works with the Smart Brush too)"),
         ("paint", "Paint", "P", "Paint the selection pixel by pixel (right-drag erases)"),
         ("erase", "Erase", "X", "Erase from the selection pixel by pixel (right-drag paints)"),
         ("refine", "Refine Brush", "Shift+E", "Brush over hair, fur or blur: the image decides the alpha there")]


def _exclusive_group(window: QMainWindow, entries: list[tuple[object, str, str, str]],
                     on_pick: Callable[[object], None]) -> tuple[QActionGroup, dict[object, QAction]]:
    """Checkable actions of which one is on: ``entries`` are (value, text, key, tip); the first is on."""
    group = QActionGroup(window)
    group.setExclusive(True)
    by_value: dict[object, QAction] = {}
    for value, text, key, tip in entries:
        action = QAction(text, window)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(key))
        action.setStatusTip(f"{tip} ({key})")
        action.triggered.connect(lambda _checked=False, v=value: on_pick(v))
        group.addAction(action)
        window.addAction(action)
        by_value[value] = action
    by_value[entries[0][0]].setChecked(True)
    return group, by_value


def build_view_group(window: QMainWindow, menu: QMenu, views: tuple[tuple[str, str], ...],
                     on_view: Callable[[str], None]) -> dict[str, QAction]:
    """A "View Mode" submenu of ``menu`` with one checkable action per ``(name, text)`` of ``views``."""
    sub = QMenu("View &Mode", window)
    menu.insertMenu(menu.actions()[0], sub)
    group = QActionGroup(window)
    group.setExclusive(True)
    actions: dict[str, QAction] = {}
    for name, text in views:
        action = QAction(text, window)
        action.setCheckable(True)
        action.triggered.connect(lambda _checked=False, v=name: on_view(v))
        group.addAction(action)
        sub.addAction(action)
        actions[name] = action
    actions[views[0][0]].setChecked(True)
    return actions


def build_tool_group(window: QMainWindow, on_tool: Callable[[str], None]) -> dict[str, QAction]:
    """Exclusive tool actions (keys W, B, P, X, Shift+E); the smart brush is on."""
    return _exclusive_group(window, TOOLS, on_tool)[1]


def build_mode_group(window: QMainWindow, on_mode: Callable[[Mode], None]) -> tuple[QActionGroup, dict[Mode, QAction]]:
    """Exclusive Replace / Add / Subtract / Intersect actions (keys R, A, S, I); Replace is on."""
    entries = [(mode, text, key, f"Apply proposals in {text.lower()} mode") for mode, text, key in MODES]
    return _exclusive_group(window, entries, on_mode)
