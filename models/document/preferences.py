"""User preferences: one versioned, human-readable JSON file in the user config folder.

``$SAMCUT_CONFIG_DIR`` overrides the folder (tests use it to stay isolated).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

from samcut.models.io.atomic import atomic_write

CONFIG_DIR_ENV = "SAMCUT_CONFIG_DIR"
VERSION = 1
MAX_RECENT = 10


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else platformdirs.user_config_path("samcut", appauthor=False)


def cache_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) / "cache" if override else platformdirs.user_cache_path("samcut", appauthor=False)


@dataclass
class Preferences:
    """``threads`` 0 = all cores; ``model_dir`` empty = the default installed model."""

    version: int = VERSION
    threads: int = 0
    memory_cache: int = 4
    disk_cache: int = 40
    model_dir: str = ""
    recent_files: list[str] = field(default_factory=list)
    decontaminate: bool = False  # cutouts: remove the background's colour from soft edges

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "preferences.json"

    @classmethod
    def load(cls) -> Preferences:
        """Read the file; unknown keys are ignored, a missing or unreadable file gives defaults."""
        try:
            data = json.loads(cls.path().read_text())
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in data.items():
            if key in known and key != "version" and isinstance(value, type(getattr(cls(), key))):
                values[key] = value
        return cls(**values)

    def to_text(self) -> str:
        """The file's content for these preferences."""
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def write_text(cls, text: str) -> None:
        """Store ``to_text()``'s output atomically (safe from any thread)."""
        path = cls.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: fh.write(text.encode()))

    def save(self) -> None:
        self.write_text(self.to_text())

    def add_recent(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        self.recent_files = [entry] + [p for p in self.recent_files if p != entry][: MAX_RECENT - 1]
