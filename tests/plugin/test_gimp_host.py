"""The GIMP 3 plug-in in real GIMP 3.0 (Debian 13 chroot): install, run the procedure, compare pixels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hosts import (
    REQUIRE_ENV,
    assert_cutout,
    click_and_apply,
    composite_image,
    install_model,
    run_host,
    samcut_executable,
    segment_reference,
    stop_samcut_server,
    x_display,
)
from PIL import Image

from samcut.models.engine.runtimes import PRECISION_ENV

CHROOT_ENV = "SAMCUT_GIMP_CHROOT"
DEFAULT_CHROOT = "/var/cache/samcut-ci/gimp-chroot"
DRIVER = Path(__file__).with_name("gimp_driver.py")


def chroot_root() -> Path:
    root = Path(os.environ.get(CHROOT_ENV, DEFAULT_CHROOT))
    if not (root / "usr/bin/gimp-console-3.0").exists() or os.geteuid() != 0:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"no GIMP 3 chroot at {root} (build it with tests/plugin/build_gimp_chroot.sh)")
        pytest.skip(f"no GIMP 3 chroot at {root}, or not root")
    return root


@contextmanager
def mounted(root: Path, exchange: Path):
    """Host / at ROOT/host, the exchange folder at the same path inside, /proc: undone in reverse order."""
    mounts = []

    def mount(args: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(target)], check=True)
        mounts.append(target)

    try:
        mount(["-t", "proc", "proc"], root / "proc")
        mount(["--rbind", "/"], root / "host")
        subprocess.run(["mount", "--make-rslave", str(root / "host")], check=True)
        mount(["--bind", str(exchange)], root / str(exchange).lstrip("/"))
        yield
    finally:
        for target in reversed(mounts):
            subprocess.run(["umount", "-R", "-l", str(target)], check=False)


def run_gimp(tmp_root: Path, test_model_dir: Path, points, mode="replace", preselect=None, offsets=(0, 0),
             samcut=None, output="selection", display=None) -> tuple[dict, Path, Path]:
    """GIMP runs the plug-in's procedure on a composite; no ``points`` make an interactive call, whose
    window (on X ``display``) is clicked and applied like a person would (the report then holds
    ``pressed``: the monotonic time of Apply, and ``reported``: when GIMP's report was written)."""
    root = chroot_root()
    exchange = Path(tempfile.mkdtemp(prefix="samcut-gimp-test-", dir="/tmp"))
    try:
        home = exchange / "home"
        env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "PATH": os.environ["PATH"]}
        subprocess.run([sys.executable, "-m", "samcut.cli", "plugins", "install", "gimp"],
                       env={**os.environ, **env}, check=True, capture_output=True)
        assert (home / ".config/GIMP/3.0/plug-ins/samcut/samcut.py").stat().st_mode & 0o100
        install_model(exchange / "models", test_model_dir)
        image, _ = composite_image(exchange)
        settings = {"image": str(image), "points": ";".join(f"{x},{y},{lab}" for x, y, lab in points),
                    "mode": mode, "preselect": preselect, "offsets": list(offsets), "output": output,
                    "layer_png": str(exchange / "layer_out.png"), "mask_png": str(exchange / "mask_out.png"),
                    "report": str(exchange / "report.json"), "selection_png": str(exchange / "selection.png")}
        (exchange / "settings.json").write_text(json.dumps(settings))
        command = samcut or f"chroot /host {samcut_executable()}"
        inner_env = ["env", "-i", f"HOME={home}", f"XDG_CONFIG_HOME={home / '.config'}",
                     "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                     f"TMPDIR={exchange}", f"SAMCUT_COMMAND={command}", f"SAMCUT_MODELS_ROOT={exchange / 'models'}",
                     f"SAMCUT_CONFIG_DIR={exchange / 'cfg'}", f"SAMCUT_GIMP_TEST={exchange / 'settings.json'}",
                     # env -i drops the suite's fp32 pin; GIMP's samcut would encode in bf16 where the CPU
                     # can, and differ from the fp32 reference by a few edge pixels
                     f"{PRECISION_ENV}={os.environ.get(PRECISION_ENV, 'fp32')}"]
        pressed: list[float] = []
        if display is not None:
            inner_env.append(f"DISPLAY={display}")
            x_env = {**os.environ, "DISPLAY": display}
            threading.Thread(target=lambda: pressed.append(click_and_apply(x_env, "selecting for GIMP")),
                             daemon=True).start()
        with mounted(root, exchange):
            driver_copy = exchange / "driver.py"
            shutil.copy2(DRIVER, driver_copy)
            try:
                result = run_host(["chroot", str(root), *inner_env, "sh", "-c",
                                   f"gimp-console-3.0 -i -n --batch-interpreter=python-fu-eval -b - --quit "
                                   f"< {driver_copy}"], dict(os.environ), timeout=240)
            finally:
                if display is not None:  # the window's process outlives GIMP (detached): end it here
                    stop_samcut_server({**os.environ, "TMPDIR": str(exchange), "HOME": str(home)})
        report_path = exchange / "report.json"
        assert report_path.exists(), "GIMP wrote no report:\n" + result.stdout.decode(errors="replace")[-3000:]
        report = json.loads(report_path.read_text())
        report["pressed"] = pressed[0] if pressed else None
        report["reported"] = report_path.stat().st_mtime - time.time() + time.monotonic()
        report["output"] = result.stdout.decode(errors="replace")[-2000:]
        out = tmp_root / "gimp_selection.png"
        if (exchange / "selection.png").exists():
            shutil.copy2(exchange / "selection.png", out)
        for name in ("layer_out.png", "mask_out.png"):
            if (exchange / name).exists():
                shutil.copy2(exchange / name, tmp_root / name)
        kept_image = tmp_root / "photo.png"
        shutil.copy2(image, kept_image)
        return report, out, kept_image
    finally:
        shutil.rmtree(exchange, ignore_errors=True)


