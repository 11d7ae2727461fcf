"""Peak memory per pixel through ``samcut segment``, by image mode.

    python bench/memory.py MODEL_DIR [MEGAPIXELS]
    python bench/memory.py MODEL_DIR --strips


For each mode (grey, RGB, RGBA) a gradient PNG of MEGAPIXELS (default 100) is made; ``samcut
segment IMAGE --point CENTRE --mask OUT --no-cache`` runs on it as a child process, and so does a
1-megapixel image of the same mode (the baseline: Python, numpy, ONNX Runtime and the model). The
child's peak resident memory comes from ``os.wait4``. Printed per mode: the peak, bytes per pixel
(peak / pixels), the marginal bytes per pixel ((peak - baseline) / (pixels - 1e6)), and the
figure ``samcut.models.document.memory`` predicts, so the budget's table can be checked.
With ``--strips``: RGB images of one shape after another (1:1 to 1:25000, both ways, and 1 x 4 million
pixels), each with its peak beside the estimate for its size (issue 25: long thin images).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from samcut.models.document.memory import estimated_peak_bytes

MODES = {"grey": "L", "RGB": "RGB", "RGBA": "RGBA"}
STRIPS = [(2000, 2000), (20000, 200), (400000, 16), (16, 400000), (64, 200000), (4_000_000, 1), (1, 4_000_000)]


def make_image(path: Path, mode: str, pixels: int, shape: tuple[int, int] | None = None) -> tuple[int, int]:
    """A gradient PNG of about ``pixels`` pixels, square-ish or of ``shape`` ``(w, h)``; returns ``(w, h)``."""
    w = int(pixels ** 0.5) if shape is None else shape[0]
    h = pixels // w if shape is None else shape[1]
    ramp = (np.arange(w, dtype=np.uint32) * 255 // max(1, w - 1)).astype(np.uint8)
    rows = np.broadcast_to(ramp, (h, w))
    channels = {"L": [rows], "RGB": [rows, rows[:, ::-1], rows], "RGBA": [rows, rows[:, ::-1], rows, rows]}[mode]
    array = channels[0] if len(channels) == 1 else np.dstack(channels)
    Image.fromarray(np.ascontiguousarray(array), mode).save(path, compress_level=1)
    return w, h


def peak_of(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Peak RSS in bytes and wall seconds of one child."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-400:]}")
    proc.returncode = 0
    return usage.ru_maxrss * 1024.0, time.perf_counter() - started


def make_in_child(path: Path, mode: str, pixels: int, shape: tuple[int, int] | None = None) -> tuple[int, int]:
    """``make_image`` in its own process: Linux keeps a child's peak RSS from before its exec (so a
    child forked while this process held a 100 MP array would report that array as its own)."""
    out = subprocess.run([sys.executable, __file__, "--make", str(path), mode, str(pixels), *map(str, shape or ())],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def segment_cmd(image: Path, w: int, h: int, models: str, tmp: str) -> list[str]:
    return [sys.executable, "-m", "samcut.cli.main", "segment", str(image), "--point", f"{w // 2},{h // 2}",
            "--mask", f"{tmp}/out.png", "--models", models, "--no-cache"]


def strips(models: str, env: dict[str, str]) -> None:
    """Peak of ``samcut segment`` on RGB images of each shape in ``STRIPS`` beside its estimate."""
    print(f"{'shape':>16} {'pixels':>8} {'peak MiB':>9} {'estimate':>9} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in STRIPS:
            image = Path(tmp) / f"strip-{w}x{h}.png"
            make_in_child(image, "RGB", w * h, (w, h))
            peak, wall = peak_of(segment_cmd(image, w, h, models, tmp), env)
            image.unlink()
            estimate = estimated_peak_bytes(w * h, "RGB", (h, w))
            print(f"{f'{w}x{h}':>16} {w * h / 1e6:7.1f}M {peak / 2**20:9.0f} {estimate / 2**20:8.0f}M {wall:7.1f}")


def main() -> None:
    if sys.argv[1] == "--make":
        shape = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else None
        print(*make_image(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), shape))
        return
    models = sys.argv[1]
    if sys.argv[2:3] == ["--strips"]:
        strips(models, {**os.environ, "SAMCUT_MAX_MEMORY": str(1 << 40)})
        return
    megapixels = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    env = {**os.environ, "SAMCUT_MAX_MEMORY": str(1 << 40)}
    print(f"{'mode':6} {'pixels':>8} {'peak MiB':>9} {'B/px':>6} {'marginal':>9} {'predicted':>10} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, mode in MODES.items():
            rows = []
            for pixels in (1_000_000, int(megapixels * 1e6)):
                image = Path(tmp) / f"{name}-{pixels}.png"
                w, h = make_in_child(image, mode, pixels)
                peak, wall = peak_of(segment_cmd(image, w, h, models, tmp), env)
                rows.append((w * h, peak, wall))
                image.unlink()
            (base_px, base, _), (px, peak, wall) = rows
            predicted = estimated_peak_bytes(px, mode)
            marginal = (peak - base) / (px - base_px)
            print(f"{name:6} {px / 1e6:7.0f}M {peak / 2**20:9.0f} {peak / px:6.2f} {marginal:9.2f} "
                  f"{predicted / 2**20:9.0f}M {wall:7.1f}")


if __name__ == "__main__":
    main()
