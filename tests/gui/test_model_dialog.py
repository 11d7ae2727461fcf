"""First run: the model dialog installs from a (loopback) download or a local file, errors in plain words."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from samcut.gui.model_dialog import ModelDialog
from samcut.models.store import registry

from helpers import answer_next_message_box
from loopback_server import Server, blob_sha1
from reference import reference_dir


def test_download_installs_the_model(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    checkpoint = (reference_dir() / "mobile_sam_test.pt").read_bytes()
    server = Server(checkpoint)
    try:
        spec = replace(registry.MOBILE_SAM, urls=(server.url,), git_blob_sha1=blob_sha1(checkpoint, tmp_path))
        dialog = ModelDialog(spec=spec)
        qtbot.addWidget(dialog)
        dialog.show()
        with qtbot.waitSignal(dialog.accepted, timeout=180_000):
            dialog.download_button.click()
    finally:
        server.close()
    folder = Path(dialog.model_folder)
    assert folder == tmp_path / "models" / "mobile_sam"
    assert (folder / "manifest.json").is_file()


def test_wrong_file_is_explained_and_nothing_installed(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    bad = tmp_path / "mobile_sam.pt"
    bad.write_bytes(b"not the checkpoint")
    dialog = ModelDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    from PySide6.QtWidgets import QMessageBox

    offered = answer_next_message_box(QMessageBox.StandardButton.No)  # not as custom weights either
    dialog._start(bad)
    qtbot.waitUntil(lambda: "is not an official checkpoint samcut knows" in dialog.status.text() and bool(offered),
                    timeout=60_000)
    assert dialog.download_button.isEnabled() and not (tmp_path / "models" / "mobile_sam").exists()


def test_custom_weights_are_installed_when_the_user_agrees(qtbot, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from samcut.models.store.registry import is_official

    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    dialog = ModelDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    seen = answer_next_message_box(QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(dialog.accepted, timeout=60_000):
        dialog._start(reference_dir() / "mobile_sam_test.pt")
    assert "is not an official checkpoint samcut knows" in seen[0] and "SAM 2.1" in seen[0]
    manifest = json.loads((Path(dialog.model_folder) / "manifest.json").read_text())
    assert manifest["checkpoint"]["name"] == "mobile_sam_test.pt" and not is_official(registry.MOBILE_SAM, manifest)
    assert not (tmp_path / "models" / "downloads" / "mobile_sam.pt").exists()  # not filed under the official name
    assert Path(dialog.model_folder) == tmp_path / "models" / "mobile_sam_test"  # a folder of its own
    assert not (tmp_path / "models" / "mobile_sam").exists()


def test_custom_weights_declined_install_nothing(qtbot, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    dialog = ModelDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    seen = answer_next_message_box(QMessageBox.StandardButton.No)
    dialog._start(reference_dir() / "mobile_sam_test.pt")
    qtbot.waitUntil(lambda: bool(seen), timeout=60_000)
    qtbot.wait(200)
    assert dialog.result() == 0 and dialog.file_button.isEnabled()
    assert not (tmp_path / "models" / "mobile_sam").exists()


def test_help_install_model_brings_the_dialog_back_and_the_model_serves_at_once(qtbot, test_model_dir, tmp_path,
                                                                               monkeypatch) -> None:
    """After Cancel in the first-run dialog, Help > Install Model… is the way back (no restart)."""
    from PIL import Image

    from samcut.gui import model_dialog
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences

    from helpers import open_now, wait_for_encode

    shown = []

    def accept_with_installed_model(dialog) -> int:
        shown.append(dialog.windowTitle())
        dialog.model_folder = str(test_model_dir)
        return 1

    monkeypatch.setattr(model_dialog.ModelDialog, "exec", accept_with_installed_model)
    window = MainWindow(None, Preferences())
    window.show()
    try:
        assert window.bridge is None
        window.actions_by_name["install_model"].trigger()
        assert shown == ["Install the MobileSAM model"] and window.bridge is not None
        Image.new("RGB", (64, 48), (90, 120, 30)).save(tmp_path / "a.png")
        assert open_now(qtbot, window, tmp_path / "a.png")
        wait_for_encode(qtbot, window)
    finally:
        window.close()


def test_a_long_error_is_laid_out_below_the_text_never_over_it(qtbot) -> None:
    dialog = ModelDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog._on_finished("", "/home/someone/Downloads/weights/mobile_sam_finetuned_v2.pt is not the official "
                            "mobile_sam.pt (git-blob SHA-1 0123456789abcdef0123456789abcdef01234567, expected "
                            "7ef2d090979fd9853adf17b7a99c8b94a1c5a6a7). " * 2)
    text = dialog.layout().itemAt(0).widget()
    qtbot.waitUntil(lambda: dialog.status.geometry().top() >= text.geometry().bottom()
                    and dialog.status.height() >= dialog.status.heightForWidth(dialog.status.width()), timeout=60_000)
    assert text.height() >= text.heightForWidth(text.width())  # the credits are not cut off
