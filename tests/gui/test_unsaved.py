"""An unsaved selection is never thrown away without asking: Save / Discard / Cancel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QMessageBox

from helpers import answer_next_message_box, drag, open_now, wait_for_encode, wait_for_proposal

Button = QMessageBox.StandardButton


@pytest.fixture()
def window(fake_window):
    """These tests are about the question, not the masks: the fake engine serves."""
    return fake_window


@pytest.fixture()
def two_images(tmp_path):
    paths = []
    for i, colour in enumerate(((200, 40, 40), (40, 40, 200))):
        path = tmp_path / f"image{i}.png"
        Image.new("RGB", (96, 64), colour).save(path)
        paths.append(path)
    return paths


def edited(qtbot, window, path) -> None:
    assert open_now(qtbot, window, path)
    window._edit("select_all")
    assert window.editor.unsaved


def test_cancel_keeps_the_image_and_its_selection(qtbot, window, two_images) -> None:
    first, second = two_images
    edited(qtbot, window, first)
    seen = answer_next_message_box(Button.Cancel)
    assert not open_now(qtbot, window, second)
    assert "image0.png" in seen[0] and "has not been saved" in seen[0]
    assert window.editor.path == first and window.editor.selection.min() == 255


def test_discard_opens_the_next_image(qtbot, window, two_images) -> None:
    first, second = two_images
    edited(qtbot, window, first)
    answer_next_message_box(Button.Discard)
    assert open_now(qtbot, window, second)
    assert window.editor.path == second and not window.editor.unsaved


def test_save_writes_the_cutout_then_opens_the_next_image(qtbot, window, two_images, tmp_path, monkeypatch) -> None:
    first, second = two_images
    edited(qtbot, window, first)
    target = tmp_path / "kept.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PNG (*.png)"))
    answer_next_message_box(Button.Save)
    assert not open_now(qtbot, window, second)  # not yet: the cutout is being written
    qtbot.waitUntil(lambda: window.editor.path == second, timeout=60_000)
    saved = np.asarray(Image.open(target))
    assert saved.shape == (64, 96, 4) and saved[..., 3].min() == 255


def test_nothing_to_lose_means_no_question(qtbot, window, two_images) -> None:
    first, second = two_images
    edited(qtbot, window, first)
    window.actions_by_name["undo"].trigger()  # back to the selection the image came with
    assert not window.editor.unsaved
    assert open_now(qtbot, window, second)  # no box: a question here would block this call


def test_unapplied_strokes_count_and_save_applies_them(qtbot, window, two_images, tmp_path, monkeypatch) -> None:
    first, second = two_images
    assert open_now(qtbot, window, first)
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(30, 30), (50, 32), (60, 40)])
    wait_for_proposal(qtbot, window)
    assert window.editor.unsaved and not window.editor.selection.any()
    target = tmp_path / "strokes.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PNG (*.png)"))
    seen = answer_next_message_box(Button.Save)
    proposal = window.editor.proposal.full()
    open_now(qtbot, window, second)
    assert "proposal not applied yet" in seen[0]
    qtbot.waitUntil(lambda: window.editor.path == second, timeout=60_000)
    alpha = np.asarray(Image.open(target))[..., 3]
    assert alpha.any() and alpha.astype(bool).sum() >= 0.9 * proposal.sum()


def test_closing_asks_and_cancel_keeps_the_window(qtbot, window, two_images) -> None:
    edited(qtbot, window, two_images[0])
    answer_next_message_box(Button.Cancel)
    window.close()
    assert window.isVisible()
    answer_next_message_box(Button.Discard)
    window.close()
    assert not window.isVisible()


def test_closing_after_save_closes_once_written(qtbot, window, two_images, tmp_path, monkeypatch) -> None:
    edited(qtbot, window, two_images[0])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "c.png"), "PNG (*.png)"))
    answer_next_message_box(Button.Save)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert (tmp_path / "c.png").is_file()


def test_a_failed_save_keeps_the_image_open(qtbot, window, two_images, tmp_path, monkeypatch) -> None:
    first, second = two_images
    edited(qtbot, window, first)
    missing = tmp_path / "no-such-folder" / "c.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(missing), "PNG (*.png)"))
    answer_next_message_box(Button.Save)
    open_now(qtbot, window, second)
    errors = answer_next_message_box(Button.Ok)  # "Could not save ..."
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    assert window.editor.path == first and window.editor.unsaved


def test_the_save_dialog_offers_formats_that_hold_the_result(qtbot, window, two_images, tmp_path,
                                                             monkeypatch) -> None:
    """Cutouts: PNG, TIFF, WebP (alpha); masks also BMP. A name without an extension takes the type
    chosen in the dialog; a JPEG name is refused with the reason, and nothing is written."""
    from samcut.gui.file_actions import save_filters

    assert save_filters(cutout=True) == "PNG (*.png);;TIFF (*.tif *.tiff);;WebP (lossless) (*.webp)"
    assert save_filters(cutout=False).endswith(";;BMP (*.bmp)")
    edited(qtbot, window, two_images[0])
    answers = iter([(str(tmp_path / "cut"), "WebP (lossless) (*.webp)"), (str(tmp_path / "cut.jpg"), "PNG (*.png)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
    window.files.save_dialog(cutout=True)
    qtbot.waitUntil(lambda: (tmp_path / "cut.webp").is_file() and not window.editor.unsaved, timeout=60_000)
    with Image.open(tmp_path / "cut.webp") as written:
        assert written.format == "WEBP"
    errors = answer_next_message_box(Button.Ok)
    window.files.save_dialog(cutout=True)
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    assert "JPEG cannot hold transparency" in errors[0] and not (tmp_path / "cut.jpg").exists()
