"""Paint, erase and refine brushes driven with real mouse events in the window."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from helpers import drag, open_now, save_now


def open_gradient(qtbot, window, tmp_path, h: int = 300, w: int = 450) -> None:
    y, x = np.mgrid[0:h, 0:w]
    Image.fromarray(np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8)).save(tmp_path / "g.png")
    assert open_now(qtbot, window, tmp_path / "g.png")


def test_paint_erase_and_undo_with_the_mouse(qtbot, window, tmp_path) -> None:
    open_gradient(qtbot, window, tmp_path)
    window.bars.tool_actions["paint"].trigger()
    assert window.canvas.tool == "paint"
    radius = window.canvas.brush_radius / window.canvas.scale  # brush size on screen -> image pixels
    drag(window.canvas, [(100, 150), (200, 150), (300, 150)])
    sel = window.editor.selection
    assert sel[150, 200] == 255 and sel[150, 300] == 255
    assert sel[150 + int(radius) + 3, 200] == 0 and sel[150, 300 + int(radius) + 3] == 0
    assert window.editor.prompt.empty and window.editor.proposal is None  # not a SAM prompt
    drag(window.canvas, [(200, 100), (200, 200)], button=Qt.MouseButton.RightButton)  # right-drag erases
    assert window.editor.selection[150, 200] == 0 and window.editor.selection[150, 300] == 255
    window.actions_by_name["undo"].trigger()
    assert window.editor.selection[150, 200] == 255
    window.bars.tool_actions["erase"].trigger()
    drag(window.canvas, [(300, 140), (300, 160)])
    assert window.editor.selection[150, 300] == 0
    window.bars.tool_actions["smart"].trigger()
    assert window.canvas.tool == "smart"


def test_refine_brush_changes_only_where_it_went(qtbot, window, tmp_path) -> None:
    open_gradient(qtbot, window, tmp_path)
    window.editor.selection[:, :225] = 255  # a straight edge at x = 225 across a soft gradient
    before = window.editor.selection.copy()
    window.bars.tool_actions["refine"].trigger()
    drag(window.canvas, [(225, 50), (225, 120)])
    after = window.editor.selection
    changed = np.argwhere(after != before)
    assert len(changed) > 0
    radius = window.canvas.brush_radius / window.canvas.scale
    assert changed[:, 0].min() >= 50 - radius - 2 and changed[:, 0].max() <= 120 + radius + 2
    assert window.actions_by_name["undo"].isEnabled()
    window.actions_by_name["undo"].trigger()
    np.testing.assert_array_equal(window.editor.selection, before)


def test_decontaminate_toggle_is_remembered_and_cleans_saved_cutouts(qtbot, window, tmp_path) -> None:
    from samcut.models.document.preferences import Preferences

    open_gradient(qtbot, window, tmp_path)
    window.editor.selection[:, :200] = 255
    window.editor.selection[:, 200:230] = np.linspace(250, 5, 30).astype(np.uint8)  # a soft edge
    plain, clean = tmp_path / "plain.png", tmp_path / "clean.png"
    save_now(qtbot, window, plain, cutout=True)
    action = window.actions_by_name["decontaminate"]
    assert not action.isChecked()
    action.trigger()
    assert window.preferences.decontaminate
    qtbot.waitUntil(lambda: Preferences.load().decontaminate, timeout=60_000)  # written on the save lane
    save_now(qtbot, window, clean, cutout=True)
    a, b = np.asarray(Image.open(plain)), np.asarray(Image.open(clean))
    np.testing.assert_array_equal(a[..., 3], b[..., 3])
    assert (a[:, 200:230, :3] != b[:, 200:230, :3]).any()  # the soft edge's colours changed
    np.testing.assert_array_equal(a[:, :200], b[:, :200])  # opaque pixels did not
