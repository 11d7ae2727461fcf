"""First run: the model dialog installs from a (loopback) download or a local file, errors in plain words."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from samcut.gui.model_dialog import ModelDialog
from samcut.models.store import registry

from loopback_server import Server, blob_sha1
from reference import reference_dir


def test_download_installs_the_model(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_MODEL_DIR", str(tmp_path / "models"))
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
    monkeypatch.setenv("SAMCUT_MODEL_DIR", str(tmp_path / "models"))
    bad = tmp_path / "mobile_sam.pt"
    bad.write_bytes(b"not the checkpoint")
    dialog = ModelDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog._start(bad)
    qtbot.waitUntil(lambda: "wrong file" in dialog.status.text(), timeout=30_000)
    assert "expected 7ef2d090979fd9853adf17b7a99c8b94a1c5a6a7" in dialog.status.text()
    assert dialog.download_button.isEnabled() and not (tmp_path / "models" / "mobile_sam").exists()
