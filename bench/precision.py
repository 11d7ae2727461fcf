"""bf16 fast mode: fidelity on every golden case, quality on the synthetic composites, speed.

    python bench/precision.py [--test-models DIR] [--synthetic-models DIR] [--runs N]

Golden cases (reference test checkpoint, random weights): the worst embedding difference of the
bf16 encoder against fp32 and against the official pipeline's golden, and the worst mask IoU of
the predictor cases decoded from the bf16 embedding against the same cases decoded from fp32.
Synthetic composites (the half-trained checkpoint): 3 seeded clicks inside each pasted object;
the chosen mask's IoU against the fp32 path and against the pasted object. Each is measured with
the decoder in fp32 (what the fast mode runs) and, for the record, with the decoder in bf16 too.
Timings are interleaved medians, encoder and decoder, fp32 (ONNX Runtime) and bf16 (OpenVINO).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from engine import ensure_models  # noqa: E402

from reference import golden_files, reference_dir  # noqa: E402


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def synthetic_model(models: Path | None) -> Path:
    if models:
        return models
    import tempfile

    from samcut.models.store.install import export_checkpoint
    out = Path(tempfile.mkdtemp(prefix="samcut-bench-syn-")) / "model"
    export_checkpoint(reference_dir() / "synthetic" / "mobile_sam_synthetic.pt", out)
    return out


class BfDecoder:
    """The decoder graph in OpenVINO bf16, with ``decode`` like the engine's (for the record only)."""

    def __init__(self, engine: object) -> None:
        from samcut.models.engine.runtimes import OpenVinoGraph

        self.engine = engine
        self.graph = OpenVinoGraph(str(engine.model_dir / "decoder.onnx"), engine.threads, "bf16")

    def decode(self, embedding: object, prompt: object) -> tuple[np.ndarray, np.ndarray]:
        from samcut.models.engine.postprocess import upsample_masks
        from samcut.models.engine.sam_engine import decoder_feeds, prompt_arrays

        logits, iou = self.graph.run(decoder_feeds(embedding, [prompt_arrays(embedding, prompt)]))
        low = logits[0, 1:4]
        return upsample_masks(low, embedding.input_size, embedding.original_size), iou[0, 1:4]


def best_mask(engine: object, embedding: object, prompt: object) -> np.ndarray:
    pred = engine.decode(embedding, prompt)
    return pred.masks[int(np.argmax(pred.scores))]


def best_bf_mask(decoder: BfDecoder, embedding: object, prompt: object) -> np.ndarray:
    masks, scores = decoder.decode(embedding, prompt)
    return masks[int(np.argmax(scores))]


def goldens(fp32: object, bf16: object) -> None:
    from samcut.models.engine import ImageEmbedding, Prompt

    print("\n## golden cases (reference test checkpoint)")
    print("| case | embedding diff bf16-fp32 | bf16-golden | fp32-golden | worst mask IoU vs fp32 "
          "(decoder fp32) | (decoder bf16) |")
    print("| --- | --- | --- | --- | --- | --- |")
    bf_decoder = BfDecoder(fp32)
    for path in golden_files():
        if path.name.startswith("preproc_only"):
            continue
        g = np.load(path)
        e32, e16 = fp32.encode(g["image"]), bf16.encode(g["image"])
        worst = worst_bf = 1.0
        for case in sorted({k[:4] for k in g.files if k.startswith("p") and k[1:3].isdigit()}):
            box = g[case + "box"]
            if bool(g[case + "has_mask_input"]):
                continue  # mask inputs come from the golden's own logits: not a bf16 question
            prompt = Prompt(points=[tuple(p) for p in g[case + "point_coords"]],
                            labels=[int(v) for v in g[case + "point_labels"]],
                            box=tuple(float(v) for v in box) if box.size else None)
            reference = best_mask(fp32, e32, prompt)
            worst = min(worst, mask_iou(best_mask(fp32, e16, prompt), reference))
            bf_embedding = ImageEmbedding(e16.features, e16.original_size, e16.input_size)
            worst_bf = min(worst_bf, mask_iou(best_bf_mask(bf_decoder, bf_embedding, prompt), reference))
        to_golden_bf, to_golden = (float(np.abs(e.features - g["embedding"]).max()) for e in (e16, e32))
        print(f"| {path.stem} | {np.abs(e16.features - e32.features).max():.4f} | {to_golden_bf:.4f} "
              f"| {to_golden:.1e} | {worst:.4f} | {worst_bf:.4f} |")


