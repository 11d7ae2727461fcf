"""User preferences: one versioned, human-readable JSON file in the user config folder.

``$SAMCUT_CONFIG_DIR`` overrides the folder (tests use it to stay isolated).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

from samcut.models.io.atomic import atomic_write
from samcut.models.io.jsonfile import JsonFileError, read_json_file

CONFIG_DIR_ENV = "SAMCUT_CONFIG_DIR"
VERSION = 1
MAX_RECENT = 10
MAX_FILE_BYTES = 1 << 20  # a preferences file is a few hundred bytes; anything past 1 MB is not one
MAX_DEPTH = 8  # the file nests two levels (an object holding a list)


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else platformdirs.user_config_path("samcut", appauthor=False)


def cache_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) / "cache" if override else platformdirs.user_cache_path("samcut", appauthor=False)


def compiled_graphs_dir() -> Path:
    """Where OpenVINO keeps the bf16 encoder compiled (the app, the CLI and the self-test share it)."""
    return cache_dir() / "compiled"


# field -> (type, lowest, highest); None bounds: any value of the type
FIELD_RULES: dict[str, tuple[type, float | None, float | None]] = {
    "threads": (int, 0, 256), "memory_cache": (int, 1, 64), "disk_cache": (int, 0, 1000),
    "model_dir": (str, None, None), "recent_files": (list, None, None), "decontaminate": (bool, None, None),
    "view_mode": (str, None, None), "hover_preview": (bool, None, None), "precision": (str, None, None),
    "quality_model": (str, None, None), "encode_times": (dict, None, None),
}
MAX_TIMES = 32  # measured encode times kept (one per model folder)


def _valid(name: str, value: object) -> object | None:
    """``value`` if it is right for field ``name`` (recent files: its path entries), else None."""
    kind, low, high = FIELD_RULES[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return None
    if not isinstance(value, kind):
        return None
    if low is not None and not (low <= value <= high):
        return None
    if name == "recent_files":
        return [v for v in value if isinstance(v, str) and v and "\0" not in v][:MAX_RECENT]
    if name in ("model_dir", "quality_model") and "\0" in value:
        return None
    if name == "encode_times":
        return {k: float(v) for k, v in list(value.items())[:MAX_TIMES] if isinstance(k, str)
                and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e5}
    if name == "precision" and value not in ("auto", "fp32", "bf16"):
        return None
    return value


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
    view_mode: str = "overlay"   # how the selection is shown (the window checks the name)
    hover_preview: bool = True   # Smart Brush: the object under the pointer shows before a click
    precision: str = "auto"      # auto | fp32 | bf16: the encoder's precision (runtimes.resolve_precision)
    quality_model: str = ""      # the model folder that takes over in the background ("": none)
    encode_times: dict[str, float] = field(default_factory=dict)  # model folder -> seconds measured here
    notice: str | None = field(default=None, compare=False, repr=False)  # set by load(): what was reset

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "preferences.json"

    @classmethod
    def load(cls) -> Preferences:
        """Read the file, field by field: a value of the wrong type or out of range gets its default,
        the file is rewritten without it and ``notice`` says what was reset; unknown keys are
        ignored; a missing file gives defaults. A file that is not a sane preferences file (not
        JSON, not an object, not a regular file, over 1 MB, nested deeper than a few levels: read by
        ``read_json_file``, which neither blocks on a FIFO nor reads a device without end) gives
        defaults with a ``notice`` saying why; it is replaced when the preferences are next saved.
        Never raises."""
        try:
            data = read_json_file(cls.path(), MAX_FILE_BYTES, MAX_DEPTH)
        except FileNotFoundError:
            return cls()
        except (OSError, JsonFileError) as exc:
            return cls._defaults_because(str(exc) if isinstance(exc, JsonFileError) else
                                         f"{cls.path()} cannot be read ({exc.strerror or exc})")
        if not isinstance(data, dict):
            return cls._defaults_because(f"{cls.path()} does not hold a JSON object")
        values, reset = {}, []
        for name in FIELD_RULES:
            if name not in data:
                continue
            value = _valid(name, data[name])
            if value != data[name]:
                reset.append(name)  # (recent files: the entries that are not paths are dropped)
            if value is not None:
                values[name] = value
        prefs = cls(**values)
        if reset:
            prefs.notice = f"Preferences: reset {', '.join(reset)} to the default (the stored value was not valid)"
            try:
                prefs.save()
            except OSError:
                pass  # read-only config folder: the defaults still apply this time
        return prefs

    @classmethod
    def _defaults_because(cls, why: str) -> Preferences:
        """The defaults, with a notice saying why the stored preferences were not used."""
        prefs = cls()
        prefs.notice = f"Preferences: using the defaults ({why})"
        return prefs

    def to_text(self) -> str:
        """The file's content for these preferences."""
        data = asdict(self)
        data.pop("notice")
        return json.dumps(data, indent=2) + "\n"

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
