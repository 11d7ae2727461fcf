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
