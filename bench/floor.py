"""An honest floor: the model's own GEMM shapes, each at its best measured rate, plus its memory-bound
ops at measured memory bandwidth, beside the square-matmul floor; every figure against both.

    python bench/floor.py [--models DIR] [--runs N]

How the shape floor is built (all measured in this run, on this machine):
- The graph is run once by ONNX Runtime with every intermediate tensor exposed, to learn the real
  shape of every node's inputs and outputs (encoder at 1 x 3 x 1024 x 1024; decoder with one prompt
  of two points).
- Compute-bound nodes: every MatMul and Gemm, and every Conv that is not depthwise. Each distinct
  shape is timed alone as one ONNX Runtime node and, for plain matrix products, with numpy's BLAS
  too; the best of both (best of ``runs`` each) is that shape's time. A Conv is its own node
  (ONNX Runtime runs it as im2col + GEMM).
- Memory-bound nodes: everything else that moves float data (elementwise ops, normalisations,
  softmax, transposes, depthwise convolutions, padding, slicing, concatenation). Their float32
  inputs and outputs are counted in bytes and charged at the machine's memory bandwidth, measured
  as the best of a two-thread ``c = a + b`` over arrays far larger than the caches. Metadata ops
  (Shape, Reshape, Unsqueeze, Constant, ...) cost nothing. Tensors that stay in cache move faster
  than this, so this part is an upper bound of what a perfect runtime would pay; the GEMM part
  assumes nothing fuses.
The square floor is the model's nominal GFLOP at numpy's best 2048 x 2048 float32 rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import cpu_name, ensure_models, sgemm_gflops, timed  # noqa: E402

FREE_OPS = {"Constant", "Shape", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "ConstantOfShape",
            "Equal", "Not", "Mod", "Cast"}
GEMM_OPS = {"MatMul", "Gemm", "FusedMatMul", "FusedGemm"}
CONV_OPS = {"Conv", "FusedConv"}


@dataclass
class GraphCost:
    """What one graph's floor is made of: ``gemm`` maps a node's signature to (count, flop)."""

    gemm: dict[tuple, list[int]] = field(default_factory=dict)
    memory_ops: list[int] = field(default_factory=list)  # bytes each memory-bound op moves


def fused_graph(path: Path, folder: Path) -> Path:
    """The graph after ONNX Runtime's own fusions (extended level: MatMul+bias, GELU, LayerNorm,
    attention pieces; no CPU-layout rewrites), saved as ``folder/<name>``: what it really runs."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(folder / path.name)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return folder / path.name


def intermediate_shapes(path: Path, feeds: dict[str, np.ndarray]) -> tuple[onnx.ModelProto, dict[str, tuple]]:
    """Every tensor's (shape, dtype) from one real run; initializers included."""
    model = onnx.load(str(path))
    known = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for name in node.output:
            if name and name not in known:
                model.graph.output.append(helper.make_empty_tensor_value_info(name))
                known.add(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    shapes = {name: (tuple(v.shape), v.dtype) for name, v in zip(names, session.run(names, feeds), strict=True)}
    shapes.update({k: (tuple(v.shape), v.dtype) for k, v in feeds.items()})
    for init in onnx.load(str(path)).graph.initializer:
        shapes[init.name] = (tuple(init.dims), np.float32 if init.data_type == TensorProto.FLOAT else np.int64)
    return onnx.load(str(path)), shapes


def attribute(node: onnx.NodeProto, name: str, default: object) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def graph_cost(model: onnx.ModelProto, shapes: dict[str, tuple]) -> GraphCost:
    cost = GraphCost()
    for node in model.graph.node:
        ins = [shapes[n] for n in node.input if n in shapes]
        outs = [shapes[n] for n in node.output if n in shapes]
        if node.op_type in FREE_OPS or not outs:
            continue
        depthwise = node.op_type in CONV_OPS and attribute(node, "group", 1) > 1 \
            and attribute(node, "group", 1) == ins[0][0][1]
        if node.op_type in GEMM_OPS or (node.op_type in CONV_OPS and not depthwise):
            signature = gemm_signature(node, ins)
            entry = cost.gemm.setdefault(signature, [0, gemm_flop(node, ins, outs)])
            entry[0] += 1
            continue
        floats = [np.prod(s, dtype=np.int64) for s, dtype in ins + outs if dtype == np.float32]
        cost.memory_ops.append(4 * int(sum(floats)))
    return cost


def gemm_signature(node: onnx.NodeProto, ins: list[tuple]) -> tuple:
    attrs = tuple(sorted((a.name, str(helper.get_attribute_value(a))) for a in node.attribute))
    return (node.op_type, node.domain, tuple(s for s, _ in ins), attrs)


def gemm_flop(node: onnx.NodeProto, ins: list[tuple], outs: list[tuple]) -> int:
    out = np.prod(outs[0][0], dtype=np.int64)
    if node.op_type in CONV_OPS:  # per output: Cin/group * kh * kw multiply-adds
        weight = ins[1][0]
        return int(2 * out * np.prod(weight[1:], dtype=np.int64))
    a = ins[0][0]
    transposed = attribute(node, "transA", 0)
    inner = (a[0] if "Gemm" in node.op_type else a[-2]) if transposed else a[-1]
    return int(2 * out * inner)


def single_node_time(node: onnx.NodeProto, signature: tuple, runs: int, threads: int) -> float:
    """Best seconds of ``node`` alone in ONNX Runtime at the given input shapes."""
    _op, domain, in_shapes, _attrs = signature
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, list(s)) for i, s in enumerate(in_shapes)]
    clone = helper.make_node(node.op_type, [f"x{i}" for i in range(len(in_shapes))], ["y"], domain=node.domain)
    clone.attribute.extend(node.attribute)
    graph = helper.make_graph([clone], "one", inputs, [helper.make_empty_tensor_value_info("y")])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {f"x{i}": rng.standard_normal(s, dtype=np.float32) for i, s in enumerate(in_shapes)}
    return min(timed(lambda: session.run(None, feeds), runs, warmup=2)) / 1000


