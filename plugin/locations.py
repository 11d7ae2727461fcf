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


HOST_TITLES = {"krita": "Krita", "gimp": "GIMP"}
_PROGRAMS = {"krita": ("krita",), "gimp": ("gimp", "gimp-3.0", "gimp-3", "gimp-2.99")}
_FLATPAK_IDS = {"krita": "org.kde.krita", "gimp": "org.gimp.GIMP"}


def find_host(host: str, platform: str, env: dict[str, str], home: Path, flatpak: bool = False) -> str | None:
    """Where ``host`` ("krita" or "gimp") shows itself on this machine: its program on ``PATH``, an
    application bundle or Flatpak, or the settings it writes on its first start; None when there
    is no sign of it (a plug-in installed then waits until the host is installed and started)."""
    import shutil

    for program in _PROGRAMS[host]:
        found = shutil.which(program, path=env.get("PATH", ""))
        if found:
            return found
    app = _FLATPAK_IDS[host]
    places = [home / ".local" / "share" / "flatpak" / "app" / app, Path("/var/lib/flatpak/app") / app]
    if platform == "darwin":
        bundle = f"{HOST_TITLES[host]}.app"
        places += [Path("/Applications") / bundle, home / "Applications" / bundle]
    if platform == "win32":
        for root in (env.get("ProgramFiles"), env.get("LOCALAPPDATA")):
            if root:
                places += [Path(root) / ("Krita (x64)" if host == "krita" else "GIMP 3")]
    found = next((str(place) for place in places if place.exists()), None)
    return found or _settings_of_a_started_host(host, platform, env, home, flatpak)


def _settings_of_a_started_host(host: str, platform: str, env: dict[str, str], home: Path,
                                flatpak: bool) -> str | None:
    """What a host writes on its first start, beyond what installing a plug-in creates: kritarc
    with a section other than ``[python]``, or a GIMP 3 settings folder holding more than ``plug-ins``."""
    if host == "krita":
        rc = krita_rc(platform, env, home)
        try:
            sections = {line.strip() for line in rc.read_text(encoding="utf-8", errors="replace").splitlines()
                        if line.startswith("[")}
        except OSError:
            return None
        return str(rc) if sections - {"[python]"} else None
    folder = gimp_plugins_dir(platform, env, home, flatpak).parent
    try:
        return str(folder) if any(entry.name != "plug-ins" for entry in folder.iterdir()) else None
    except OSError:
        return None


def current() -> tuple[str, dict[str, str], Path]:
    import sys

    return sys.platform, dict(os.environ), Path.home()
