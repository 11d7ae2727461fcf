"""Batched decoding: per-prompt cost of N single-point prompts in one decoder run, N = 1, 16, 64, 256.

    python bench/batch.py [--models DIR]

Each N is timed as the best of a few runs (the whole batch, divided by N), interleaved with the
single-prompt call as the baseline of the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import ensure_models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from samcut.models.engine import ImageEmbedding, Prompt, SamEngine

    engine = SamEngine(ensure_models(args.models), precision="fp32")
    features = np.random.default_rng(0).standard_normal((1, 256, 64, 64)).astype(np.float32)
    embedding = ImageEmbedding(features, (1024, 1536), (683, 1024))
    rng = np.random.default_rng(1)
    sizes = (1, 16, 64, 256)
    prompts = {n: [Prompt(points=[tuple(rng.uniform(0, 1000, 2))], labels=[1]) for _ in range(n)] for n in sizes}
    best = {n: float("inf") for n in sizes}
    for n in sizes:
        engine.decode_low_res_batch(embedding, prompts[n])
    for _ in range(args.runs):
        for n in sizes:
            start = time.perf_counter()
            engine.decode_low_res_batch(embedding, prompts[n])
            best[n] = min(best[n], (time.perf_counter() - start) * 1000 / n)
    print(f"batched decoding: {engine.threads} threads, batch-capable graph: {engine.batch_decoding}")
    for n in sizes:
        print(f"N = {n:>3}: {best[n]:6.1f} ms per prompt  ({best[1] / best[n]:4.2f}x the single call's speed)")


if __name__ == "__main__":
    main()
