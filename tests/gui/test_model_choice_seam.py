"""One model choice across the seam: custom weights installed in the app's dialog are what the CLI,
a host's headless request and the self-test use next, with no --models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from samcut.cli.main import main
from samcut.gui import model_dialog

from helpers import answer_next_message_box
from reference import reference_dir


def test_custom_weights_installed_in_the_app_serve_the_cli_and_hosts(qtbot, tmp_path, monkeypatch, capsys) -> None:
    from PySide6.QtWidgets import QMessageBox

    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences

    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    monkeypatch.delenv("SAMCUT_MODEL_DIR", raising=False)
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    segment = ["segment", str(tmp_path / "photo.png"), "--point", "80,45", "--no-cache"]

    assert main([*segment, "--mask", str(tmp_path / "none.png")]) == 2  # nothing installed yet
    said = capsys.readouterr().err.strip()
    assert said.startswith("samcut: no model is installed") and "samcut models fetch" in said
    assert len(said.splitlines()) == 1

    def install_from_file(dialog) -> int:  # the user picks the file and says Yes to custom weights
        dialog.show()
        answer_next_message_box(QMessageBox.StandardButton.Yes)
        with qtbot.waitSignal(dialog.accepted, timeout=120_000):
            dialog._start(reference_dir() / "mobile_sam_test.pt")
        return 1

    monkeypatch.setattr(model_dialog.ModelDialog, "exec", install_from_file)
    window = MainWindow(None, Preferences.load())
    window.show()
    try:
        window.actions_by_name["install_model"].trigger()  # Help > Install Model…
        assert window.bridge is not None
        assert "mobile_sam_test ready" in window.status.encoder_label.text()  # at once, no image needed
    finally:
        window.close()
    installed = tmp_path / "models" / "mobile_sam_test"

    assert main([*segment, "--mask", str(tmp_path / "chosen.png")]) == 0  # no --models: the app's choice
    assert main([*segment, "--mask", str(tmp_path / "explicit.png"), "--models", str(installed)]) == 0
    chosen = np.asarray(Image.open(tmp_path / "chosen.png"))
    np.testing.assert_array_equal(chosen, np.asarray(Image.open(tmp_path / "explicit.png")))
    assert chosen.any()

    request = {"protocol": 1, "image": str(tmp_path / "photo.png"), "response": str(tmp_path / "response.json"),
               "interactive": False, "points": [[80, 45, 1]]}
    (tmp_path / "request.json").write_text(json.dumps(request))
    assert main(["host", str(tmp_path / "request.json")]) == 0
    response = json.loads((tmp_path / "response.json").read_text())
    assert response["status"] == "ok"
    np.testing.assert_array_equal(np.asarray(Image.open(response["mask"])), chosen)

    capsys.readouterr()
    assert main(["models", "verify"]) == 0 and str(installed) in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "mobile_sam_test" in line]
    assert listed and listed[0].startswith("* ")
    assert main(["--self-test"]) == 0 and "model mobile_sam_test loaded" in capsys.readouterr().out


def test_several_models_and_no_choice_name_what_is_installed(tmp_path, monkeypatch, capsys, test_model_dir) -> None:
    """With two custom models and no choice, the error names both and how to choose (no download
    command); ``models use`` then decides for every command."""
    import shutil

    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    monkeypatch.delenv("SAMCUT_MODEL_DIR", raising=False)
    for name in ("alpha", "beta"):
        shutil.copytree(test_model_dir, tmp_path / "models" / name)
    Image.new("RGB", (40, 30), "white").save(tmp_path / "photo.png")
    segment = ["segment", str(tmp_path / "photo.png"), "--point", "20,15", "--mask", str(tmp_path / "m.png")]
    assert main(segment) == 2
    said = capsys.readouterr().err.strip()
    assert "installed: alpha, beta" in said and "samcut models use NAME" in said and "fetch" not in said
    assert main(["models", "use", "beta"]) == 0
    assert main(segment) == 0
    capsys.readouterr()
    assert main(["models", "verify"]) == 0 and str(Path(tmp_path / "models" / "beta")) in capsys.readouterr().out


def test_the_self_test_says_plainly_that_it_needs_a_model(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    monkeypatch.delenv("SAMCUT_MODEL_DIR", raising=False)
    assert main(["--self-test"]) == 1
    said = capsys.readouterr().out.strip()
    assert "self-test FAILED" in said and "it needs a model" in said and "samcut models fetch" in said
    assert len(said.splitlines()) == 1