def _points(tmp_path):
    folder = tmp_path / "img"
    folder.mkdir()
    return composite_image(folder)[1]


def test_gimp_selection_matches_samcut_segment(tmp_path, test_model_dir) -> None:
    points = _points(tmp_path)
    report, selection, image = run_gimp(tmp_path, test_model_dir, points)
    assert report["status"] == "ok", report
    assert report["layers"] == 1  # the temporary mask layer is gone
    gimp = np.asarray(Image.open(selection).convert("L")) > 127
    expected = segment_reference(image, points, test_model_dir, tmp_path / "expected.png")
    assert expected.any()
    np.testing.assert_array_equal(gimp, expected)


def test_gimp_subtract_with_layer_offsets(tmp_path, test_model_dir) -> None:
    points = _points(tmp_path)
    dx, dy = 30, 20  # the layer sits 30 px right and 20 px down on the canvas
    report, selection, image = run_gimp(tmp_path, test_model_dir, points, mode="subtract",
                                        preselect=[0, 0, 600, 400], offsets=(dx, dy))
    assert report["status"] == "ok", report
    gimp = np.asarray(Image.open(selection).convert("L")) > 127
    mask = segment_reference(image, points, test_model_dir, tmp_path / "expected.png")
    expected = np.ones_like(mask)
    expected[dy:, dx:] &= ~mask[: mask.shape[0] - dy, : mask.shape[1] - dx]
    np.testing.assert_array_equal(gimp, expected)


def test_gimp_failing_samcut_changes_nothing(tmp_path, test_model_dir) -> None:
    points = _points(tmp_path)
    report, _, _ = run_gimp(tmp_path, test_model_dir, points, samcut="/bin/false")
    assert report["status"] == "error", report
    assert report["has_selection"] is False and report["layers"] == 1


def test_gimp_apply_as_new_layer_and_as_layer_mask(tmp_path, test_model_dir) -> None:
    """Output "layer": a new layer above holds the cut-out (the layer's pixels, alpha = the mask), the
    user's selection is left as it was (here: none). Output "mask": the source layer gets samcut's
    mask as its layer mask. Each inside one undo group (GIMP's batch mode offers no way to press
    Undo, so the grouping itself is what the plug-in guarantees)."""
    points = _points(tmp_path)
    report, _, image = run_gimp(tmp_path, test_model_dir, points, output="layer")
    assert report["status"] == "ok", report
    assert report["layers"] == 2 and report["layer_names"][0].endswith("(samcut cut-out)"), report
    assert report["has_selection"] is False and report["source_has_mask"] is False
    expected = segment_reference(image, points, test_model_dir, tmp_path / "expected.png")
    assert_cutout(tmp_path / "layer_out.png", image, expected)

    report, _, _ = run_gimp(tmp_path, test_model_dir, points, output="mask")
    assert report["status"] == "ok", report
    assert report["layers"] == 1 and report["source_has_mask"] is True and report["has_selection"] is False
    mask = np.asarray(Image.open(tmp_path / "mask_out.png").convert("L")) > 127
    np.testing.assert_array_equal(mask, expected)


def test_gimp_interactive_call_returns_at_apply(tmp_path, test_model_dir) -> None:
    """A person's first call: the procedure opens samcut's window, a click and Ctrl+Return apply,
    and GIMP has the selection within seconds of Apply, though the window's process lives on
    (GIMP's plug-in waits for 'samcut host', which returns at once)."""
    chroot_root()
    with x_display() as display:
        report, selection, _image = run_gimp(tmp_path, test_model_dir, [], display=display)
    assert report["status"] == "ok", report
    assert report["pressed"] is not None, "the samcut window was never clicked"
    after_apply = report["reported"] - report["pressed"]
    print(f"GIMP had samcut's selection {after_apply:.1f} s after Apply")
    assert after_apply < 10, f"GIMP got the selection {after_apply:.1f} s after Apply"
    gimp = np.asarray(Image.open(selection).convert("L")) > 127
    assert gimp.any() and not gimp.all()  # the click's object
