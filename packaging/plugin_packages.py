"""Build the host plug-in packages that point at a bundle's executable.

    python packaging/plugin_packages.py DIST

Writes ``DIST/plugins/samcut_krita.zip`` (for Krita's Tools > Scripts > Import Python Plugin from
File…) and ``DIST/plugins/gimp/samcut/`` (copy into GIMP 3's plug-ins folder).
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import samcut.plugin
from samcut.plugin import locations, protocol

KRITA = "samcut_krita"


def command_for(dist: Path, platform: str = sys.platform) -> list[str]:
    """How the plug-ins start the bundle in ``dist/samcut``: its executable, as a frozen samcut
    would resolve itself (on Windows the console ``samcut-cli.exe`` where the bundle has one)."""
    exe = dist / "samcut" / ("samcut.exe" if platform == "win32" else "samcut")
    return locations.resolve_samcut_command(platform, str(exe.resolve()), frozen=True, scripts_dir=None)


def build_krita_zip(dist: Path) -> Path:
    """The layout Krita's importer expects: ``<name>.desktop`` and the package ``<name>/`` at the top."""
    src = Path(samcut.plugin.__file__).parent
    out = dist / "plugins" / f"{KRITA}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(src / "krita" / f"{KRITA}.desktop", f"{KRITA}.desktop")
        for path in sorted((src / "krita" / KRITA).iterdir()):
            if path.is_file() and path.suffix in (".py", ".html"):
                zf.write(path, f"{KRITA}/{path.name}")
        zf.write(src / "protocol.py", f"{KRITA}/protocol.py")
        zf.writestr(f"{KRITA}/{protocol.COMMAND_FILE}", protocol.command_file_text(command_for(dist)))
    return out


def build_gimp_folder(dist: Path) -> Path:
    src = Path(samcut.plugin.__file__).parent
    folder = dist / "plugins" / "gimp" / "samcut"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(src / "gimp" / "samcut.py", folder / "samcut.py")
    (folder / "samcut.py").chmod(0o755)
    shutil.copy2(src / "protocol.py", folder / "samcut_protocol.py")
    (folder / protocol.COMMAND_FILE).write_text(protocol.command_file_text(command_for(dist)), encoding="utf-8")
    return folder


if __name__ == "__main__":
    target = Path(sys.argv[1])
    print(build_krita_zip(target))
    print(build_gimp_folder(target))
