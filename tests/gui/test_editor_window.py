"""The window on the editor core, with the fake engine: one timeline through real key presses,
busy state that always clears, workers the thread fixture can see."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from helpers import drag, open_now, save_now, wait_for_encode


def open_grey(qtbot, window, tmp_path):
    path = tmp_path / "grey.png"
    Image.new("RGB", (320, 240), (128, 128, 128)).save(path)
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    return path


def key(window, sequence: str) -> None:
    modifiers = Qt.KeyboardModifier.ControlModifier
    if "Shift" in sequence:
        modifiers |= Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window, Qt.Key.Key_Z, modifiers)


def test_redo_after_paint_and_stroke_follows_the_order_of_events(qtbot, fake_window, tmp_path) -> None:
    """Paint a patch, draw a Smart Brush stroke, Ctrl+Z twice, Ctrl+Shift+Z once: the patch is
    back and the stroke is not (two stacks used to give the stroke back)."""
    window = fake_window
    open_grey(qtbot, window, tmp_path)
    window.bars.tool_actions["paint"].trigger()
    drag(window.canvas, [(40, 40), (80, 50), (120, 60)])
    painted = window.editor.selection.copy()
    assert painted.any()
    window.bars.tool_actions["smart"].trigger()
    drag(window.canvas, [(200, 150), (220, 160)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None and not window.editor.awaiting_answer, timeout=60_000)
    key(window, "Ctrl+Z")
    key(window, "Ctrl+Z")
    assert not window.editor.selection.any() and window.editor.prompt.empty
    key(window, "Ctrl+Shift+Z")
    np.testing.assert_array_equal(window.editor.selection, painted)
    assert window.editor.prompt.empty and window.editor.proposal is None
    assert window.actions_by_name["redo"].isEnabled()


def test_undoing_apply_brings_back_the_strokes_and_their_proposal(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    open_grey(qtbot, window, tmp_path)
    drag(window.canvas, [(160, 120)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None and not window.editor.awaiting_answer, timeout=60_000)
    shown = window.editor.proposal.full()
    window.actions_by_name["commit"].trigger()
    assert window.editor.selection.any() and window.editor.proposal is None
    key(window, "Ctrl+Z")
    assert not window.editor.selection.any() and len(window.editor.prompt.strokes) == 1
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    np.testing.assert_array_equal(window.editor.proposal.full(), shown)


def test_a_failed_save_clears_the_busy_state_and_says_why(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    open_grey(qtbot, window, tmp_path)
    window._edit("select_all")
    shown: list[str] = []
    window.show_error = lambda title, message: shown.append(f"{title}: {message}")
    save_now(qtbot, window, tmp_path / "no such folder" / "cut.png", cutout=True)
    assert not window.runner.busy and not window.status.work_bar.isVisible()
    assert shown and "Could not save cut.png" in shown[0] and "Nothing was overwritten" in shown[0]
    assert window.editor.unsaved


def test_every_background_worker_is_a_samcut_thread(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    open_grey(qtbot, window, tmp_path)
    window._edit("select_all")
    save_now(qtbot, window, tmp_path / "cut.png", cutout=True)
    names = {t.name.split("_")[0] for t in threading.enumerate() if t is not threading.main_thread()}
    assert {"samcut-encode", "samcut-open", "samcut-save"} <= names, names
    assert not window.editor.unsaved


def test_a_job_started_after_the_window_closed_runs_at_once_and_starts_no_thread(qtbot) -> None:
    """A callback queued before the window closed (an open's or an encode's answer) may still ask
    for a job (a preferences write) after the runner's shutdown: it is done at once on the caller's
    thread, its answer still arrives, and no lane thread is left that nothing would stop."""
    from samcut.gui.tasks import TaskRunner

    runner = TaskRunner()
    runner.run("save", lambda _c: None)
    runner.shutdown()
    ran, answers = [], []
    runner.run("save", lambda _c: ran.append(threading.current_thread().name) or 7, answers.append)
    assert ran == [threading.main_thread().name]
    qtbot.waitUntil(lambda: answers == [7])
    assert not [t for t in threading.enumerate() if t.name.startswith("samcut-save")]


def test_a_stroke_begun_on_one_image_does_not_land_on_the_next(qtbot, fake_window, tmp_path) -> None:
    """Ctrl+V while dragging: the new image gets nothing from the old image's stroke."""
    from samcut.models.document.imageio import LoadedImage

    from helpers import widget_point

    window = fake_window
    open_grey(qtbot, window, tmp_path)
    canvas = window.canvas
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 50, 50))
    QTest.mouseMove(canvas, widget_point(canvas, 90, 60))
    window.set_image(LoadedImage.from_rgba(np.full((240, 320, 4), 200, np.uint8)), None)  # what a paste does
    QTest.mouseMove(canvas, widget_point(canvas, 120, 70))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, 130, 70))
    assert window.editor.prompt.empty and not window.editor.history.can_undo and not canvas.dragging


