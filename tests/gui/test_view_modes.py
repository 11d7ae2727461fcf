"""View modes (F): the same selection and proposal shown six ways; switching re-colours the screen
and never touches, decodes or upsamples a mask."""

from __future__ import annotations

import numpy as np
from PIL import Image

from samcut.gui.view_modes import VIEW_NAMES, next_view

from helpers import drag, open_now, wait_for_encode


def grab_rgb(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())[
        :, :image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def widget_xy(canvas, x: float, y: float) -> tuple[int, int]:
    point = canvas.to_widget(x, y)
    return int(point.y()), int(point.x())


def test_each_view_mode_changes_pixels_and_no_mask(qtbot, fake_window, tmp_path, monkeypatch) -> None:
    from samcut.models.editor.proposal import Proposal

    window = fake_window
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 240), (120, 90, 60)).save(path)
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    window.bars.tool_actions["paint"].trigger()
    drag(window.canvas, [(40, 40), (80, 40)])  # a selected patch
    window.bars.tool_actions["smart"].trigger()
    drag(window.canvas, [(200, 150), (210, 155)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    selection, proposal = window.editor.selection.copy(), window.editor.proposal
    inside_sel = widget_xy(window.canvas, 60, 40)
    outside = widget_xy(window.canvas, 300, 20)
    assert selection[40, 60] == 255 and not proposal.full()[20, 300]
    shots = {"overlay": grab_rgb(window.canvas)}
    calls = []
    original = Proposal.mask
    monkeypatch.setattr(Proposal, "mask", lambda self, rows, cols: calls.append(1) or original(self, rows, cols))
    for mode in VIEW_NAMES[1:]:
        window.set_view(mode)
        assert window.view_actions[mode].isChecked()
        shots[mode] = grab_rgb(window.canvas)
    assert calls == []  # no mask was sampled again: the modes re-colour what is on screen
    assert window.editor.proposal is proposal and np.array_equal(window.editor.selection, selection)
    photo = np.array([120, 90, 60])
    assert np.abs(shots["black"][outside] - 0).max() <= 1 and np.abs(shots["white"][outside] - 255).max() <= 1
    assert shots["checker"][outside][0] in (153, 204)
    assert np.abs(shots["black"][inside_sel] - photo).max() <= 2  # what is kept shows the photo
    assert np.abs(shots["mask"][inside_sel] - 255).max() <= 1 and shots["mask"][outside].max() <= 1
    assert np.abs(shots["ants"][inside_sel] - photo).max() <= 2  # ants: no tint inside, only edges
    assert np.abs(shots["overlay"][inside_sel] - photo).max() > 20  # the overlay tints it
    names = list(shots)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(shots[a].astype(int) - shots[b]).max() > 20, (a, b)  # six different pictures


def test_f_cycles_the_view_and_it_is_remembered(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    assert next_view("mask") == "overlay" and next_view("overlay", -1) == "mask"
    window.actions_by_name["cycle_view"].trigger()
    assert window.canvas.view_mode == "ants" and window.preferences.view_mode == "ants"
    window.actions_by_name["previous_view"].trigger()
    assert window.canvas.view_mode == "overlay"
    assert [s.toString() for s in window.actions_by_name["cycle_view"].shortcuts()] == ["F"]


def test_first_time_clarity_icons_hints_and_the_empty_window(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    empty = grab_rgb(window.canvas)
    assert (np.abs(empty.astype(int) - [48, 48, 52]).max(-1) > 60).sum() > 200  # the "Open an image…" text
    for name, action in window.bars.tool_actions.items():
        assert not action.icon().isNull(), name
        pixels = action.icon().pixmap(24, 24).toImage()
        assert any(pixels.pixelColor(x, y).alpha() > 0 for x in range(24) for y in range(24)), name
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 240), (120, 90, 60)).save(path)
    assert open_now(qtbot, window, path)
    assert window.status.message_label.text().startswith("Smart Brush: click or paint")
    window.bars.tool_actions["box"].trigger()
    assert window.status.message_label.text().startswith("Box: drag a box")
