"""A host's interactive call end to end, as a plug-in makes it: ``samcut host REQUEST`` on a real X
server (Xvfb), its window clicked and applied with xdotool like a person would.

The first call starts the window's process detached and returns as soon as the answer is written
(the host never waits for that process); a second call is served by the same, warm process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hosts import composite_image, wait_until, x_display, xdotool
from PIL import Image

from samcut.plugin.protocol import Request, read_response


@pytest.fixture()
def display():
    with x_display() as name:
        yield name


def write_request(folder: Path, image: Path) -> Path:
    folder.mkdir()
    request = Request(image=str(image), response=str(folder / "response.json"), host="krita")
    (folder / "request.json").write_text(request.to_json())
    return folder / "request.json"


def test_first_call_returns_at_apply_and_the_second_reuses_the_window(tmp_path, display, synthetic_model_dir) -> None:
    runtime = Path(tempfile.mkdtemp(prefix="sc-", dir="/tmp"))  # the bridge's folder: its endpoint file
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM",)}
    env.update(DISPLAY=display, XDG_RUNTIME_DIR=str(runtime), SAMCUT_MODEL_DIR=str(synthetic_model_dir),
               SAMCUT_CONFIG_DIR=str(tmp_path / "config"), SAMCUT_MODELS_ROOT=str(tmp_path / "models"))
    photo, _clicks = composite_image(tmp_path, size=(900, 600))
    command = [sys.executable, "-m", "samcut.cli", "host"]
    log = runtime / "samcut" / "server.log"
    try:
        first = write_request(tmp_path / "one", photo)
        client = subprocess.Popen([*command, str(first)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        window = wait_until(lambda: xdotool(env, "search", "--name", "selecting for Krita").split("\n")[0],
                            180, "samcut's window")
        xdotool(env, "windowfocus", "--sync", window)
        geometry = dict(line.split("=") for line in xdotool(env, "getwindowgeometry", "--shell", window).split())
        x, y = int(geometry["WIDTH"]) // 2, int(geometry["HEIGHT"]) // 2
        xdotool(env, "mousemove", "--window", window, str(x), str(y), "click", "1")
        xdotool(env, "key", "--window", window, "ctrl+Return")  # at once: Apply waits for the click's mask
        response_file = first.with_name("response.json")
        wait_until(response_file.exists, 180, "the response (Apply)")
        applied = time.monotonic()
        wait_until(lambda: client.poll() is not None, 60, "the first 'samcut host' to return")
        returned = time.monotonic() - applied
        print(f"first call: 'samcut host' returned {returned:.2f} s after its answer was written")
        assert client.returncode == 0, client.stderr.read().decode()
        assert returned < 5.0, f"the host's first call returned {returned:.1f} s after Apply"
        response = read_response(str(response_file))
        assert response.status == "ok" and response.output == "selection"
        mask = np.asarray(Image.open(response.mask)) > 127
        assert mask.shape == (600, 900)
        assert 0 < mask.mean() < 0.9, "the click's mask was not applied"

        second = write_request(tmp_path / "two", photo)
        started = time.monotonic()
        client = subprocess.Popen([*command, str(second)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        window = wait_until(lambda: xdotool(env, "search", "--onlyvisible", "--name", "selecting for Krita"),
                            60, "the window again")
        xdotool(env, "windowfocus", "--sync", window.split("\n")[0])
        xdotool(env, "key", "--window", window.split("\n")[0], "ctrl+Return")
        wait_until(lambda: client.poll() is not None, 60, "the second 'samcut host' to return")
        print(f"second call: window to answer {time.monotonic() - started:.1f} s")
        assert read_response(str(second.with_name("response.json"))).status == "ok"
        assert log.read_text().count("serving host requests") == 1  # one window process served both
    finally:
        subprocess.run([*command, "--stop"], env=env, capture_output=True, timeout=60)
        wait_until(lambda: not (runtime / "samcut" / "host.json").exists()
                   or subprocess.run([*command, "--stop"], env=env, capture_output=True).stdout.find(b"no samcut") >= 0,
                   60, "the window's process to end")
        shutil.rmtree(runtime, ignore_errors=True)