def test_reopening_an_image_says_its_encoding_came_from_the_cache(qtbot, fake_window, tmp_path) -> None:
    window = fake_window
    first = open_grey(qtbot, window, tmp_path)
    assert "encoded in" in window.status.encoder_label.text()
    other = tmp_path / "other.png"
    Image.new("RGB", (100, 80), (10, 200, 30)).save(other)
    assert open_now(qtbot, window, other)
    wait_for_encode(qtbot, window)
    assert open_now(qtbot, window, first)
    wait_for_encode(qtbot, window)
    assert window.status.encoder_label.text().endswith("(encoding taken from the cache)")
    assert window.bridge.service.engine.encodes == 2


def test_save_with_a_proposal_pending_asks_to_apply_it_first(qtbot, fake_window, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from helpers import answer_next_message_box

    window = fake_window
    open_grey(qtbot, window, tmp_path)
    drag(window.canvas, [(160, 120)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None and not window.editor.awaiting_answer, timeout=60_000)
    targets = iter([tmp_path / "without.png", tmp_path / "with.png"])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(next(targets)), "PNG (*.png)"))
    seen = answer_next_message_box(QMessageBox.StandardButton.No)
    window.actions_by_name["save_mask"].trigger()
    qtbot.waitUntil(lambda: (tmp_path / "without.png").exists() and not window.runner.busy, timeout=60_000)
    assert "not part of the selection yet" in seen[0] and window.editor.proposal is not None
    assert not np.asarray(Image.open(tmp_path / "without.png")).any()
    answer_next_message_box(QMessageBox.StandardButton.Yes)
    window.actions_by_name["save_mask"].trigger()
    qtbot.waitUntil(lambda: (tmp_path / "with.png").exists() and not window.runner.busy, timeout=60_000)
    assert window.editor.proposal is None and np.asarray(Image.open(tmp_path / "with.png")).any()
    assert not window.editor.unsaved


def test_a_click_shows_its_marker_at_once_and_it_stays_until_applied(qtbot, fake_window, tmp_path) -> None:
    """Until Enter (or Esc) the prompt's strokes stay drawn, from the moment they are made (not
    only once a proposal arrives: a click during encoding is seen at once)."""
    from helpers import widget_point

    window = fake_window
    open_grey(qtbot, window, tmp_path)
    canvas = window.canvas
    p = widget_point(canvas, 100, 80)
    before = canvas.grab().toImage().pixelColor(p)
    window.bridge.request_decode = lambda *a, **k: None  # as if the encode were still running: no proposal
    drag(canvas, [(100, 80)])
    assert window.editor.proposal is None and canvas._trail == window.editor.prompt.strokes
    assert canvas.grab().toImage().pixelColor(p) != before  # the marker is drawn where the click was
    window.actions_by_name["drop"].trigger()
    assert canvas._trail == ()


def test_reopening_an_image_offers_its_last_selection_back(qtbot, fake_window, tmp_path) -> None:
    """Select > Reselect (Ctrl+Shift+D) brings back what the image had when it was last open,
    as one undo step; an image edited since is another image."""
    from PySide6.QtWidgets import QMessageBox

    from helpers import answer_next_message_box

    window = fake_window
    first = open_grey(qtbot, window, tmp_path)
    window.bars.tool_actions["paint"].trigger()
    drag(window.canvas, [(40, 40), (120, 60)])
    painted = window.editor.selection.copy()
    other = tmp_path / "other.png"
    Image.new("RGB", (100, 80), (10, 200, 30)).save(other)
    answer_next_message_box(QMessageBox.StandardButton.Discard)
    assert open_now(qtbot, window, other)
    assert not window.actions_by_name["reselect"].isEnabled()
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60_000)
    assert open_now(qtbot, window, first)
    assert window.actions_by_name["reselect"].isEnabled() and "Reselect" in window.status.message_label.text()
    assert not window.editor.selection.any()
    window.actions_by_name["reselect"].trigger()
    np.testing.assert_array_equal(window.editor.selection, painted)
    assert window.editor.history.undo_label() == "reselect"
    window.actions_by_name["undo"].trigger()
    assert not window.editor.selection.any()
    Image.new("RGB", (320, 240), (1, 2, 3)).save(first)  # the file changed: its old selection is not offered
    window.editor.mark_saved()
    assert open_now(qtbot, window, first)
    assert not window.actions_by_name["reselect"].isEnabled()


