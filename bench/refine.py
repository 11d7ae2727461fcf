"""Edge refinement quality and speed: boundary F-score and alpha MSE, SAM-degraded vs refined.

    python bench/refine.py

Prints one row per composite (see ``refine_data``), the averages, and the time to refine a
24-megapixel proposal.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from refine_data import blob_alpha, degrade, make_cases, scores  # noqa: E402

from samcut.models.engine.postprocess import full_mask  # noqa: E402
from samcut.models.engine.refine import refine_alpha  # noqa: E402

from reference import synthetic_dir  # noqa: E402


def main() -> None:
    rows = []
    print(f"{'case':<10} {'F before':>9} {'F after':>8} {'MSE before':>11} {'MSE after':>10}")
    for size in ((1024, 1536), (2000, 3000)):
        for case in make_cases(synthetic_dir(), size=size):
            plain = full_mask(case.low_res, case.input_size, case.alpha.shape).astype(np.uint8) * 255
            refined = refine_alpha(case.rgb, case.low_res, case.input_size, case.alpha.shape)
            (f0, m0), (f1, m1) = scores(plain, case.alpha), scores(refined, case.alpha)
            rows.append((f0, f1, m0, m1))
            print(f"{case.name + '@' + str(size[1]):<16} {f0:9.3f} {f1:8.3f} {m0:11.5f} {m1:10.5f}")
    f0, f1, m0, m1 = (statistics.mean(col) for col in zip(*rows, strict=True))
    print(f"{'mean':<16} {f0:9.3f} {f1:8.3f} {m0:11.5f} {m1:10.5f}   F +{f1 - f0:.3f}, MSE x{m1 / m0:.2f}")

    h, w = 4000, 6000  # 24 megapixels
    alpha = blob_alpha(h, w, 3.0, seed=9)
    rgb = np.dstack([(alpha * 200 + 30).astype(np.uint8)] * 3)
    low, input_size = degrade(alpha)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        refine_alpha(rgb, low, input_size, (h, w))
        times.append((time.perf_counter() - start) * 1000)
    print(f"refine a 24 MP proposal: median {statistics.median(times):.0f} ms [{min(times):.0f}-{max(times):.0f}]")


if __name__ == "__main__":
    main()
