"""``samcut batch --subject`` with 1 and 2 workers, and through a local Ray with 1 and 2 actors,
against the naive loop (one ``samcut segment --subject`` process per image): images per second on
the same images, in one run.

    python bench/batch_scale.py [--models DIR] [--images 12] [--size 640x480] [--skip ray ...]

Each variant runs as its own command (start-up included, as a user pays it: for ``--ray`` that is
starting a Ray on this machine too) with a fresh embedding cache, fp32, on the same
noise-and-shapes images; the order is naive, 1 worker, 2 workers, Ray 1 actor, Ray 2 actors, and
the ratios are to the naive loop of the same run. With Ray installed, the time Ray alone takes to
start and stop (``ray.init`` + ``ray.shutdown``, no work) is printed last.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import ensure_models  # noqa: E402


def make_images(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` images: noise with a bright ellipse (something for the finder to find)."""
    rng = np.random.default_rng(0)
    width, height = size
    paths = []
    for number in range(count):
        image = Image.fromarray(rng.integers(0, 80, (height, width, 3), dtype=np.uint8))
        x, y = rng.integers(0, width // 2), rng.integers(0, height // 2)
        ImageDraw.Draw(image).ellipse((x, y, x + width // 3, y + height // 3), fill=(230, 200, 40))
        path = folder / f"img_{number:02d}.png"
        image.save(path)
        paths.append(path)
    return paths


def timed(argvs: list[list[str]], env: dict[str, str]) -> tuple[float, int]:
    """Seconds to run ``argvs`` one after another; how many exited 0."""
    start = time.perf_counter()
    ok = sum(subprocess.run(argv, env=env, capture_output=True).returncode == 0 for argv in argvs)
    return time.perf_counter() - start, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--skip", nargs="*", default=[], choices=("naive", "workers", "ray"),
                        help="leave these variants out")
    args = parser.parse_args()
    models = ensure_models(args.models)
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="samcut-batch-bench-"))
    (work / "in").mkdir()
    images = make_images(work / "in", args.images, (width, height))
    samcut = [sys.executable, "-m", "samcut.cli"]
    variants = {
        "naive loop (segment --subject per image)": lambda out: [
            [*samcut, "segment", str(p), "--subject", "--models", str(models), "--cutout", str(out / p.name)]
            for p in images],
        "batch --workers 1": lambda out: [[*samcut, "batch", str(work / "in"), "--subject", "--out", str(out),
                                           "--models", str(models), "--workers", "1"]],
        "batch --workers 2": lambda out: [[*samcut, "batch", str(work / "in"), "--subject", "--out", str(out),
                                           "--models", str(models), "--workers", "2"]],
        "batch --ray --workers 1 (1 actor, 2 threads)": lambda out: [[
            *samcut, "batch", str(work / "in"), "--subject", "--out", str(out), "--models", str(models),
            "--workers", "1", "--threads", "2", "--ray"]],
        "batch --ray (2 actors, 1 thread each)": lambda out: [[
            *samcut, "batch", str(work / "in"), "--subject", "--out", str(out), "--models", str(models),
            "--workers", "2", "--ray"]],
    }
    kinds = {"naive": "naive", "batch --workers": "workers", "batch --ray": "ray"}
    variants = {name: commands for name, commands in variants.items()
                if next(kind for prefix, kind in kinds.items() if name.startswith(prefix)) not in args.skip}
    print(f"# {time.strftime('%Y-%m-%d')}  {os.cpu_count()} CPUs, {len(images)} images {width}x{height}, "
          f"model {models.name}, fp32")
    naive_rate = None
    for number, (name, commands) in enumerate(variants.items()):
        out = work / f"out{number}"
        out.mkdir()
        env = {**os.environ, "SAMCUT_PRECISION": "fp32", "SAMCUT_CONFIG_DIR": str(work / f"config{number}")}
        argvs = commands(out)
        seconds, ok = timed(argvs, env)
        written = len(list(out.glob("*.png")))
        rate = len(images) / seconds
        naive_rate = naive_rate or rate
        print(f"{name:46s} {seconds:6.1f} s  {rate:5.2f} images/s  {rate / naive_rate:4.2f}x  "
              f"({written} cutouts, {ok}/{len(argvs)} commands exited 0)", flush=True)
    if "ray" not in args.skip:
        start_stop = [sys.executable, "-c", "import os, ray, ray.data; ray.init(num_cpus=os.cpu_count(), "
                      "include_dashboard=False, log_to_driver=False); ray.shutdown()"]
        seconds, ok = timed([start_stop], dict(os.environ))
        print(f"{'Ray alone: import, ray.init, ray.shutdown':46s} {seconds:6.1f} s  ({ok}/1 exited 0)")


if __name__ == "__main__":
    main()
