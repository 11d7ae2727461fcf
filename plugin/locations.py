"""Where GIMP 3 and Krita look for user plug-ins, per platform (one table, unit-tested)."""

from __future__ import annotations

import os
from pathlib import Path


def _env_path(env: dict[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value) if value else default


def krita_pykrita_dir(platform: str, env: dict[str, str], home: Path) -> Path:
    """Krita's user ``pykrita`` folder."""
    if platform == "win32":
        return Path(env.get("APPDATA", home / "AppData" / "Roaming")) / "krita" / "pykrita"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "krita" / "pykrita"
    return _env_path(env, "XDG_DATA_HOME", home / ".local" / "share") / "krita" / "pykrita"


def krita_rc(platform: str, env: dict[str, str], home: Path) -> Path:
    """Krita's ``kritarc`` settings file."""
    if platform == "win32":
        return Path(env.get("LOCALAPPDATA", home / "AppData" / "Local")) / "kritarc"
    if platform == "darwin":
        return home / "Library" / "Preferences" / "kritarc"
    return _env_path(env, "XDG_CONFIG_HOME", home / ".config") / "kritarc"


def gimp_plugins_dir(platform: str, env: dict[str, str], home: Path, flatpak: bool = False) -> Path:
    """GIMP 3's user ``plug-ins`` folder."""
    if flatpak:
        return home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / "3.0" / "plug-ins"
    if platform == "win32":
        return Path(env.get("APPDATA", home / "AppData" / "Roaming")) / "GIMP" / "3.0" / "plug-ins"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "GIMP" / "3.0" / "plug-ins"
    return _env_path(env, "XDG_CONFIG_HOME", home / ".config") / "GIMP" / "3.0" / "plug-ins"


def current() -> tuple[str, dict[str, str], Path]:
    import sys

    return sys.platform, dict(os.environ), Path.home()
