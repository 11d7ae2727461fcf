"""Preferences: one versioned JSON file; bad or unknown content never stops the app."""

from __future__ import annotations

import json

from samcut.models.document.preferences import MAX_RECENT, Preferences


def test_round_trip_and_version(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_CONFIG_DIR", str(tmp_path))
    prefs = Preferences(threads=2, memory_cache=7)
    prefs.add_recent(tmp_path / "a.png")
    prefs.save()
    data = json.loads((tmp_path / "preferences.json").read_text())
    assert data["version"] == 1 and data["threads"] == 2
    loaded = Preferences.load()
    assert loaded.threads == 2 and loaded.memory_cache == 7 and loaded.recent_files == [str(tmp_path / "a.png")]


def test_bad_files_give_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_CONFIG_DIR", str(tmp_path))
    (tmp_path / "preferences.json").write_text("{not json")
    assert Preferences.load() == Preferences()
    (tmp_path / "preferences.json").write_text(json.dumps({"threads": "many", "future_key": 1, "disk_cache": 3}))
    loaded = Preferences.load()
    assert loaded.threads == 0 and loaded.disk_cache == 3


def test_recent_files_are_unique_and_bounded(tmp_path) -> None:
    prefs = Preferences()
    for i in range(MAX_RECENT + 5):
        prefs.add_recent(tmp_path / f"{i}.png")
    prefs.add_recent(tmp_path / "3.png")
    assert len(prefs.recent_files) == MAX_RECENT and prefs.recent_files[0].endswith("3.png")
    assert len(set(prefs.recent_files)) == MAX_RECENT


def test_each_bad_field_gets_its_default_the_file_is_repaired_and_one_notice_says_so(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_CONFIG_DIR", str(tmp_path))
    (tmp_path / "preferences.json").write_text(json.dumps({
        "recent_files": [1, None, "/tmp/kept.png"], "memory_cache": -1, "threads": 10**12, "disk_cache": True,
        "decontaminate": "yes", "model_dir": 5, "memory": 3}))
    loaded = Preferences.load()
    assert loaded.recent_files == ["/tmp/kept.png"]
    assert (loaded.memory_cache, loaded.threads, loaded.disk_cache, loaded.decontaminate, loaded.model_dir) == \
        (4, 0, 40, False, "")
    for name in ("recent_files", "memory_cache", "threads", "disk_cache", "decontaminate", "model_dir"):
        assert name in loaded.notice
    again = Preferences.load()  # the file was rewritten: nothing to reset the second time
    assert again.notice is None and again == loaded
    assert "notice" not in json.loads((tmp_path / "preferences.json").read_text())


def test_the_app_starts_on_broken_preferences_and_says_what_was_reset(tmp_path, monkeypatch) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "preferences.json").write_text(json.dumps({"recent_files": [1, None], "memory_cache": -1}))
    env = {**os.environ, "SAMCUT_CONFIG_DIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "SAMCUT_STARTUP_PROBE": str(tmp_path / "probe"), "SAMCUT_MODELS_ROOT": str(tmp_path / "none")}
    result = subprocess.run([sys.executable, "-m", "samcut.cli"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "probe").is_file()
    assert json.loads((tmp_path / "preferences.json").read_text())["memory_cache"] == 4