def numpy_time(signature: tuple, runs: int) -> float:
    op, _domain, in_shapes, _attrs = signature
    if op != "MatMul":
        return float("inf")
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s, dtype=np.float32) for s in in_shapes[:2])
    return min(timed(lambda: a @ b, runs, warmup=2)) / 1000


BANDWIDTH_SIZES_MB = (0.25, 1, 4, 16, 64, 256)  # bytes moved by one op (inputs + output)


def memory_bandwidth(total_mb: float, runs: int = 5) -> float:
    """Best bytes per second of ``c = a + b`` (2 reads + 1 write, ``total_mb`` together), split over
    two threads, each repeating its half enough times that starting the threads does not count:
    a working set that fits in a cache is measured at that cache's speed."""
    n = max(2048, int(total_mb * 1024 * 1024 / 12))
    a, b, c = (np.ones(n, np.float32) for _ in range(3))
    halves = [slice(0, n // 2), slice(n // 2, n)]
    repeats = max(1, int(256 / total_mb))

    def add(part: slice) -> None:
        for _ in range(repeats):
            np.add(a[part], b[part], out=c[part])

    best = float("inf")
    for _ in range(runs):
        threads = [threading.Thread(target=add, args=(p,)) for p in halves]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 12 * n / best


def bandwidth_curve() -> dict[float, float]:
    """Bytes per second by working-set size in MB (``BANDWIDTH_SIZES_MB``)."""
    return {mb: memory_bandwidth(mb) for mb in BANDWIDTH_SIZES_MB}


def memory_seconds(op_bytes: list[int], curve: dict[float, float]) -> float:
    """Each memory-bound op at the bandwidth of the smallest measured working set that holds it."""
    sizes = sorted(curve)
    total = 0.0
    for size in op_bytes:
        bucket = next((mb for mb in sizes if size <= mb * 1024 * 1024), sizes[-1])
        total += size / curve[bucket]
    return total


def shape_floor(path: Path, feeds: dict[str, np.ndarray], curve: dict[float, float],
                runs: int) -> tuple[float, str]:
    """The shape floor of one graph in seconds, with a one-line breakdown."""
    model, shapes = intermediate_shapes(path, feeds)
    cost = graph_cost(model, shapes)
    nodes = {gemm_signature(n, [shapes[i] for i in n.input if i in shapes]): n for n in model.graph.node
             if n.op_type in GEMM_OPS | CONV_OPS}
    threads = os.cpu_count() or 1
    gemm_s = flop = 0.0
    for signature, (count, node_flop) in cost.gemm.items():
        best = min(single_node_time(nodes[signature], signature, runs, threads), numpy_time(signature, runs))
        gemm_s += best * count
        flop += node_flop * count
    memory_s = memory_seconds(cost.memory_ops, curve)
    detail = (f"{len(cost.gemm)} GEMM/Conv shapes, {flop / 1e9:.2f} GFLOP in {gemm_s * 1000:.1f} ms "
              f"({flop / gemm_s / 1e9:.0f} GFLOP/s); {len(cost.memory_ops)} memory-bound ops, "
              f"{sum(cost.memory_ops) / 1e6:.0f} MB in {memory_s * 1000:.1f} ms")
    return gemm_s + memory_s, detail


def session_time(path: Path, feeds: dict[str, np.ndarray], runs: int) -> list[float]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return timed(lambda: session.run(None, feeds), runs, warmup=2)


def decoder_feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"image_embeddings": rng.standard_normal((1, 256, 64, 64), dtype=np.float32),
            "point_coords": np.array([[[400.0, 300.0], [0.0, 0.0]]], np.float32),
            "point_labels": np.array([[1.0, -1.0]], np.float32),
            "mask_input": np.zeros((1, 1, 256, 256), np.float32), "has_mask_input": np.zeros(1, np.float32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from engine import DECODER_GFLOP, ENCODER_GFLOP

    models = ensure_models(args.models)
    print(f"# {time.strftime('%Y-%m-%d')}  {cpu_name()}, {os.cpu_count()} CPUs  onnxruntime {ort.__version__}")
    gflops = sgemm_gflops()
    curve = bandwidth_curve()
    print(f"sgemm 2048x2048: {gflops:.0f} GFLOP/s; bandwidth by working set (2 threads, c = a + b): "
          + ", ".join(f"{mb:g} MB {bw / 1e9:.0f} GB/s" for mb, bw in curve.items()))
    rng = np.random.default_rng(1)
    graphs = [("encoder", ENCODER_GFLOP, {"image": rng.standard_normal((1, 3, 1024, 1024), dtype=np.float32)}),
              ("decoder", DECODER_GFLOP, decoder_feeds())]
    with tempfile.TemporaryDirectory() as tmp:
        for name, nominal, feeds in graphs:
            path = models / f"{name}.onnx"
            square = nominal / gflops
            unfused, unfused_detail = shape_floor(path, feeds, curve, args.runs)
            fused, fused_detail = shape_floor(fused_graph(path, Path(tmp)), feeds, curve, args.runs)
            runs = args.runs * (1 if name == "encoder" else 3)
            print(f"{name}, as exported: {unfused_detail}")
            print(f"{name}, after ONNX Runtime's fusions: {fused_detail}")
            print(f"  floors: square {square * 1000:.1f} ms, shape (fused) {fused * 1000:.1f} ms, "
                  f"shape (unfused) {unfused * 1000:.1f} ms")
            for label, times in measured_runtimes(path, feeds, runs):
                ms = float(np.median(times))
                print(f"  {label:<24} median {ms:7.1f} ms = {ms / 1000 / square:.2f}x square, "
                      f"{ms / 1000 / fused:.2f}x shape (fused), {ms / 1000 / unfused:.2f}x shape (unfused)")


def measured_runtimes(path: Path, feeds: dict[str, np.ndarray], runs: int) -> list[tuple[str, list[float]]]:
    """The graph's wall time in ONNX Runtime CPU and, where installed, OpenVINO f32 and bf16."""
    results = [("ONNX Runtime CPU fp32", session_time(path, feeds, runs))]
    try:
        from samcut.models.engine.runtimes import OpenVinoGraph, bf16_unavailable_reason
    except ImportError:
        return results
    precisions = ["fp32"] + ([] if bf16_unavailable_reason() else ["bf16"])
    for precision in precisions:
        try:
            hint = {"fp32": "f32"}.get(precision, precision)  # OpenVINO's own names
            graph = OpenVinoGraph(str(path), os.cpu_count() or 1, hint)
        except Exception as exc:  # noqa: BLE001 - a bench reports and goes on
            print(f"  OpenVINO {precision}: not measured ({exc})")
            continue
        results.append((f"OpenVINO {precision}", timed(lambda g=graph: g.run(feeds), runs, warmup=2)))
    return results

if __name__ == "__main__":
    main()
