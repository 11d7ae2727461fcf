"""The PyInstaller bundle (built by packaging/build.sh; CI builds it before the tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = Path(os.environ.get("SAMCUT_BUNDLE_DIR", ROOT / "dist" / "samcut"))
LIMIT_MB = 240


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not (BUNDLE / "samcut").is_file():
        if os.environ.get("SAMCUT_REQUIRE_BUNDLE"):
            pytest.fail(f"no bundle at {BUNDLE}: run packaging/build.sh")
        pytest.skip(f"no bundle at {BUNDLE} (build it with packaging/build.sh)")
    return BUNDLE


def bare_env(**extra: str) -> dict[str, str]:
    """Nothing from the build's Python: the environment of a fresh login."""
    home = tempfile.mkdtemp(prefix="samcut-bare-")
    return {"HOME": home, "PATH": "/usr/bin:/bin", **extra}


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def test_no_torch_and_under_the_size_limit(bundle) -> None:
    offenders = [str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.name in ("torch", "torchvision")
                 or p.name.startswith(("libtorch", "torch-", "onnx-"))]
    assert offenders == []
    size_mb = folder_size(bundle) / 2**20
    print(f"bundle size: {size_mb:.0f} MB (limit {LIMIT_MB} MB)")
    assert size_mb <= LIMIT_MB


def test_self_test_in_a_bare_environment(bundle) -> None:
    result = subprocess.run([str(bundle / "samcut"), "--self-test"], env=bare_env(QT_QPA_PLATFORM="offscreen"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test OK" in result.stdout and "Qt" in result.stdout


def test_version_names_the_commit(bundle) -> None:
    result = subprocess.run([str(bundle / "samcut"), "--version"], env=bare_env(), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("samcut 0.")


def test_segment_from_the_bundle(bundle, tmp_path) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(src)
    result = subprocess.run([str(bundle / "samcut"), "segment", str(src), "--point", "30,20", "--mask",
                             str(tmp_path / "m.png")], env=bare_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "m.png").size == (64, 48)


def test_window_starts_under_xvfb(bundle, tmp_path) -> None:
    if shutil.which("Xvfb") is None:
        if os.environ.get("SAMCUT_REQUIRE_BUNDLE"):
            pytest.fail("Xvfb is missing")
        pytest.skip("Xvfb is missing")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        display = ":" + os.read(read_fd, 16).decode().strip()
        probe = tmp_path / "startup.json"
        times = []
        for _ in range(3):  # the first start is cold, the later ones warm
            probe.unlink(missing_ok=True)
            started = time.time()
            subprocess.run([str(bundle / "samcut"), str(ROOT / "samples" / "sample.png")],
                           env=bare_env(DISPLAY=display, SAMCUT_STARTUP_PROBE=str(probe)), capture_output=True,
                           timeout=120)
            assert probe.exists(), "the window never showed"
            times.append((json.loads(probe.read_text())["shown_epoch"] - started) * 1000)
    finally:
        server.terminate()
        server.wait()
        os.close(read_fd)
    shot = Image.open(f"{probe}.png")
    assert shot.size[0] > 600 and len(np.unique(np.asarray(shot.convert("L")))) > 20  # a real, drawn window
    shutil.copy(f"{probe}.png", Path(tempfile.gettempdir()) / "samcut-bundle-window.png")
    print(f"start-up to window shown: cold {times[0]:.0f} ms, warm {min(times[1:]):.0f} ms")


def test_krita_zip_has_the_importer_layout(bundle) -> None:
    path = bundle.parent / "plugins" / "samcut_krita.zip"
    assert path.is_file()
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert "samcut_krita.desktop" in names
        assert {"samcut_krita/__init__.py", "samcut_krita/extension.py", "samcut_krita/protocol.py",
                "samcut_krita/qt_shim.py", "samcut_krita/samcut_command.json"} <= names
        desktop = zf.read("samcut_krita.desktop").decode()
        assert "X-KDE-Library=samcut_krita" in desktop and "ServiceTypes=Krita/PythonPlugin" in desktop
        command = json.loads(zf.read("samcut_krita/samcut_command.json"))["command"]
    assert Path(command[0]) == (bundle / "samcut").resolve()
    gimp = bundle.parent / "plugins" / "gimp" / "samcut"
    assert (gimp / "samcut.py").stat().st_mode & 0o111 and (gimp / "samcut_protocol.py").is_file()
