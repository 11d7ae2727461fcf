"""Where GIMP 3 and Krita look for user plug-ins, and how they start this samcut, per platform.

Every function takes the platform (``sys.platform``'s values: ``linux``, ``win32``, ``darwin``),
the environment and the home folder as arguments; only ``current()`` reads them from this
process, so each OS's table is unit-tested on any OS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class Machine(NamedTuple):
    """The facts about the user's machine that the plug-in folders depend on."""

    platform: str
    env: dict[str, str]
    home: Path


def _env_path(env: dict[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value) if value else default


def krita_pykrita_dir(platform: str, env: dict[str, str], home: Path) -> Path:
    """Krita's user ``pykrita`` folder."""
    if platform == "win32":
        return _env_path(env, "APPDATA", home / "AppData" / "Roaming") / "krita" / "pykrita"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "krita" / "pykrita"
    return _env_path(env, "XDG_DATA_HOME", home / ".local" / "share") / "krita" / "pykrita"


def krita_rc(platform: str, env: dict[str, str], home: Path) -> Path:
    """Krita's ``kritarc`` settings file."""
    if platform == "win32":
        return _env_path(env, "LOCALAPPDATA", home / "AppData" / "Local") / "kritarc"
    if platform == "darwin":
        return home / "Library" / "Preferences" / "kritarc"
    return _env_path(env, "XDG_CONFIG_HOME", home / ".config") / "kritarc"


def gimp_plugins_dir(platform: str, env: dict[str, str], home: Path, flatpak: bool = False) -> Path:
    """GIMP 3's user ``plug-ins`` folder."""
    if flatpak:
        return home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / "3.0" / "plug-ins"
    if platform == "win32":
        return _env_path(env, "APPDATA", home / "AppData" / "Roaming") / "GIMP" / "3.0" / "plug-ins"
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


def current() -> Machine:
    """This machine: ``sys.platform``, ``os.environ`` and the home folder (the one place they are read)."""
    import sys

    return Machine(sys.platform, dict(os.environ), Path.home())


def resolve_samcut_command(platform: str, executable: str, frozen: bool, scripts_dir: str | None) -> list[str]:
    """The argument list with which a host plug-in starts this samcut (written to
    ``samcut_command.json`` at install time), from where this samcut runs:

    - a frozen bundle (PyInstaller, ``sys.frozen``): its own ``executable``; on Windows a console
      sibling ``samcut-cli.exe`` if the bundle has one (the console program reports errors on
      stderr; plug-ins hide its console window with ``CREATE_NO_WINDOW``);
    - an installed package: the ``samcut`` console script (``samcut.exe`` on Windows) in
      ``scripts_dir`` (``sysconfig.get_path("scripts")``: a venv's ``bin`` or ``Scripts``) or next
      to ``executable``;
    - else ``[executable, "-m", "samcut.cli"]``.

    Each element is one argument: paths with spaces ("Program Files") stay whole."""
    windows = platform == "win32"
    if frozen:
        if windows:
            console = Path(executable).with_name("samcut-cli.exe")
            if console.is_file():
                return [str(console)]
        return [executable]
    script = "samcut.exe" if windows else "samcut"
    folders = [scripts_dir] if scripts_dir else []
    folders.append(str(Path(executable).parent))
    for folder in folders:
        candidate = Path(folder) / script
        if candidate.is_file():
            return [str(candidate)]
    return [executable, "-m", "samcut.cli"]


def this_samcut_command(platform: str) -> list[str]:
    """``resolve_samcut_command`` for the samcut running now."""
    import sys
    import sysconfig

    frozen = bool(getattr(sys, "frozen", False))  # a bundle has no scripts folder to ask sysconfig about
    return resolve_samcut_command(platform, sys.executable, frozen, None if frozen else sysconfig.get_path("scripts"))
