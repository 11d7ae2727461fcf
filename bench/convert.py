"""Installing a model: the torch-free conversion against the torch export, time and peak memory.

    python bench/convert.py [ROUNDS]

Each round runs, as separate processes and alternating, ``samcut models export`` (numpy: read the
checkpoint, fill the shipped templates) and ``python -m samcut.models.export`` (torch: build the
model, trace, export, check parity), both on the reference test checkpoint. Prints wall time and
peak resident memory of each process and the torch/numpy ratios of the round.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from reference import reference_dir  # noqa: E402


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.returncode = 0
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    checkpoint = str(reference_dir() / "mobile_sam_test.pt")
    figures: dict[str, list[tuple[float, float]]] = {"numpy": [], "torch": []}
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "numpy": [sys.executable, "-m", "samcut.cli.main", "models", "export", checkpoint, "--out", f"{tmp}/n"],
            "torch": [sys.executable, "-m", "samcut.models.export", checkpoint, "--out", f"{tmp}/t"],
        }
        for i in range(rounds):
            for name in (("numpy", "torch") if i % 2 == 0 else ("torch", "numpy")):
                figures[name].append(measure(commands[name]))
    print(f"{'':8} {'median s':>9} {'min s':>7} {'peak MB':>8}")
    for name, rows in figures.items():
        print(f"{name:8} {statistics.median(t for t, _ in rows):9.2f} {min(t for t, _ in rows):7.2f} "
              f"{max(m for _, m in rows):8.0f}")
    ratios = [t / n for (t, _), (n, _) in zip(figures["torch"], figures["numpy"], strict=True)]
    memory = max(m for _, m in figures["torch"]) / max(m for _, m in figures["numpy"])
    print(f"torch / numpy per round: time {', '.join(f'{r:.1f}x' for r in ratios)}; peak memory {memory:.1f}x")


if __name__ == "__main__":
    main()
