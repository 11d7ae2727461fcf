"""``samcut plugins install|uninstall krita|gimp``: copy the host plug-ins where the hosts look."""

from __future__ import annotations

import argparse
import configparser
import json
import shutil
import sys
from pathlib import Path

from samcut.plugin import locations, protocol
from samcut.plugin.locations import Machine

KRITA_NAME = "samcut_krita"
GIMP_NAME = "samcut"


def plugin_source() -> Path:
    """The folder holding ``krita/`` and ``gimp/`` (the installed ``samcut.plugin`` package)."""
    import samcut.plugin

    return Path(samcut.plugin.__file__).resolve().parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("install", "uninstall", "paths"))
    parser.add_argument("host", nargs="?", choices=("krita", "gimp"), help="which host (paths: both)")
    parser.add_argument("--flatpak", action="store_true", help="GIMP installed from Flatpak")


def _write_command(folder: Path, command: list[str]) -> None:
    """``samcut_command.json``: the argument list the plug-in starts samcut with (see
    ``locations.resolve_samcut_command``), read back by ``protocol.samcut_command``."""
    (folder / protocol.COMMAND_FILE).write_text(protocol.command_file_text(command), encoding="utf-8")


def enable_in_kritarc(rc: Path, enabled: bool) -> None:
    """Set ``[python] enable_samcut_krita`` (Krita skips Python plug-ins that are not enabled)."""
    config = configparser.RawConfigParser(strict=False)
    config.optionxform = str  # keep Krita's key case
    if rc.exists():
        config.read(rc, encoding="utf-8")
    if not config.has_section("python"):
        config.add_section("python")
    config.set("python", f"enable_{KRITA_NAME}", "true" if enabled else "false")
    rc.parent.mkdir(parents=True, exist_ok=True)
    with open(rc, "w", encoding="utf-8") as fh:
        config.write(fh, space_around_delimiters=False)


def install_krita(machine: Machine, command: list[str]) -> list[Path]:
    """Krita's ``pykrita`` entry, the package with ``protocol.py`` and the command, enabled in kritarc."""
    platform, env, home = machine
    target = locations.krita_pykrita_dir(platform, env, home)
    target.mkdir(parents=True, exist_ok=True)
    src = plugin_source() / "krita"
    shutil.copy2(src / f"{KRITA_NAME}.desktop", target / f"{KRITA_NAME}.desktop")
    package = target / KRITA_NAME
    shutil.rmtree(package, ignore_errors=True)
    shutil.copytree(src / KRITA_NAME, package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(plugin_source() / "protocol.py", package / "protocol.py")
    _write_command(package, command)
    rc = locations.krita_rc(platform, env, home)
    enable_in_kritarc(rc, True)
    return [target / f"{KRITA_NAME}.desktop", package, rc]


def install_gimp(machine: Machine, command: list[str], flatpak: bool) -> list[Path]:
    """GIMP 3's ``plug-ins/samcut/`` folder: the executable script, its protocol module, the command."""
    platform, env, home = machine
    folder = locations.gimp_plugins_dir(platform, env, home, flatpak) / GIMP_NAME
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    src = plugin_source() / "gimp"
    shutil.copy2(src / f"{GIMP_NAME}.py", folder / f"{GIMP_NAME}.py")
    shutil.copy2(plugin_source() / "protocol.py", folder / "samcut_protocol.py")
    (folder / f"{GIMP_NAME}.py").chmod(0o755)
    _write_command(folder, command)
    return [folder]


def run(args: argparse.Namespace, machine: Machine | None = None, command: list[str] | None = None) -> int:
    """``plugins install|uninstall|paths``. ``machine`` (platform, environment, home) and ``command``
    (how plug-ins start samcut) default to this machine and this samcut; tests pass other ones."""
    machine = machine or locations.current()
    platform, env, home = machine
    command = command or locations.this_samcut_command(platform)
    if args.action == "paths":
        print(f"krita plug-ins: {locations.krita_pykrita_dir(platform, env, home)}")
        print(f"krita settings: {locations.krita_rc(platform, env, home)}")
        print(f"gimp plug-ins:  {locations.gimp_plugins_dir(platform, env, home, args.flatpak)}")
        print(f"samcut command: {json.dumps(command)}")
        return 0
    if args.host is None:
        raise ValueError("plugins: say which host: krita or gimp")
    if args.action == "install":
        found = locations.find_host(args.host, platform, env, home, args.flatpak)  # before we make its folders
        paths = install_krita(machine, command) if args.host == "krita" else \
            install_gimp(machine, command, args.flatpak)
        title = locations.HOST_TITLES[args.host]
        for path in paths:
            print(f"installed {path}")
        menu = ("Tools > Scripts > Select with samcut… (Ctrl+Alt+S)" if args.host == "krita"
                else "Select > Select with samcut…")
        if found is None:
            print(f"note: {title} was not found on this machine (no '{args.host}' program on PATH, no {title} "
                  f"settings yet). The plug-in is in place: install {title}"
                  + (" (Flatpak? add --flatpak)" if args.host == "gimp" and not args.flatpak else "")
                  + f", start it, then use {menu}", file=sys.stderr)
        else:
            print(f"{title} found ({found}): restart it, then use {menu}")
        return 0
    if args.host == "krita":
        target = locations.krita_pykrita_dir(platform, env, home)
        (target / f"{KRITA_NAME}.desktop").unlink(missing_ok=True)
        shutil.rmtree(target / KRITA_NAME, ignore_errors=True)
        enable_in_kritarc(locations.krita_rc(platform, env, home), False)
        print(f"removed the samcut plug-in from {target}")
    else:
        folder = locations.gimp_plugins_dir(platform, env, home, args.flatpak) / GIMP_NAME
        shutil.rmtree(folder, ignore_errors=True)
        print(f"removed {folder}")
    return 0
