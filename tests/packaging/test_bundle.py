"""The PyInstaller bundle (built by packaging/build.sh; CI builds it before the tests).

CI's bundle ships no model, as users download it: the tests install one with the bundle itself,
as a first run does (``models export``, and the app's *Install from file* driven under Xvfb).
"""

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

from hostile import hostile_checkpoint
from reference import reference_dir

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


def bare_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """Nothing from the build's Python: the environment of a fresh login (in ``home``, else a new one)."""
    return {"HOME": str(home or tempfile.mkdtemp(prefix="samcut-bare-")), "PATH": "/usr/bin:/bin", **extra}


def installed_model(home: Path) -> Path:
    return home / ".local" / "share" / "samcut" / "models" / "mobile_sam"


@pytest.fixture(scope="module")
def home(bundle, tmp_path_factory) -> Path:
    """A fresh home in which the bundle itself installed the reference checkpoint (``models export``)."""
    home = tmp_path_factory.mktemp("bundle-home")
    started = time.perf_counter()
    result = subprocess.run([str(bundle / "samcut"), "models", "export", str(reference_dir() / "mobile_sam_test.pt"),
                             "--out", str(installed_model(home))],  # test weights, put where the default lives
                            env=bare_env(home), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"bundle: models export in {time.perf_counter() - started:.1f} s")
    assert (installed_model(home) / "manifest.json").is_file()
    return home


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def test_no_torch_and_under_the_size_limit(bundle) -> None:
    offenders = [str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.name in ("torch", "torchvision")
                 or p.name.startswith(("libtorch", "torch-", "onnx-"))]
    assert offenders == []
    size_mb = folder_size(bundle) / 2**20
    print(f"bundle size: {size_mb:.0f} MB (limit {LIMIT_MB} MB)")
    assert size_mb <= LIMIT_MB


def test_self_test_in_a_bare_environment(bundle, home) -> None:
    result = subprocess.run([str(bundle / "samcut"), "--self-test"], env=bare_env(home, QT_QPA_PLATFORM="offscreen"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test OK" in result.stdout and "Qt" in result.stdout


def test_version_names_the_commit(bundle) -> None:
    result = subprocess.run([str(bundle / "samcut"), "--version"], env=bare_env(), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("samcut 0.")


def test_segment_from_the_bundle(bundle, home, tmp_path) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(src)
    result = subprocess.run([str(bundle / "samcut"), "segment", str(src), "--point", "30,20", "--mask",
                             str(tmp_path / "m.png")], env=bare_env(home), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "m.png").size == (64, 48)


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("SAMCUT_REQUIRE_BUNDLE"):
            pytest.fail(f"{tool} is missing")
        pytest.skip(f"{tool} is missing")


@pytest.fixture(scope="module")
def display() -> str:
    """A virtual screen (Xvfb) for the bundle's window; its name, e.g. ``:1``."""
    need("Xvfb")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        yield ":" + os.read(read_fd, 16).decode().strip()
    finally:
        server.terminate()
        server.wait()
        os.close(read_fd)


def test_window_starts_under_xvfb(bundle, display, tmp_path) -> None:
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
    shot = Image.open(f"{probe}.png")
    assert shot.size[0] > 600 and len(np.unique(np.asarray(shot.convert("L")))) > 20  # a real, drawn window
    shutil.copy(f"{probe}.png", Path(tempfile.gettempdir()) / "samcut-bundle-window.png")
    print(f"start-up to window shown: cold {times[0]:.0f} ms, warm {min(times[1:]):.0f} ms")


def xdotool(display: str, *args: str) -> str:
    result = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                            text=True, timeout=120)
    return result.stdout.strip()


def wait_for_window(display: str, title: str, app: subprocess.Popen, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = xdotool(display, "search", "--onlyvisible", "--name", title)
        if found:
            return found.split()[-1]
        assert app.poll() is None, f"samcut exited ({app.returncode}) before showing {title!r}"
        time.sleep(0.2)
    raise AssertionError(f"no window {title!r} after {timeout:.0f} s")


def test_first_run_installs_from_file_in_the_app(bundle, display, tmp_path) -> None:
    """A new user of the bundle, offline: the first-run dialog's *Install from file*, a file chooser,
    the checkpoint's path typed and Enter, Yes to custom weights; the model is converted (no torch)
    and the app goes on."""
    need("xdotool")
    home = tmp_path / "home"
    home.mkdir()
    checkpoint = tmp_path / "mobile_sam_test.pt"
    shutil.copy(reference_dir() / "mobile_sam_test.pt", checkpoint)
    log = open(tmp_path / "app.log", "w")  # noqa: SIM115 - closed below
    app = subprocess.Popen([str(bundle / "samcut"), str(ROOT / "samples" / "sample.png")],
                           env=bare_env(home, DISPLAY=display), stdout=log, stderr=subprocess.STDOUT)
    try:
        dialog = wait_for_window(display, "Install the MobileSAM model", app)
        xdotool(display, "windowfocus", "--sync", dialog)
        xdotool(display, "key", "--clearmodifiers", "alt+f")
        chooser = wait_for_window(display, "Model checkpoint", app)
        xdotool(display, "windowfocus", "--sync", chooser)
        xdotool(display, "type", "--delay", "15", str(checkpoint))
        for _ in range(3):  # the first Return may only take the file name's completion
            xdotool(display, "key", "Return")
            time.sleep(0.5)
            if not xdotool(display, "search", "--onlyvisible", "--name", "Model checkpoint"):
                break
        # The test weights are not the official checkpoint: the app asks, Yes is the default answer.
        question = wait_for_window(display, "Not the official checkpoint", app)
        xdotool(display, "windowfocus", "--sync", question)
        xdotool(display, "key", "Return")
        manifest = installed_model(home).with_name("mobile_sam_test") / "manifest.json"  # custom: its own name
        deadline = time.monotonic() + 60
        while not manifest.exists() or xdotool(display, "search", "--onlyvisible", "--name", "Install the MobileSAM"):
            assert time.monotonic() < deadline, "the model was not installed within 60 s"
            assert app.poll() is None, f"samcut exited ({app.returncode})"
            time.sleep(0.2)
        time.sleep(1.0)  # the model loads after the dialog closes; the app must still be running then
        assert app.poll() is None, (tmp_path / "app.log").read_text()
        assert not xdotool(display, "search", "--onlyvisible", "--name", "no model")  # no failure box
    finally:
        app.terminate()
        app.wait(timeout=120)
        log.close()
    assert json.loads(manifest.read_text())["checkpoint"]["name"] == "mobile_sam_test.pt"
    result = subprocess.run([str(bundle / "samcut"), "--self-test"], env=bare_env(home, QT_QPA_PLATFORM="offscreen"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "self-test OK" in result.stdout, result.stdout + result.stderr


def test_a_hostile_checkpoint_is_refused_by_the_bundle(bundle, tmp_path) -> None:
    path, marker = hostile_checkpoint(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run([str(bundle / "samcut"), "models", "export", str(path), "--out", str(out)],
                            env=bare_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("samcut: ") and "refused" in result.stderr
    assert not marker.exists() and not out.exists()


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
