"""Make the weightless ONNX templates that install models without torch (build time, needs torch).

``python -m samcut.models.export.templates [--model NAME] [CHECKPOINT]`` exports ``CHECKPOINT``
(default: the reference MobileSAM test checkpoint) as catalogue model ``NAME`` (default
``mobile_sam``) with our torch exporter and writes its two templates,
``models/store/templates/<template name>.onnx-template.xz`` (the names in the catalogue entry's
``templates``). Models of one family share their decoder template (SAM v1's decoder is
MobileSAM's; the SAM 2.1 sizes share one): a template holds no weights and no trace of the
checkpoint it was made from, so the same graph gives the same bytes. A test regenerates them and
fails when the shipped ones are stale (a changed exporter, graph or torch version).

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
from typing import Any

import numpy as np

from samcut.models.store.catalogue import MOBILE_SAM, REGISTRY, ModelSpec
from samcut.models.store.checkpoint import read_checkpoint
from samcut.models.store.onnx_template import Hole, decode_template, encode_template, template_path

# ONNX TensorProto.DataType -> numpy dtype name (the types our graphs' initializers use).
ONNX_DTYPES = {1: "float32", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}
MODEL_GRAPH, GRAPH_INITIALIZER = 7, 5                 # ModelProto.graph, GraphProto.initializer
TENSOR_DIMS, TENSOR_TYPE, TENSOR_NAME, TENSOR_RAW = 1, 2, 8, 9
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
# Checkpoint tensors no graph computes with: TinyViT's classifier head, BatchNorm's step counters and
# SAM 2.1's video-only modules (memory, object pointers).
UNUSED = re.compile(r"^image_encoder\.(head|norm_head)\.|\.num_batches_tracked$|^(memory_attention|memory_encoder|"
                    r"obj_ptr_proj|obj_ptr_tpos_proj|mask_downsample|maskmem_tpos_enc|no_mem_pos_enc|no_obj_ptr|"
                    r"no_obj_embed_spatial)\b")


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
    """Encoder initializer ``encoder.X`` is checkpoint tensor ``image_encoder.X`` (MobileSAM's and SAM
    v1's encoder graphs); any other initializer has its checkpoint key as its name."""
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


EXTERNAL_ALIGN = 1 << 16  # large tensors of an external data file start on 64 KiB boundaries (mappable)
EXTERNAL_MIN_ALIGNED = 1 << 20


def make_external_template(graph: Path, state: Mapping[str, np.ndarray], key_of: Callable[[str], str],
                           made_with: dict, data_file: str) -> bytes:
    """The template of a graph that torch exported with external data (weights over 2 GB): every
    initializer that is a checkpoint tensor is pointed into one data file ``data_file`` (laid out by
    us: the template's holes), the others are put inline; the template holds the whole graph file."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(graph), load_external_data=True)
    holes: list[Hole] = []
    offset = 0
    for tensor in model.graph.initializer:
        array = numpy_helper.to_array(tensor)
        key = key_of(tensor.name)
        wanted = state.get(key)
        tensor.ClearField("external_data")
        tensor.data_location = onnx.TensorProto.DEFAULT
        if wanted is None or tuple(wanted.shape) != array.shape:
            tensor.raw_data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
            continue
        dtype = array.dtype.newbyteorder("<")
        raw = np.ascontiguousarray(array, dtype).tobytes()
        if np.asarray(wanted, dtype).tobytes() != raw:
            raise ValueError(f"initializer {tensor.name} differs from checkpoint tensor {key}: was the graph "
                             "exported with constant folding? Templates need every weight as a plain copy")
        align = EXTERNAL_ALIGN if len(raw) >= EXTERNAL_MIN_ALIGNED else 64
        offset += -offset % align
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for name, value in (("location", data_file), ("offset", str(offset)), ("length", str(len(raw)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = name, value
        holes.append(Hole(tensor.name, key, offset, np.dtype(array.dtype).name, tuple(array.shape)))
        offset += len(raw)
    return encode_template(made_with, holes, model.SerializeToString(), {"file": data_file, "bytes": offset})


def _has_external_data(encoder: Path, state: Mapping[str, np.ndarray]) -> bool:
    """Whether torch wrote the encoder's weights beside its graph (a model over 2 GB): the graph
    file is then far smaller than the image encoder's tensors."""
    weights = sum(a.nbytes for key, a in state.items() if key.startswith("image_encoder."))
    return encoder.stat().st_size < weights // 2


def exported_templates(checkpoint: Path, encoder: Path, decoder: Path,
                       names: tuple[str, str] = ("encoder", "decoder")) -> dict[str, bytes]:
    """Template bytes for an encoder and decoder exported from ``checkpoint``, by template name
    (``names``: the catalogue entry's ``templates``).

    Every checkpoint tensor must land in a graph except those no graph computes with
    (``UNUSED``): a weight missing from the holes means the exporter merged or folded it.
    """
    import torch

    state = read_checkpoint(checkpoint)
    made_with = {"torch": torch.__version__.split("+")[0]}
    templates = {names[0]: (make_external_template(encoder, state, encoder_key, made_with, "encoder.onnx.data")
                            if _has_external_data(encoder, state) else
                            make_template(encoder.read_bytes(), state, encoder_key, made_with)),
                 names[1]: make_template(decoder.read_bytes(), state, encoder_key, made_with)}
    used = set().union(*(decode_template(data).keys for data in templates.values()))
    stray = sorted(k for k in set(state) - used if not UNUSED.search(k))
    if stray:
        raise ValueError(f"{len(stray)} checkpoint tensors are not plain initializers of the exported graphs "
                         f"(first: {stray[0]}); torch merged or folded them")
    return templates


def torch_model(spec: ModelSpec, checkpoint: Path) -> tuple[Any, Callable[[Any, Path], None],
                                                              Callable[[Any, Path], None]]:
    """``spec``'s torch model loaded from ``checkpoint``, and the functions that export its encoder
    and its decoder graph."""
    if spec.templates == MOBILE_SAM.templates:
        from samcut.models.export.onnx_export import export_decoder, export_encoder
        from samcut.models.mobile_sam import load_mobile_sam

        return load_mobile_sam(checkpoint), export_encoder, export_decoder
    if spec.family == "sam":
        from samcut.models.export.onnx_export import export_decoder
        from samcut.models.export.sam_vit_export import export_sam_vit_encoder
        from samcut.models.sam_vit import load_sam_vit

        return load_sam_vit(checkpoint, spec.size), export_sam_vit_encoder, export_decoder
    from samcut.models.export.sam2_export import export_sam2_decoder, export_sam2_encoder
    from samcut.models.sam2 import load_sam2

    return load_sam2(checkpoint, spec.size), export_sam2_encoder, export_sam2_decoder


def made_templates(spec: ModelSpec, checkpoint: Path) -> dict[str, bytes]:
    """Export ``checkpoint`` as ``spec`` with torch: its two templates' bytes, by template name."""
    import warnings

    import torch

    model, export_encoder, export_decoder = torch_model(spec, checkpoint)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder, decoder = Path(tmp) / "encoder.onnx", Path(tmp) / "decoder.onnx"
        export_encoder(model, encoder)
        export_decoder(model, decoder)
        del model
        return exported_templates(checkpoint, encoder, decoder, spec.templates)


def write_templates(checkpoint: Path, out_dir: Path | None = None, spec: ModelSpec = MOBILE_SAM) -> dict[str, Path]:
    """Export ``checkpoint`` as ``spec`` with torch and write both templates (into the package by default)."""
    written = {}
    for name, data in made_templates(spec, checkpoint).items():
        dest = (out_dir / template_path(name).name) if out_dir else template_path(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.with_suffix(".tmp").write_bytes(data)
        os.replace(dest.with_suffix(".tmp"), dest)
        written[name] = dest
    return written


def main(argv: list[str] | None = None) -> int:
    reference = Path(os.environ.get("SAMCUT_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared/reference"))
    parser = argparse.ArgumentParser(prog="python -m samcut.models.export.templates",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", type=Path, default=reference / "mobile_sam_test.pt",
                        help="a checkpoint whose tensors all differ (default: the reference test checkpoint)")
    parser.add_argument("--model", default=MOBILE_SAM.name, choices=list(REGISTRY),
                        help="the catalogue model the checkpoint holds (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="folder for the templates (default: the package's)")
    args = parser.parse_args(argv)
    for graph, path in write_templates(args.checkpoint, args.out, REGISTRY[args.model]).items():
        print(f"{graph}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
