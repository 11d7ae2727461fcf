"""Engine speed, as ratios to this machine's float32 matmul floor measured in the same run.

    python bench/engine.py [--models DIR] [--runs N]

Without ``--models`` it exports ``mobile_sam_test.pt`` from the reference folder (in a child
process, so torch does not inflate this process's memory). Timings are medians with the
spread (min-max); no figure here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

ENCODER_GFLOP = 77.54
DECODER_GFLOP = 3.66
ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Wall times in milliseconds of ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def sgemm_gflops(n: int = 2048, runs: int = 9) -> float:
    """Best float32 matmul throughput of numpy's BLAS on an ``n x n`` product: the floor is what the
    machine can do at best (a median would move the floor with the machine's noise)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ms = min(timed(lambda: a @ b, runs))
    return 2 * n ** 3 / (ms / 1000) / 1e9


# (rows, inner, columns, count) of the encoder's linear layers at 1024 x 1024: qkv, proj, fc1, fc2 of
# each TinyViT stage (windows padded to whole windows), 50.8 GFLOP of its 77.5.
ENCODER_LINEAR_SHAPES = [
    (17689, 128, 384, 2), (17689, 128, 128, 2), (16384, 128, 512, 2), (16384, 512, 128, 2),
    (4900, 160, 480, 6), (4900, 160, 160, 6), (4096, 160, 640, 6), (4096, 640, 160, 6),
    (4900, 320, 960, 2), (4900, 320, 320, 2), (4096, 320, 1280, 2), (4096, 1280, 320, 2),
]


def shape_efficiency(shapes: list[tuple[int, int, int, int]], runs: int = 5) -> float:
    """numpy's float32 throughput on ``shapes`` as a fraction of its 2048 x 2048 throughput, measured
    interleaved (best of ``runs`` each): how much of the square floor those shapes can reach at all."""
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32), c)
             for m, k, n, c in [(2048, 2048, 2048, 1), *shapes]]
    best = [float("inf")] * len(cases)
    for _ in range(runs):
        for i, (a, b, _count) in enumerate(cases):
            start = time.perf_counter()
            a @ b
            best[i] = min(best[i], time.perf_counter() - start)
    square = 2 * 2048 ** 3 / best[0]
    flop = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] * c for a, b, c in cases[1:])
    seconds = sum(t * c for t, (_a, _b, c) in zip(best[1:], cases[1:], strict=True))
    return flop / seconds / square


def describe(label: str, times: list[float], floor_ms: float | None = None) -> str:
    med = statistics.median(times)
    line = f"{label:<44} median {med:8.1f} ms  [{min(times):.1f}-{max(times):.1f}]"
    if floor_ms:
        line += f"  {med / floor_ms:5.2f}x floor"
    return line


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ensure_models(models: Path | None) -> Path:
    if models:
        return models
    sys.path.insert(0, str(ROOT / "tests"))
    from samcut.models.store.install import export_checkpoint

    from reference import reference_dir

    out = Path(tempfile.mkdtemp(prefix="samcut-bench-")) / "model"
    export_checkpoint(reference_dir() / "mobile_sam_test.pt", out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from samcut.models.engine import Prompt, SamEngine
    from samcut.models.engine.postprocess import upsample_masks

    models = ensure_models(args.models)
    print(f"# {time.strftime('%Y-%m-%d')}  {cpu_name()}, {os.cpu_count()} CPUs  python {platform.python_version()} "
          f"numpy {np.__version__} onnxruntime {ort.__version__}")
    gflops = sgemm_gflops()
    enc_floor = ENCODER_GFLOP / gflops * 1000
    dec_floor = DECODER_GFLOP / gflops * 1000
    print(f"sgemm 2048x2048 float32: {gflops:.1f} GFLOP/s -> floors: encoder {enc_floor:.1f} ms, "
          f"decoder {dec_floor:.2f} ms")

    print(f"numpy on the encoder's own linear-layer shapes reaches {shape_efficiency(ENCODER_LINEAR_SHAPES):.2f} "
          "of that rate (skinny products: the floor is a bound these shapes do not reach)")

    engine = SamEngine(models)
    print(f"encoder runtime: {engine.encoder_runtime}")
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (683, 1024, 3), dtype=np.uint8)
    print(describe("encode 1024x683 (preprocess + encoder)", timed(lambda: engine.encode(photo), args.runs),
                   enc_floor))

    big = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    embedding = engine.encode(big)
    del big
    prompt = Prompt(points=[(2000.0, 1500.0), (2100.0, 1400.0)], labels=[1, 1])
    runs = args.runs * 3
    print(describe("decoder session only", timed(lambda: engine.decode_low_res(embedding, prompt), runs), dec_floor))
    print(describe("stroke-to-mask 12 MP, best mask, full frame",
                   timed(lambda: upsample_masks(engine.decode_low_res(embedding, prompt)[0][1:2],
                                                embedding.input_size, embedding.original_size), runs), dec_floor))
    print(describe("decode() 12 MP, 3 full-size masks", timed(lambda: engine.decode(embedding, prompt), args.runs),
                   dec_floor))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
