"""Make the weightless ONNX templates that install models without torch (build time, needs torch).

``python -m samcut.models.export.templates [CHECKPOINT]`` exports ``CHECKPOINT`` (default: the
reference test checkpoint) with our torch exporter and writes
``models/store/templates/{encoder,decoder}.onnx-template.xz``. A test regenerates them and fails
when the shipped ones are stale (a changed exporter, graph or torch version).

Use a checkpoint whose tensors are all different from one another (the reference test checkpoint
is): torch's exporter merges initializers with equal values, and a template made from such a
checkpoint would tie those weights together for every other checkpoint.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from samcut.models.store.checkpoint import read_checkpoint
from samcut.models.store.onnx_template import Hole, decode_template, encode_template, template_path

# ONNX TensorProto.DataType -> numpy dtype name (the types our graphs' initializers use).
ONNX_DTYPES = {1: "float32", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}
MODEL_GRAPH, GRAPH_INITIALIZER = 7, 5                 # ModelProto.graph, GraphProto.initializer
TENSOR_DIMS, TENSOR_TYPE, TENSOR_NAME, TENSOR_RAW = 1, 2, 8, 9
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
# Checkpoint tensors no graph computes with: the classifier head and BatchNorm's step counters.
UNUSED = re.compile(r"^image_encoder\.(head|norm_head)\.|\.num_batches_tracked$")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The protobuf fields of ``buf[start:end]``: ``(number, wire type, value start, value end)``.

    For a varint the value span is its encoded bytes; for a length-delimited field, its payload.
    """
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            _, after = _varint(buf, pos)
        elif wire == LENGTH:
            length, pos = _varint(buf, pos)
            after = pos + length
        elif wire in (FIXED64, FIXED32):
            after = pos + (8 if wire == FIXED64 else 4)
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, pos, after
        pos = after


def _dims(buf: bytes, wire: int, start: int, end: int) -> list[int]:
    if wire == VARINT:
        return [_varint(buf, start)[0]]
    out, pos = [], start  # packed
    while pos < end:
        value, pos = _varint(buf, pos)
        out.append(value)
    return out


def initializers(model: bytes) -> Iterator[tuple[str, str, tuple[int, ...], int, int]]:
    """``(name, dtype, shape, raw start, raw end)`` of each top-level initializer stored as raw data."""
    for number, _, g_start, g_end in fields(model, 0, len(model)):
        if number != MODEL_GRAPH:
            continue
        for g_number, _, t_start, t_end in fields(model, g_start, g_end):
            if g_number != GRAPH_INITIALIZER:
                continue
            name, dtype, dims, raw = "", "", [], None
            for t_number, wire, start, end in fields(model, t_start, t_end):
                if t_number == TENSOR_NAME:
                    name = model[start:end].decode()
                elif t_number == TENSOR_TYPE:
                    dtype = ONNX_DTYPES.get(_varint(model, start)[0], "")
                elif t_number == TENSOR_DIMS:
                    dims += _dims(model, wire, start, end)
                elif t_number == TENSOR_RAW:
                    raw = (start, end)
            if raw is not None and dtype:
                yield name, dtype, tuple(dims), raw[0], raw[1]


def encoder_key(name: str) -> str:
    """Encoder initializer ``encoder.X`` is checkpoint tensor ``image_encoder.X``."""
    return "image_encoder." + name.removeprefix("encoder.") if name.startswith("encoder.") else name


def make_template(model: bytes, state: Mapping[str, np.ndarray], key_of: Callable[[str], str],
                  made_with: dict) -> bytes:
    """Cut every initializer that equals its checkpoint tensor (``key_of(name)``) out of ``model``."""
    holes: list[Hole] = []
    pieces: list[bytes] = []
    position = removed = 0
    for name, dtype, shape, start, end in initializers(model):
        key = key_of(name)
        tensor = state.get(key)
        if tensor is None or tuple(tensor.shape) != shape:
            continue
        if np.asarray(tensor, np.dtype(dtype).newbyteorder("<")).tobytes() != model[start:end]:
            raise ValueError(f"initializer {name} differs from checkpoint tensor {key}: was the graph exported "
                             "with constant folding? Templates need every weight as a plain copy")
        pieces.append(model[position:start])
        holes.append(Hole(name, key, start - removed, dtype, shape))
        removed += end - start
        position = end
    pieces.append(model[position:])
    return encode_template(made_with, holes, b"".join(pieces))


def exported_templates(checkpoint: Path, encoder: Path, decoder: Path) -> dict[str, bytes]:
    """Template bytes for an encoder and decoder exported from ``checkpoint``.

    Every checkpoint tensor must land in a graph except those no graph computes with
    (``UNUSED``): a weight missing from the holes means the exporter merged or folded it.
    """
    import torch

    state = read_checkpoint(checkpoint)
    made_with = {"torch": torch.__version__.split("+")[0], "checkpoint_keys": len(state)}
    templates = {"encoder": make_template(encoder.read_bytes(), state, encoder_key, made_with),
                 "decoder": make_template(decoder.read_bytes(), state, lambda n: n, made_with)}
    used = set().union(*(decode_template(data).keys for data in templates.values()))
    stray = sorted(k for k in set(state) - used if not UNUSED.search(k))
    if stray:
        raise ValueError(f"{len(stray)} checkpoint tensors are not plain initializers of the exported graphs "
                         f"(first: {stray[0]}); torch merged or folded them")
    return templates


def write_templates(checkpoint: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Export ``checkpoint`` with torch and write both templates (into the package by default)."""
    import warnings

    import torch

    from samcut.models.export.onnx_export import export_decoder, export_encoder
    from samcut.models.mobile_sam import load_mobile_sam

    model = load_mobile_sam(checkpoint)
    written = {}
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder, decoder = Path(tmp) / "encoder.onnx", Path(tmp) / "decoder.onnx"
        export_encoder(model, encoder)
        export_decoder(model, decoder)
        for graph, data in exported_templates(checkpoint, encoder, decoder).items():
            dest = (out_dir / template_path(graph).name) if out_dir else template_path(graph)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.with_suffix(".tmp").write_bytes(data)
            os.replace(dest.with_suffix(".tmp"), dest)
            written[graph] = dest
    return written


def main(argv: list[str] | None = None) -> int:
    reference = Path(os.environ.get("SAMCUT_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared/reference"))
    parser = argparse.ArgumentParser(prog="python -m samcut.models.export.templates",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", type=Path, default=reference / "mobile_sam_test.pt",
                        help="a checkpoint whose tensors all differ (default: the reference test checkpoint)")
    parser.add_argument("--out", type=Path, help="folder for the templates (default: the package's)")
    args = parser.parse_args(argv)
    for graph, path in write_templates(args.checkpoint, args.out).items():
        print(f"{graph}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
