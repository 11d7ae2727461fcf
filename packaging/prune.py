"""Shrink a Linux onedir bundle after PyInstaller (Linux only; elsewhere it does nothing).

1. Drop Qt plugins and Qt libraries samcut never loads (Wayland, EGLFS, SVG, GTK theme, TLS, ...).
2. Drop collected shared libraries that nothing left in the bundle links to (transitively from the
   Python extension modules, the Qt plugins, ONNX Runtime and the executable).
3. Strip debug symbols from a few large libraries that are known to survive it (never OpenBLAS:
   stripping breaks it), checking that each stripped file still loads (libpython is checked by the
   bundle's self-test, which build.sh runs last).

    python packaging/prune.py dist/samcut
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DROP_PLUGIN_FILES = {"libqminimalegl.so", "libqgtk3.so", "libqxdgdesktopportal.so", "libqsvgicon.so",
                     "libibusplatforminputcontextplugin.so", "libqconnman.so", "libqglib.so",
                     "libqnetworkmanager.so", "libqcertonlybackend.so", "libqopensslbackend.so"}
DROP_PLUGIN_DIRS = {"imageformats", "tls", "networkinformation", "iconengines", "platformthemes"}
DROP_MODULES = ("_codecs_jp", "_codecs_kr", "_codecs_cn", "_codecs_tw", "_codecs_hk", "_codecs_iso2022",
                "_ctypes_test", "_testcapi", "_testbuffer", "_testinternalcapi", "_testmultiphase", "_xxtestfuzz")
DROP_QT_LIBS = ("libQt6WaylandClient", "libQt6WlShellIntegration", "libQt6EglFSDeviceIntegration",
                "libQt6EglFsKmsSupport", "libQt6Svg")
STRIP = ("libpython3", "libQt6Core", "libQt6Gui", "libQt6Widgets", "libQt6Network", "libQt6XcbQpa",
         "libQt6DBus", "libQt6OpenGL", "libicui18n", "libicuuc", "libonnxruntime")


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def needed(path: Path) -> set[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return {line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line}


def library_dirs(bundle: Path) -> list[Path]:
    internal = bundle / "_internal"
    return [internal, internal / "PySide6" / "Qt" / "lib", internal / "numpy.libs", internal / "pillow.libs"]


def prune(bundle: Path) -> list[str]:
    removed = []
    internal = bundle / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for path in list(plugins.rglob("*")) if plugins.exists() else []:
        if path.is_dir() and path.name in DROP_PLUGIN_DIRS:
            shutil.rmtree(path)
            removed.append(str(path.relative_to(bundle)))
        elif path.is_file() and path.name in DROP_PLUGIN_FILES:
            path.unlink()
            removed.append(str(path.relative_to(bundle)))
    for folder in library_dirs(bundle):
        for path in folder.glob("libQt6*"):
            if path.name.startswith(DROP_QT_LIBS):
                path.unlink()
                removed.append(str(path.relative_to(bundle)))
    for path in (internal / "python3.11" / "lib-dynload").glob("*.so") if (internal / "python3.11").exists() else []:
        if path.name.split(".")[0] in DROP_MODULES:
            path.unlink()
            removed.append(str(path.relative_to(bundle)))
    candidates: dict[str, list[Path]] = {}
    for folder in library_dirs(bundle):
        for path in folder.glob("*.so*"):
            if ".abi3." not in path.name and ".cpython-" not in path.name:
                candidates.setdefault(path.name, []).append(path)
    roots = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)
             and p.name not in candidates]
    roots += [p for name, paths in candidates.items() if name.startswith(("libpython", "libonnxruntime"))
              for p in paths]
    keep: set[str] = set()
    queue = list(roots)
    while queue:
        for name in needed(queue.pop()):
            if name in candidates and name not in keep:
                keep.add(name)
                queue.extend(p for p in candidates[name] if not p.is_symlink())
    for name, paths in candidates.items():
        if name not in keep and not name.startswith(("libpython", "libonnxruntime")):
            for path in paths:
                path.unlink()
                removed.append(str(path.relative_to(bundle)))
    return removed


def strippable(path: Path) -> bool:
    """Our list of large libraries, and every Python extension module (never the bundled wheels'
    vendored ``*.libs``: OpenBLAS breaks when stripped)."""
    if path.is_symlink() or "openblas" in path.name or path.parent.name.endswith(".libs"):
        return False
    return path.name.startswith(STRIP) or ".cpython-" in path.name or ".abi3." in path.name


def strip(bundle: Path) -> list[str]:
    done = []
    for path in (bundle / "_internal").rglob("*.so*"):
        if not strippable(path):
            continue
        backup = path.with_name(path.name + ".orig")
        shutil.copy2(path, backup)
        subprocess.run(["strip", "--strip-unneeded", str(path)], check=True)
        # Load it in a separate process (loading Qt or libpython into this one could crash it);
        # libraries it needs are found beside it in the bundle.
        env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(str(d) for d in library_dirs(bundle))}
        check = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(path)!r})"], env=env,
                               capture_output=True)
        if check.returncode == 0 or path.name.startswith("libpython"):
            backup.unlink()
            done.append(path.name)
        else:
            os.replace(backup, path)
    return done


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    bundle = Path(sys.argv[1])
    if not sys.platform.startswith("linux"):
        return 0
    before = size(bundle)
    removed = prune(bundle)
    stripped = strip(bundle)
    print(f"prune: removed {len(removed)} files, stripped {len(stripped)}; "
          f"{before / 2**20:.0f} MB -> {size(bundle) / 2**20:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