def composites(fp32: object, bf16: object) -> None:
    from samcut.models.engine import Prompt

    print("\n## synthetic composites (half-trained checkpoint), 3 clicks inside each object")
    print("| composite | IoU bf16 vs fp32 (decoder fp32) | (decoder bf16) | IoU vs object: fp32 | bf16 |")
    print("| --- | --- | --- | --- | --- |")
    bf_decoder = BfDecoder(fp32)
    totals = []
    for i in range(6):
        folder = reference_dir() / "synthetic"
        image = np.asarray(Image.open(folder / f"composite_{i}.png").convert("RGB"))
        truth = np.asarray(Image.open(folder / f"composite_{i}_mask.png").convert("L")) > 127
        ys, xs = np.nonzero(truth)
        picks = np.random.default_rng(i).choice(len(xs), 3, replace=False)
        e32, e16 = fp32.encode(image), bf16.encode(image)
        rows = []
        for k in picks:
            prompt = Prompt(points=[(float(xs[k]), float(ys[k]))], labels=[1])
            m32, m16 = best_mask(fp32, e32, prompt), best_mask(fp32, e16, prompt)
            mbf = best_bf_mask(bf_decoder, e16, prompt)
            rows.append((mask_iou(m16, m32), mask_iou(mbf, m32), mask_iou(m32, truth), mask_iou(m16, truth)))
        mean = np.mean(rows, axis=0)
        totals.extend(rows)
        print(f"| {i} | {mean[0]:.4f} (worst {min(r[0] for r in rows):.4f}) | {mean[1]:.4f} "
              f"| {mean[2]:.3f} | {mean[3]:.3f} |")
    mean = np.mean(totals, axis=0)
    print(f"| all 18 clicks | {mean[0]:.4f} (worst {min(r[0] for r in totals):.4f}) | {mean[1]:.4f} "
          f"| {mean[2]:.3f} | {mean[3]:.3f} |")


def speed(fp32: object, bf16: object, runs: int) -> None:
    from samcut.models.engine import Prompt

    image = np.asarray(Image.open(reference_dir() / "synthetic" / "composite_0.png").convert("RGB"))
    embedding = fp32.encode(image)
    bf_decoder = BfDecoder(fp32)
    prompt = Prompt(points=[(300.0, 200.0)], labels=[1])
    cases = {"encode fp32 (ONNX Runtime CPU)": lambda: fp32.encode(image),
             "encode bf16 (OpenVINO)": lambda: bf16.encode(image),
             "decoder fp32 (ONNX Runtime CPU)": lambda: fp32.decode_low_res(embedding, prompt),
             "decoder bf16 (OpenVINO), not used": lambda: bf_decoder.decode(embedding, prompt)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    for _ in range(runs):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    print(f"\n## speed, interleaved, {runs} runs, {fp32.threads} threads (composite 0, 1536 x 1024)")
    base = statistics.median(times["encode fp32 (ONNX Runtime CPU)"])
    dbase = statistics.median(times["decoder fp32 (ONNX Runtime CPU)"])
    for name, values in times.items():
        ref = base if name.startswith("encode") else dbase
        med = statistics.median(values)
        print(f"{name:<40} median {med:7.1f} ms [{min(values):.1f}-{max(values):.1f}]  {ref / med:4.2f}x fp32's speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-models", type=Path)
    parser.add_argument("--synthetic-models", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from samcut.models.engine import SamEngine
    from samcut.models.engine.runtimes import bf16_unavailable_reason

    reason = bf16_unavailable_reason()
    if reason:
        print(f"bf16 cannot run here: {reason}")
        return
    test_models = ensure_models(args.test_models)
    goldens(SamEngine(test_models, precision="fp32"), SamEngine(test_models, precision="bf16"))
    syn = synthetic_model(args.synthetic_models)
    fp32, bf16 = SamEngine(syn, precision="fp32"), SamEngine(syn, precision="bf16")
    composites(fp32, bf16)
    speed(fp32, bf16, args.runs)


if __name__ == "__main__":
    main()
