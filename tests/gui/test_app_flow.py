"""The app end to end with a real engine: open, encode in the background, strokes, commit, undo, export."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from samcut.gui.qimage import qimage_to_rgba, rgb_to_qimage
from samcut.models.document.selection import Mode

from helpers import answer_next_message_box, drag, open_now, save_now, wait_for_encode, wait_for_proposal


def write_image(path, h=300, w=450, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8)
    img[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = rng.integers(150, 255, 3)
    Image.fromarray(img).save(path)
    return img


def test_encode_runs_without_freezing_the_ui(qtbot, window, tmp_path) -> None:
    path = tmp_path / "a.png"
    write_image(path, 700, 1000)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)
    started = time.perf_counter()
    assert open_now(qtbot, window, path)
    assert window.status.encode_bar.isVisible()
    wait_for_encode(qtbot, window)
    encode_ms = (time.perf_counter() - started) * 1000
    timer.stop()
    assert encode_ms > 200  # the encoder really ran
    stall = max(gaps[1:])  # the first gap includes opening the file on the GUI thread
    assert stall < encode_ms / 4, (stall, encode_ms)
    assert not window.status.encode_bar.isVisible()


def test_stroke_proposal_commit_undo_redo_export(qtbot, window, tmp_path) -> None:
    img = write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    # Draw before the encoder is done: the stroke is queued and answered when it finishes.
    drag(window.canvas, [(200, 150), (220, 160), (240, 150)])
    wait_for_encode(qtbot, window)
    wait_for_proposal(qtbot, window)
    doc = window.editor
    assert window.bars.refine_action.isChecked()  # edge refinement is on by default
    refined = doc.proposal.refined(doc.image.rgb)
    assert window.bars.candidate_label.text().strip().startswith("Candidate")
    window.actions_by_name["commit"].trigger()
    assert doc.proposal is None
    np.testing.assert_array_equal(doc.selection, refined)
    committed = doc.selection.copy()
    window.actions_by_name["undo"].trigger()
    assert not doc.selection.any()
    window.actions_by_name["redo"].trigger()
    np.testing.assert_array_equal(doc.selection, committed)

    cut, mask = tmp_path / "cut.png", tmp_path / "mask.png"
    save_now(qtbot, window, cut, cutout=True)
    save_now(qtbot, window, mask, cutout=False)
    qtbot.waitUntil(lambda: "Saved" in window.status.message_label.text())
    assert window.status.size_label.isVisible() and window.status.encoder_label.isVisible()  # not painted over
    rgba = np.asarray(Image.open(cut))
    np.testing.assert_array_equal(rgba[..., :3], img)
    np.testing.assert_array_equal(rgba[..., 3], committed)
    np.testing.assert_array_equal(np.asarray(Image.open(mask)), committed)


def test_strokes_undo_one_by_one_before_commit(qtbot, window, tmp_path) -> None:
    write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(100, 100)])
    wait_for_proposal(qtbot, window)
    drag(window.canvas, [(300, 200), (320, 220)], Qt.MouseButton.RightButton)
    wait_for_proposal(qtbot, window)
    assert [s.positive for s in window.editor.prompt.strokes] == [True, False]
    window.actions_by_name["undo"].trigger()
    assert [s.positive for s in window.editor.prompt.strokes] == [True]
    window.actions_by_name["undo"].trigger()
    assert window.editor.prompt.empty and window.editor.proposal is None
    window.actions_by_name["redo"].trigger()
    assert len(window.editor.prompt.strokes) == 1
    wait_for_proposal(qtbot, window)


def test_candidates_cycle_with_tab(qtbot, window, tmp_path) -> None:
    write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(200, 150)])
    wait_for_proposal(qtbot, window)
    first = window.editor.proposal.chosen
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Tab)
    assert window.editor.proposal.chosen == (first + 1) % 4
    assert f"Candidate {(first + 1) % 4 + 1}/4" in window.bars.candidate_label.text()
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert window.editor.proposal is None


@pytest.mark.parametrize("mode", list(Mode))
def test_selection_modes_from_the_window(qtbot, window, tmp_path, mode) -> None:
    write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    wait_for_encode(qtbot, window)
    window.editor.selection[:, :200] = 255
    before = window.editor.selection.copy()
    drag(window.canvas, [(250, 150)])
    wait_for_proposal(qtbot, window)
    proposal = window.editor.proposal.full()
    window.bars.refine_action.setChecked(False)  # exact binary masks: the test is about the modes
    window.set_mode(mode)
    window.actions_by_name["commit"].trigger()
    expected = {Mode.REPLACE: proposal, Mode.ADD: (before > 0) | proposal,
                Mode.SUBTRACT: (before > 0) & ~proposal, Mode.INTERSECT: (before > 0) & proposal}[mode]
    np.testing.assert_array_equal(window.editor.selection > 0, expected)


def test_rapid_switching_never_shows_a_stale_result(qtbot, window, tmp_path) -> None:
    paths = []
    for i in range(20):
        path = tmp_path / f"img{i}.png"
        write_image(path, 200 + 7 * i, 300 + 5 * i, seed=i)
        paths.append(path)
    seen_sizes = []
    window.bridge.proposalReady.connect(lambda r: seen_sizes.append(r.original_size))
    for path in paths:
        if window.editor is not None and window.editor.unsaved:  # the last stroke: discard it
            answer_next_message_box(QMessageBox.StandardButton.Discard)
        assert open_now(qtbot, window, path)
        drag(window.canvas, [(50, 50)])
    wait_for_encode(qtbot, window)
    wait_for_proposal(qtbot, window)
    final = (200 + 7 * 19, 300 + 5 * 19)
    assert seen_sizes and all(size == final for size in seen_sizes), seen_sizes
    assert window.editor.proposal.original_size == final


def test_close_cancels_a_running_encode(qtbot, test_model_dir, tmp_path) -> None:
    from conftest import make_window

    win = make_window(qtbot, test_model_dir)
    write_image(tmp_path / "a.png", 800, 1200)
    open_now(qtbot, win, tmp_path / "a.png")
    started = time.perf_counter()
    win.close()
    assert time.perf_counter() - started < 5
    assert not [t for t in threading.enumerate() if t.name.startswith("samcut-")]


def test_bad_image_keeps_the_current_document(qtbot, window, tmp_path) -> None:
    write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    doc = window.editor
    (tmp_path / "bad.png").write_bytes(b"garbage")
    assert not open_now(qtbot, window, tmp_path / "bad.png")
    assert window.editor is doc
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "not an image file" in boxes[0].text()


def test_paste_and_copy_through_the_clipboard(qtbot, window) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    QGuiApplication.clipboard().setImage(rgb_to_qimage(rgb))
    window.actions_by_name["paste"].trigger()
    np.testing.assert_array_equal(window.editor.image.rgb, rgb)
    wait_for_encode(qtbot, window)
    window.editor.selection[10:20, 10:30] = 255
    window.actions_by_name["copy_cutout"].trigger()
    copied = qimage_to_rgba(QGuiApplication.clipboard().image())
    assert copied.shape == (64, 80, 4)
    np.testing.assert_array_equal(copied[..., 3] > 0, window.editor.selection > 0)
    assert QGuiApplication.clipboard().mimeData().hasImage()


def test_box_tool_and_ctrl_drag(qtbot, window, tmp_path) -> None:
    write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(100, 80), (200, 140), (300, 200)], modifier=Qt.KeyboardModifier.ControlModifier)
    wait_for_proposal(qtbot, window)
    box = window.editor.prompt.box
    assert box is not None and abs(box[0] - 100) < 2 and abs(box[3] - 200) < 2
    assert not window.editor.prompt.strokes
    window.actions_by_name["drop"].trigger()
    window.bars.tool_actions["box"].trigger()
    drag(window.canvas, [(50, 60), (150, 160)])
    wait_for_proposal(qtbot, window)
    assert window.editor.prompt.box is not None and abs(window.editor.prompt.box[2] - 150) < 2


def test_grow_and_invert_are_undoable(qtbot, window, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    write_image(tmp_path / "a.png")
    open_now(qtbot, window, tmp_path / "a.png")
    window.editor.selection[100:120, 100:120] = 255
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (5, True))
    window.actions_by_name["grow"].trigger()
    assert window.editor.selection[95, 110] == 255 and window.editor.selection[94, 110] == 0
    window.actions_by_name["invert"].trigger()
    assert window.editor.selection[0, 0] == 255
    window.actions_by_name["undo"].trigger()
    window.actions_by_name["undo"].trigger()
    assert window.editor.selection[95, 110] == 0 and window.editor.selection[110, 110] == 255


def test_drop_a_file_opens_it(qtbot, window, tmp_path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    write_image(tmp_path / "dropped.png", 120, 160)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped.png"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.editor is not None, timeout=60_000)  # decoded off the GUI thread
    assert window.editor.image.size == (120, 160)
    assert window.preferences.recent_files[0].endswith("dropped.png")
    recent = window.actions_by_name["recent_menu"].menu().actions()
    assert recent and recent[0].text() == "dropped.png"
    wait_for_encode(qtbot, window)


def test_a_failing_encoder_shows_a_message_and_the_app_stays_up(qtbot, window, tmp_path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("the encoder ran out of memory")

    monkeypatch.setattr(window.bridge.service.engine, "encode", broken)
    write_image(tmp_path / "a.png", 100, 100, seed=7)
    open_now(qtbot, window, tmp_path / "a.png")
    qtbot.waitUntil(lambda: window.status.encoder_label.text() == "Encoding failed", timeout=60_000)
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "ran out of memory" in boxes[0].text()
    assert window.editor is not None and window.isVisible()


def test_refined_commit_has_soft_edges_close_to_the_mask(qtbot, synthetic_window) -> None:
    from reference import synthetic_dir

    window = synthetic_window
    open_now(qtbot, window, synthetic_dir() / "composite_1.png")
    truth = np.asarray(Image.open(synthetic_dir() / "composite_1_mask.png").convert("L")) > 127
    ys, xs = np.nonzero(truth)
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(float(np.median(xs)), float(np.median(ys)))])
    wait_for_proposal(qtbot, window)
    plain = window.editor.proposal.full()
    window.actions_by_name["commit"].trigger()
    sel = window.editor.selection
    assert ((sel > 0) & (sel < 255)).any()  # soft alpha where the filter found soft edges
    agree = ((sel >= 128) == plain).mean()
    assert agree > 0.95, agree
    window.actions_by_name["undo"].trigger()
    window.bars.refine_action.trigger()  # E toggles it off
    assert not window.bars.refine_action.isChecked()
