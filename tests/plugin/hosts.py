"""Helpers for the tests that drive the real Krita and GIMP."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reference import synthetic_dir

REQUIRE_ENV = "SAMCUT_REQUIRE_HOSTS"  # CI sets it: a missing host is then a failure, not a skip


def need(program: str, what: str) -> None:
    if shutil.which(program) is None and not Path(program).exists():
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{what} is not installed but {REQUIRE_ENV} is set")
        pytest.skip(f"{what} is not installed here")


def run_host(args: list[str], env: dict[str, str], timeout: float, done: Path | None = None,
             grace: float = 20.0) -> subprocess.CompletedProcess:
    """Run a host program in its own process group; on time-out kill the whole group (no stray hosts).

    With ``done`` (a file the host writes when its work is finished), the host gets ``grace``
    seconds after the file appears to exit by itself, then it is stopped: Krita under Xvfb
    sometimes never returns from its own "quit" after the work is done, and its shutdown is not
    what these tests check.
    """
    import signal
    import tempfile
    import time

    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        finished_at = None
        timed_out = False
        while proc.poll() is None:
            now = time.monotonic()
            if finished_at is None and done is not None and done.exists():
                finished_at = now
            timed_out = now > deadline and finished_at is None
            if now > deadline or (finished_at is not None and now - finished_at > grace):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.2)
        log.seek(0)
        out = log.read()
    if timed_out:  # decided when the host was stopped, not by the clock after it had exited
        pytest.fail(f"{args[0]} did not finish in {timeout:.0f} s; its last output:\n"
                    + out.decode(errors="replace")[-3000:])
    return subprocess.CompletedProcess(args, proc.returncode, out, b"")


def host_environment(**extra: str) -> dict[str, str]:
    """The test's environment without its virtualenv: a host's embedded Python must find its own packages."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH",
                                                             "QT_QPA_PLATFORM")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(extra)
    return env


def samcut_executable() -> str:
    return str(Path(sys.executable).with_name("samcut"))


def composite_image(folder: Path, size=(600, 400)) -> tuple[Path, list[list[float]]]:
    """A composite with a pasted object, resized, and three clicks inside the object."""
    image = Image.open(synthetic_dir() / "composite_1.png").convert("RGB").resize(size, Image.BILINEAR)
    mask = Image.open(synthetic_dir() / "composite_1_mask.png").convert("L").resize(size, Image.NEAREST)
    truth = np.asarray(mask) > 127
    ys, xs = np.nonzero(truth)
    order = np.argsort(ys * size[0] + xs)
    picks = order[[len(order) // 4, len(order) // 2, 3 * len(order) // 4]]
    path = folder / "photo.png"
    image.save(path)
    return path, [[float(xs[i]), float(ys[i]), 1] for i in picks]


def segment_reference(image: Path, points: list[list[float]], models: Path, out: Path) -> np.ndarray:
    """What ``samcut segment`` gives for the same prompts (the host must match it pixel for pixel)."""
    args = [samcut_executable(), "segment", str(image), "--models", str(models), "--mask", str(out)]
    for x, y, label in points:
        args += ["--point", f"{x},{y},{int(label)}"]
    subprocess.run(args, check=True, capture_output=True)
    return np.asarray(Image.open(out)) > 127


def install_model(models_root: Path, model_dir: Path) -> None:
    target = models_root / "mobile_sam"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("encoder.onnx", "decoder.onnx", "manifest.json"):
        shutil.copy2(model_dir / name, target / name)


def assert_cutout(cut_png: Path, photo_png: Path, expected: np.ndarray) -> None:
    """A host's cut-out layer, saved as ``cut_png``: alpha is the expected mask, and where it is
    opaque the colours are the photo's own."""
    cut = np.asarray(Image.open(cut_png).convert("RGBA"))
    np.testing.assert_array_equal(cut[..., 3] > 127, expected)
    photo = np.asarray(Image.open(photo_png).convert("RGB"))
    inside = cut[..., 3] == 255
    np.testing.assert_array_equal(cut[..., :3][inside], photo[inside])


@contextlib.contextmanager
def x_display() -> Iterator[str]:
    """A private X server (Xvfb, 1280 x 1024) for the ``with`` block; yields its display name."""
    need("Xvfb", "Xvfb")
    need("xdotool", "xdotool")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(30)


def free_display_number(start: int = 120) -> int:
    """An X display number nobody uses (no lock file, no socket), for ``xvfb-run -n``."""
    for number in range(start, start + 200):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise RuntimeError("no free X display number")


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    """``condition()``'s first truthy value, polled; fails the test after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def xdotool(env: dict[str, str], *args: str) -> str:
    """Run xdotool on ``env``'s display; its output ("" when it failed)."""
    done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def click_and_apply(env: dict[str, str], title: str, timeout: float = 180) -> float:
    """As a person would: wait for samcut's window called ``title``, click in its middle and press
    Ctrl+Return at once (Apply). Returns the monotonic time of the key press."""
    import time

    window = wait_until(lambda: xdotool(env, "search", "--onlyvisible", "--name", title).split("\n")[0],
                        timeout, f"a window called {title!r}")
    xdotool(env, "windowfocus", "--sync", window)
    geometry = dict(line.split("=") for line in xdotool(env, "getwindowgeometry", "--shell", window).split())
    x, y = int(geometry["WIDTH"]) // 2, int(geometry["HEIGHT"]) // 2
    xdotool(env, "mousemove", "--window", window, str(x), str(y), "click", "1")
    xdotool(env, "key", "--window", window, "ctrl+Return")
    return time.monotonic()


def stop_samcut_server(env: dict[str, str]) -> None:
    """End the window process a host call left serving (it is detached from the host)."""
    subprocess.run([sys.executable, "-m", "samcut.cli", "host", "--stop"], env=env, capture_output=True, timeout=60)
