"""What the bundle is on each operating system: the one place the spec and build.py ask.

PyInstaller does not cross-compile, so a bundle is built on the system it is for; everything that
differs between Linux, Windows and macOS is decided here, from a ``sys.platform`` string passed in,
so that tests run every branch on any machine (``tests/packaging/test_targets.py``).

- Linux: ``dist/samcut/samcut``, one console executable for the app, the command line and the host
  plug-ins (as before).
- Windows: ``dist/samcut/samcut.exe``, windowed (no console window behind the app), and
  ``dist/samcut/samcut-cli.exe`` beside it, the same entry point with a console, for the command line,
  the self-test and the host plug-ins. It hides the console window it owns when a GUI program (GIMP,
  Krita) starts it, and keeps the one it was typed into. Both carry the icon and version resource.
- macOS: ``dist/samcut.app`` (a ``BUNDLE`` of the onedir folder) with its ``Info.plist``; PyInstaller
  signs it ad hoc when no identity is given (``codesign_identity=None``), which Apple Silicon needs
  to run it at all. ``samcut.app/Contents/MacOS/samcut`` is the command line too. The windowed
  bootloader is needed for a Dock icon and menu bar (``console=True`` makes the app background-only).

Stdlib only: the spec imports it inside PyInstaller, the tests in the dev venv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

APP = "samcut"
BUNDLE_ID = "org.samcut.samcut"
LINUX, WINDOWS, MACOS = "linux", "windows", "macos"


@dataclass(frozen=True)
class Executable:
    """One ``EXE`` of the spec: ``name`` without ``.exe`` (PyInstaller adds it on Windows)."""

    name: str
    console: bool
    hide_console: str | None = None  # Windows only: "hide-early" hides a console the program owns


@dataclass(frozen=True)
class AppBundle:
    """The macOS ``BUNDLE``: ``name`` ends in ``.app``; ``info_plist`` holds plain key/value pairs."""

    name: str
    bundle_identifier: str
    info_plist: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """The bundle for one system. Paths are relative to the dist folder, in POSIX form.

    ``cli``: what the command line, the build's self-test and the host plug-ins run;
    ``app``: what a user opens; ``icon_format``: the icon file type the system wants, or None.
    """

    system: str
    executables: tuple[Executable, ...]
    cli: PurePosixPath
    app: PurePosixPath
    bundle: AppBundle | None = None
    icon_format: str | None = None
    version_resource: bool = False


def system_of(platform: str) -> str:
    """``linux``, ``windows`` or ``macos`` for a ``sys.platform`` value; ValueError for anything else."""
    if platform.startswith("linux"):
        return LINUX
    if platform in ("win32", "cygwin"):
        return WINDOWS
    if platform == "darwin":
        return MACOS
    raise ValueError(f"samcut bundles are built on Linux, Windows and macOS, not on {platform!r}")


def info_plist(version: str) -> dict[str, object]:
    """The macOS ``Info.plist`` entries samcut sets (PyInstaller writes the rest)."""
    return {
        "CFBundleName": APP,
        "CFBundleDisplayName": APP,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "NSHighResolutionCapable": True,  # Qt draws at the display's real resolution
        "NSPrincipalClass": "NSApplication",
    }


def target(platform: str, version: str) -> Target:
    """The bundle built on ``platform`` (a ``sys.platform`` value) for samcut ``version``."""
    system = system_of(platform)
    folder = PurePosixPath(APP)
    if system == WINDOWS:
        return Target(
            system=system,
            executables=(Executable(APP, console=False), Executable(f"{APP}-cli", console=True,
                                                                    hide_console="hide-early")),
            cli=folder / f"{APP}-cli.exe", app=folder / f"{APP}.exe", icon_format="ico", version_resource=True)
    if system == MACOS:
        inside = PurePosixPath(f"{APP}.app") / "Contents" / "MacOS" / APP
        return Target(
            system=system, executables=(Executable(APP, console=False),), cli=inside,
            app=PurePosixPath(f"{APP}.app"),
            bundle=AppBundle(f"{APP}.app", BUNDLE_ID, info_plist(version)), icon_format="icns")
    return Target(system=system, executables=(Executable(APP, console=True),), cli=folder / APP, app=folder / APP)


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """Four numbers for a Windows version resource: ``0.1.0`` -> (0, 1, 0, 0); ``1.2rc1`` -> (1, 2, 0, 0)."""
    release = re.match(r"\d+(\.\d+)*", version)  # the release part, before any pre/post/dev/local label
    if release is None:
        raise ValueError(f"no version number in {version!r}")
    numbers = [int(part) for part in release.group(0).split(".")][:4]
    return tuple(numbers + [0] * (4 - len(numbers)))  # type: ignore[return-value]


def windows_version_strings(version: str, original_filename: str) -> dict[str, str]:
    """The ``StringFileInfo`` entries of one Windows executable (shown in its Properties > Details)."""
    return {
        "CompanyName": "samcut contributors",
        "FileDescription": "samcut: cut objects out of images",
        "FileVersion": version,
        "InternalName": original_filename.removesuffix(".exe"),
        "LegalCopyright": "Apache-2.0",
        "OriginalFilename": original_filename,
        "ProductName": APP,
        "ProductVersion": version,
    }
