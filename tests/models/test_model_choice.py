"""The one rule that picks the model (``choice.chosen_model_dir``), step by step."""

from __future__ import annotations

import json
import shutil

from samcut.models.document.preferences import Preferences
from samcut.models.store.choice import chosen_model_dir, remember_choice
from samcut.models.store.registry import installed_models


def fake_model(folder, manifest=None) -> None:
    folder.mkdir(parents=True)
    (folder / "encoder.onnx").write_bytes(b"x")
    whole = {"files": {"encoder.onnx": {"bytes": 1, "sha256": "0" * 64}}}  # the shape of a real manifest
    (folder / "manifest.json").write_text(json.dumps(manifest if manifest is not None else whole))


def test_each_step_of_the_rule(tmp_path, monkeypatch) -> None:
    root = tmp_path / "models"
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(root))
    monkeypatch.delenv("SAMCUT_MODEL_DIR", raising=False)
    assert chosen_model_dir() == root / "mobile_sam"            # 5. nothing installed: the default's folder
    fake_model(root / "custom")
    assert chosen_model_dir() == root / "custom"                # 4. the only installed model
    fake_model(root / "mobile_sam")
    assert chosen_model_dir() == root / "mobile_sam"            # 5. several, no choice: the default
    remember_choice(Preferences.load(), root / "custom")
    assert chosen_model_dir() == root / "custom"                # 3. the user's choice (stored once)
    monkeypatch.setenv("SAMCUT_MODEL_DIR", str(tmp_path / "env"))
    assert chosen_model_dir() == tmp_path / "env"               # 2. the environment
    assert chosen_model_dir(tmp_path / "given") == tmp_path / "given"  # 1. explicit
    monkeypatch.delenv("SAMCUT_MODEL_DIR")
    shutil.rmtree(root / "custom")
    assert chosen_model_dir() == root / "mobile_sam"            # a choice whose folder is gone is passed over
    remember_choice(Preferences.load(), root / "mobile_sam")
    assert Preferences.load().model_dir == ""                   # the default clears the choice


def test_damaged_and_hidden_folders_are_listed_or_skipped_without_a_traceback(tmp_path, monkeypatch) -> None:
    root = tmp_path / "models"
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(root))
    fake_model(root / "good")
    fake_model(root / "list", manifest=[])
    fake_model(root / "text", manifest="x")
    fake_model(root / "files-list", manifest={"files": ["encoder.onnx"]})
    fake_model(root / ".good.partial-123")                      # an install in progress
    (root / "downloads").mkdir()
    (root / "deep").mkdir()
    (root / "deep" / "encoder.onnx").write_bytes(b"x")
    (root / "deep" / "manifest.json").write_text("[" * 100_000)
    found = {m.name: m.damaged for m in installed_models()}
    assert set(found) == {"good", "list", "text", "files-list", "deep"}
    assert found["good"] == "" and all(found[n] for n in ("list", "text", "files-list", "deep"))
    assert chosen_model_dir() == root / "good"                  # the only whole one

