"""The quality model chosen once, asked for by name: ``models use --quality``, ``segment
--quality [NAME]`` and a host request's ``model`` give what ``--models`` with that model gives."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main


@pytest.fixture()
def two_installed(tmp_path, monkeypatch, test_model_dir, synthetic_model_dir):
    root = tmp_path / "models"
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(root))
    monkeypatch.delenv("SAMCUT_MODEL_DIR", raising=False)
    shutil.copytree(test_model_dir, root / "quick_test")
    shutil.copytree(synthetic_model_dir, root / "synthetic")
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    return root


def mask_of(tmp_path, name: str, *extra: str) -> np.ndarray:
    out = tmp_path / f"{name}.png"
    assert main(["segment", str(tmp_path / "photo.png"), "--point", "80,45", "--point", "100,50", "--mask", str(out),
                 *extra]) == 0
    return np.asarray(Image.open(out))


def test_segment_quality_answers_with_the_chosen_quality_model(two_installed, tmp_path, capsys) -> None:
    assert main(["models", "use", "quick_test"]) == 0
    assert main(["segment", str(tmp_path / "photo.png"), "--point", "80,45", "--quality", "--mask",
                 str(tmp_path / "none.png")]) == 2
    said = capsys.readouterr().err.strip()
    assert len(said.splitlines()) == 1 and "no quality model is chosen" in said and "Model menu" in said

    assert main(["models", "use", "--quality", "synthetic"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert any(line.startswith("* quick_test") for line in listed.splitlines())
    assert any(line.startswith("+ synthetic") for line in listed.splitlines())

    quick = mask_of(tmp_path, "quick")
    quality = mask_of(tmp_path, "quality", "--quality")
    np.testing.assert_array_equal(quick, mask_of(tmp_path, "models-quick", "--models", "quick_test"))
    np.testing.assert_array_equal(quality, mask_of(tmp_path, "models-synthetic", "--models", "synthetic"))
    np.testing.assert_array_equal(quality, mask_of(tmp_path, "named", "--quality", "synthetic"))
    assert not np.array_equal(quick, quality)

    request = {"protocol": 1, "image": str(tmp_path / "photo.png"), "response": str(tmp_path / "response.json"),
               "interactive": False, "points": [[80, 45, 1], [100, 50, 1]], "model": "quality"}
    (tmp_path / "request.json").write_text(json.dumps(request))
    assert main(["host", str(tmp_path / "request.json")]) == 0
    response = json.loads((tmp_path / "response.json").read_text())
    assert response["status"] == "ok"
    np.testing.assert_array_equal(np.asarray(Image.open(response["mask"])), quality)

    assert main(["models", "use", "--quality", "none"]) == 0
    assert main(["segment", str(tmp_path / "photo.png"), "--point", "80,45", "--quality", "--mask",
                 str(tmp_path / "none.png")]) == 2


def test_a_host_request_naming_a_model_that_is_not_installed_is_refused_in_one_line(two_installed, tmp_path) -> None:
    request = {"protocol": 1, "image": str(tmp_path / "photo.png"), "response": str(tmp_path / "response.json"),
               "interactive": False, "points": [[80, 45, 1]], "model": "sam_vit_h"}
    (tmp_path / "request.json").write_text(json.dumps(request))
    main(["host", str(tmp_path / "request.json")])
    response = json.loads((tmp_path / "response.json").read_text())
    assert response["status"] == "error"
    assert "sam_vit_h" in response["message"] and "\n" not in response["message"]
