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

from refine_data import blob_alpha, boundary_f, degrade, make_cases, scores  # noqa: E402

from samcut.models.engine.postprocess import full_mask  # noqa: E402
from samcut.models.engine.refine import refine_alpha  # noqa: E402

from reference import synthetic_dir  # noqa: E402

SIZES = ((1024, 1536, 6), (2000, 3000, 6), (4000, 6000, 4))  # (H, W, composites): 1.5, 6 and 24 MP


def main() -> None:
    print(f"{'case':<28} {'F@1 before':>10} {'after':>6} {'F@2 before':>10} {'after':>6} {'MSE before':>10} "
          f"{'after':>8}")
    summary = []
    for detailed in (False, True):
        all_rows = []
        for h, w, count in SIZES:
            rows = []
            for case in make_cases(synthetic_dir(), size=(h, w), count=count, detailed=detailed):
                plain = full_mask(case.low_res, case.input_size, case.alpha.shape).astype(np.uint8) * 255
                refined = refine_alpha(case.rgb, case.low_res, case.input_size, case.alpha.shape)
                truth = case.alpha >= 0.5
                row = [boundary_f(plain > 127, truth, 1), boundary_f(refined > 127, truth, 1),
                       boundary_f(plain > 127, truth, 2), boundary_f(refined > 127, truth, 2),
                       scores(plain, case.alpha)[1], scores(refined, case.alpha)[1]]
                rows.append(row)
                print(f"{case.name + '@' + str(w):<28} {row[0]:10.3f} {row[1]:6.3f} {row[2]:10.3f} {row[3]:6.3f} "
                      f"{row[4]:10.5f} {row[5]:8.5f}")
            all_rows += rows
            summary.append((f"{'detailed' if detailed else 'smooth'}, {w} px wide", rows))
        summary.append((f"{'detailed' if detailed else 'smooth'}, all sizes", all_rows))
    print()
    for label, rows in summary:
        m = [statistics.mean(col) for col in zip(*rows, strict=True)]
        print(f"{'mean, ' + label:<28} {m[0]:10.3f} {m[1]:6.3f} {m[2]:10.3f} {m[3]:6.3f} {m[4]:10.5f} {m[5]:8.5f}"
              f"   F@1 {m[1] - m[0]:+.3f}, F@2 {m[3] - m[2]:+.3f}, MSE x{m[5] / m[4]:.2f}")

    h, w = 4000, 6000  # 24 megapixels
    alpha = blob_alpha(h, w, 3.0, seed=9)
    rgb = np.dstack([(alpha * 200 + 30).astype(np.uint8)] * 3)
    low, input_size = degrade(alpha)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        refine_alpha(rgb, low, input_size, (h, w))
        times.append((time.perf_counter() - start) * 1000)
    print(f"refine a 24 MP proposal: median {statistics.median(times):.0f} ms [{min(times):.0f}-{max(times):.0f}]")


if __name__ == "__main__":
    main()
