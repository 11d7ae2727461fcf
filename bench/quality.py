"""Fast first, exact later: time to the first mask (the quick model) and to the quality model's
mask, and stroke latency while the quality model encodes in the background.

    python bench/quality.py [--checkpoints DIR] [--models NAME ...] [--sizes WxH ...] [--strokes N]

The quick model is the MobileSAM test checkpoint; the quality models are checkpoints made from the
shared manifests (``<DIR>/<name>_test.pt``), installed with the torch-free conversion. For each
quality model and image size: the image is opened and clicked at once (as a user does); "first
mask" is when the quick model's answer lands, "quality mask" when the quality model's answer to
the same click does (its encode in the background, then the prompt replayed), with no other input
meanwhile. Stroke latency, in another run:
decodes of a 4-point prompt with a mask input, one after the other, while the quality encode runs,
against the same decodes once it is done (the baseline, same run). "no yield" runs the quality
lane and its encoder's threads at normal priority, to show what yielding buys. fp32; the quality
engine is loaded beforehand (the app loads it with the first image: that time is printed apart).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from samcut.models.engine import Prompt, SamEngine

ROOT = Path(__file__).resolve().parents[1]


def photo(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = [128 + 60 * np.sin(xx / (20 + 7 * c) / (width / 1024)) * np.cos(yy / 31 / (width / 1024)) for c in range(3)]
    return np.clip(np.stack(base, -1) + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)


def install(checkpoint: Path, folder: Path) -> Path:
    from samcut.models.store.convert import convert_checkpoint

    if not (folder / "manifest.json").is_file():
        convert_checkpoint(checkpoint, folder)
    return folder


def stroke_prompt(width: int, height: int, mask: np.ndarray | None) -> Prompt:
    points = [(width * f, height * g) for f, g in ((0.4, 0.5), (0.45, 0.52), (0.5, 0.5), (0.3, 0.6))]
    return Prompt(points=points, labels=[1, 1, 1, 0], mask_input=mask)


def load(quick: SamEngine, folder: Path, yield_cpu: bool) -> tuple[SamEngine, float]:
    """The quality engine as the app makes it (its encoder's session made in a thread that yields
    the CPU, or not), and the seconds that took (the first image's extra wait)."""
    import threading

    from samcut.models.engine.quality import load_quality_engine
    from samcut.models.io.platform import yield_this_thread

    start = time.perf_counter()
    engine = load_quality_engine(folder, quick, precision="fp32")

    def make_encoder() -> None:
        if yield_cpu:
            yield_this_thread()
        engine.load_encoder()

    thread = threading.Thread(target=make_encoder)
    thread.start()
    thread.join()
    return engine, time.perf_counter() - start


def run_one(quick: SamEngine, engine: SamEngine, rgb: np.ndarray, strokes: int, yield_cpu: bool) -> dict:
    from samcut.models.engine import quality as quality_module
    from samcut.models.engine.quality import QualityTier
    from samcut.models.engine.service import SegmentationService

    real_yield = quality_module.yield_this_thread
    if not yield_cpu:
        quality_module.yield_this_thread = lambda: True  # the lane at normal priority, as without yielding
    folder = engine.model_dir
    try:
        tier = QualityTier(lambda: engine, str(folder), folder.name)
        service = SegmentationService(quick, memory_cache=1, quality=tier)
        h, w = rgb.shape[:2]
        click = stroke_prompt(w, h, None)
        try:
            start = time.perf_counter()
            handle = service.open_image(rgb)
            better = service.upgrade(handle)
            first = service.decode(handle, click).result()
            first_s = time.perf_counter() - start
            busy = []
            mask = first.low_res_logits[first.default]
            while tier.phase != "encoding" and not better.embedding.done():
                time.sleep(0.005)
            while tier.encoding and len(busy) < strokes:
                t = time.perf_counter()
                service.decode(handle, stroke_prompt(w, h, mask)).result()
                busy.append((time.perf_counter() - t) * 1000)
            better.embedding.result()
            quality = service.decode(better, click).result()
            quality_s = time.perf_counter() - start
            idle = []
            for _ in range(max(len(busy), 5)):
                t = time.perf_counter()
                service.decode(handle, stroke_prompt(w, h, mask)).result()
                idle.append((time.perf_counter() - t) * 1000)
            assert quality.model == str(folder)
        finally:
            service.close()
    finally:
        quality_module.yield_this_thread = real_yield
    return {"first_s": first_s, "quality_s": quality_s, "busy": busy, "idle": idle,
            "encode_s": tier.last_encode_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path,
                        default=Path(os.environ.get("SAMCUT_GENERATED_CHECKPOINTS", "/tmp/samcut-gen")))
    parser.add_argument("--models", nargs="+", default=["sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam_vit_b"])
    parser.add_argument("--sizes", nargs="+", default=["1536x1024", "4000x3000"])
    parser.add_argument("--strokes", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "samcut-bench-quality")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "tests"))
    from samcut.models.engine import SamEngine

    from reference import reference_dir

    quick = SamEngine(install(reference_dir() / "mobile_sam_test.pt", args.work / "mobile_sam"), precision="fp32")
    print(f"{os.cpu_count()} CPUs; quick model: MobileSAM (test weights), fp32")
    print("| quality model | image | first mask | quality mask | quality encode | stroke ms idle | "
          "stroke ms while it encodes | ratio | no yield: ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        folder = install(args.checkpoints / f"{name}_test.pt", args.work / name)
        engine, load_s = load(quick, folder, True)
        naive_engine, _ = load(quick, folder, False)  # (its encoder's threads at normal priority)
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            rgb = photo(w, h)
            run_one(quick, engine, photo(320, 240), 2, True)  # warm both models' sessions
            times = run_one(quick, engine, rgb, 0, True)  # the user clicks once and waits
            got = run_one(quick, engine, rgb, args.strokes, True)  # the user keeps drawing
            naive = run_one(quick, naive_engine, rgb, args.strokes, False)
            idle, busy = statistics.median(got["idle"]), statistics.median(got["busy"] or [float("nan")])
            naive_ratio = statistics.median(naive["busy"] or [float("nan")]) / statistics.median(naive["idle"])
            print(f"| {name} | {w}x{h} | {times['first_s']:.2f} s | {times['quality_s']:.2f} s | "
                  f"{times['encode_s']:.2f} s | {idle:.0f} | {busy:.0f} ({len(got['busy'])} strokes) | "
                  f"{busy / idle:.2f}x | {naive_ratio:.2f}x |", flush=True)
        print(f"(loading {name} for the first image: {load_s:.1f} s more)")


if __name__ == "__main__":
    main()
