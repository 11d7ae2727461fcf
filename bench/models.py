"""Speed and memory per model: install, encoder (fp32 and bf16), decoder, cancellation, peak memory.

    python bench/models.py [--checkpoints DIR] [--models NAME ...] [--runs N]

Each model is measured in its own child process (peak RSS is that process's): its checkpoint
(``<DIR>/<name>_test.pt``, made from the shared manifests by ``make_checkpoint.py``; MobileSAM's is
the reference test checkpoint) is installed with the torch-free conversion, then encoded and
decoded on one 1024 x 683 photo-like image. Ratios are to MobileSAM measured in the same run.
Timings are medians with the spread; nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["mobile_sam", "sam2.1_hiera_tiny", "sam_vit_b"]


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def measure(name: str, checkpoint: Path, runs: int) -> dict:
    """In this (child) process: install ``checkpoint``, then time the model. Returns the figures."""
    import numpy as np

    from samcut.models.engine import Cancellation, EncodeCancelled, Prompt, SamEngine
    from samcut.models.engine.runtimes import PrecisionUnavailable
    from samcut.models.store.convert import convert_checkpoint

    out: dict = {"name": name}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        start = time.perf_counter()
        convert_checkpoint(checkpoint, folder)
        out["install_s"] = time.perf_counter() - start
        out["disk_mb"] = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:683, 0:1024]
        image = np.clip(np.stack([128 + 60 * np.sin(xx / (20 + 7 * c)) * np.cos(yy / 31) for c in range(3)], -1)
                        + rng.normal(0, 12, (683, 1024, 3)), 0, 255).astype(np.uint8)
        engine = SamEngine(folder, precision="fp32")
        times = []
        for i in range(runs + 1):
            start = time.perf_counter()
            embedding = engine.encode(image)
            if i:
                times.append((time.perf_counter() - start) * 1000)
        out["encode_ms"] = times
        prompt = Prompt(points=[(500.0, 300.0), (560.0, 340.0)], labels=[1, 1])
        engine.decode_low_res(embedding, prompt)
        decode = []
        for _ in range(max(10, 4 * runs)):
            start = time.perf_counter()
            engine.decode_low_res(embedding, prompt)
            decode.append((time.perf_counter() - start) * 1000)
        out["decode_ms"] = decode
        cancel = Cancellation()
        timer = threading.Timer(0.3, cancel.cancel)
        timer.start()
        start = time.perf_counter()
        try:
            engine.encode(image, cancel)
            out["cancel_ms"] = None  # finished before the cancel
        except EncodeCancelled:
            out["cancel_ms"] = (time.perf_counter() - start) * 1000 - 300
        out["rss_fp32_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        try:
            fast = SamEngine(folder, precision="bf16")
            fast.encode(image)
            bf16 = []
            for _ in range(runs):
                start = time.perf_counter()
                fast_embedding = fast.encode(image)
                bf16.append((time.perf_counter() - start) * 1000)
            out["encode_bf16_ms"] = bf16
            out["bf16_max_diff"] = float(np.abs(fast_embedding.features - embedding.features).max())
        except PrecisionUnavailable as exc:
            out["bf16"] = str(exc)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def measure_torch(name: str, checkpoint: Path, runs: int) -> dict:
    """In this (child) process: samcut's own torch definition of the model's image encoder (numerically the
    official one: the goldens tests), on a ``1 x 3 x 1024 x 1024`` input, 2 threads, fp32, no_grad."""
    import torch

    from samcut.models.export.templates import torch_model
    from samcut.models.store.catalogue import REGISTRY

    torch.set_num_threads(2)
    model = torch_model(REGISTRY[name], checkpoint)[0]
    encoder = model.encode if hasattr(model, "encode") else model.image_encoder
    image = torch.randn(1, 3, 1024, 1024)
    times = []
    with torch.no_grad():
        for i in range(runs + 1):
            start = time.perf_counter()
            encoder(image)
            if i:
                times.append((time.perf_counter() - start) * 1000)
    return {"name": name, "torch_encode_ms": times}


def checkpoint_of(name: str, folder: Path) -> Path:
    reference = Path(os.environ.get("SAMCUT_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    return reference / "mobile_sam_test.pt" if name == "mobile_sam" else folder / f"{name}_test.pt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=Path(os.environ.get("SAMCUT_GENERATED_CHECKPOINTS", ".")))
    parser.add_argument("--models", nargs="+", default=DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--torch", action="store_true",
                        help="time samcut's torch definitions of the image encoders instead (needs torch)")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "CHECKPOINT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        how = measure_torch if args.torch else measure
        print(json.dumps(how(args.child[0], Path(args.child[1]), args.runs)))
        return 0
    if args.torch:
        print("| model | PyTorch encoder ms (our definitions, 2 threads, fp32) |\n| --- | --- |")
        for name in args.models:
            run = subprocess.run([sys.executable, __file__, "--torch", "--runs", str(args.runs), "--child", name,
                                  str(checkpoint_of(name, args.checkpoints))], capture_output=True, text=True,
                                 check=True)
            print(f"| {name} | {_median(json.loads(run.stdout.splitlines()[-1])['torch_encode_ms'])} |", flush=True)
        return 0
    rows = []
    for name in args.models:
        run = subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--child", name,
                              str(checkpoint_of(name, args.checkpoints))], capture_output=True, text=True, check=True)
        rows.append(json.loads(run.stdout.splitlines()[-1]))
        print(f"{name}: done", file=sys.stderr)
    base = statistics.median(rows[0]["encode_ms"])
    print(f"threads {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; ratios to {rows[0]['name']} in this run\n")
    print("| model | install | on disk | encode fp32 ms | vs first | encode bf16 ms | bf16 max diff | decode ms "
          "| cancel ms | peak RSS fp32 / all |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        bf16 = _median(r["encode_bf16_ms"]) if "encode_bf16_ms" in r else r.get("bf16", "-")
        diff = f"{r['bf16_max_diff']:.3f}" if "bf16_max_diff" in r else "-"
        cancel = f"{r['cancel_ms']:.0f}" if r["cancel_ms"] is not None else "finished first"
        print(f"| {r['name']} | {r['install_s']:.1f} s | {r['disk_mb']:.0f} MB | {_median(r['encode_ms'])} "
              f"| {statistics.median(r['encode_ms']) / base:.1f}x | {bf16} | {diff} | {_median(r['decode_ms'])} "
              f"| {cancel} | {r['rss_fp32_mb']:.0f} / {r['rss_mb']:.0f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