@pytest.mark.parametrize("modifier,mode,combine", [
    (Qt.KeyboardModifier.ShiftModifier, "add", np.logical_or),
    (Qt.KeyboardModifier.AltModifier, "subtract", lambda sel, prop: sel & ~prop),
    (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier, "intersect", np.logical_and),
])
def test_shift_adds_alt_subtracts_as_in_photoshop(qtbot, fake_window, tmp_path, modifier, mode, combine) -> None:
    """Shift / Alt / both held as a Smart Brush stroke begins: the stroke stays positive (what to
    select), its proposal is applied in that mode, and the chosen mode comes back afterwards."""
    from samcut.models.document.selection import Mode

    window = fake_window
    open_grey(qtbot, window, tmp_path)
    window.bars.tool_actions["paint"].trigger()
    drag(window.canvas, [(60, 60), (200, 60), (200, 120)])
    before = window.editor.selection > 0
    window.bars.tool_actions["smart"].trigger()
    drag(window.canvas, [(150, 100), (170, 110)], modifier=modifier)
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    assert all(stroke.positive for stroke in window.editor.prompt.strokes)
    assert window.mode == Mode(mode) and window.bars.mode_actions[Mode(mode)].isChecked()
    proposal = window.editor.proposal.full()
    window.bars.refine_action.setChecked(False)  # the proposal as it is, not snapped to edges
    window.apply_proposal()
    np.testing.assert_array_equal(window.editor.selection > 0, combine(before, proposal))
    assert window.mode == Mode.REPLACE and window.bars.mode_actions[Mode.REPLACE].isChecked()


def test_a_mode_chosen_by_hand_is_not_taken_back(qtbot, fake_window, tmp_path) -> None:
    from samcut.models.document.selection import Mode

    window = fake_window
    open_grey(qtbot, window, tmp_path)
    drag(window.canvas, [(150, 100), (170, 110)], modifier=Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    window.bars.mode_actions[Mode.ADD].trigger()  # the user picks Add while Alt's Subtract is held
    window.apply_proposal()
    assert window.mode == Mode.ADD
    drag(window.canvas, [(50, 50), (60, 60)], modifier=Qt.KeyboardModifier.ShiftModifier)
    window.drop_proposal()  # dropped, not applied: the chosen mode is back too
    assert window.mode == Mode.ADD


def test_the_proposal_colour_stands_out_from_the_object_under_it(qtbot, fake_window, tmp_path) -> None:
    """Blue on a blue object cannot be seen: there the proposal turns magenta or green, and a grey
    image keeps the usual blue. The choice holds still while the proposal changes a little."""
    from samcut.gui.overlay import PROPOSAL_TINT, PROPOSAL_TINTS, contrasting_tint

    window = fake_window
    path = tmp_path / "blue.png"
    Image.new("RGB", (320, 240), (40, 130, 250)).save(path)
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(150, 100), (170, 110)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    window.canvas.grab()  # paints: the overlay (and its colour) is made for what is on screen
    assert window.canvas.proposal_tint != PROPOSAL_TINT and window.canvas.proposal_tint in PROPOSAL_TINTS
    window.drop_proposal()  # (a proposal is unsaved work: opening another image would ask)
    window.editor.mark_saved()
    open_grey(qtbot, window, tmp_path)
    drag(window.canvas, [(150, 100), (170, 110)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    window.canvas.grab()
    assert window.canvas.proposal_tint == PROPOSAL_TINT
    greyish = np.full((50, 3), 128, np.uint8)
    assert contrasting_tint(greyish + np.uint8(10), PROPOSAL_TINTS[2]) == PROPOSAL_TINTS[2]  # no flicker
