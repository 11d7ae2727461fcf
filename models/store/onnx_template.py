"""ONNX graphs without their weights ("templates"), filled from a checkpoint's tensors with no torch.

Our exporter (``samcut.models.export``, torch) runs without constant folding, so every weight in
``encoder.onnx`` / ``decoder.onnx`` is an initializer whose ``raw_data`` is a byte-for-byte copy of
one checkpoint tensor. A template is the exported file with those payloads cut out. Because a
payload's length follows from its tensor's shape and type, every protobuf length prefix in the
file stays valid; putting the checkpoint's bytes back at the recorded offsets gives exactly the
file a torch export of that checkpoint writes (tested for both reference checkpoints).

Template file (xz-compressed)::

    MAGIC
    one line of JSON: {"format": 1, "made_with": {...}, "holes": [hole, ...]}
    the exported file's bytes with the hole payloads removed

where a hole is ``{"name": initializer, "key": checkpoint key, "offset": byte offset in the
stripped bytes, "dtype": numpy dtype name, "shape": [...]}``, holes sorted by offset.
Initializers that are not checkpoint tensors (index tables, constants) stay in the stripped
bytes as they are.

A graph whose weights exceed protobuf's 2 GB (SAM ViT-H's encoder, 2.5 GB) uses ONNX's external
data: the header then has ``"external": {"file": "encoder.onnx.data", "bytes": N}``, the stripped
bytes are the whole graph file (its initializers point into that file), and the holes' offsets are
offsets in the data file, which ``fill_external_data`` writes (zeros between tensors: large ones
start on 64 KiB boundaries, which lets ONNX Runtime map them instead of copying).
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC = b"SAMCUT-ONNX-TEMPLATE\n"
TEMPLATE_FORMAT = 1
TEMPLATES_DIR = Path(__file__).with_name("templates")
FLOAT_KINDS = ("f",)  # checkpoint floats of any width are cast to the graph's type, as torch's loading does


class TemplateError(ValueError):
    """A template is damaged, or a checkpoint's tensors do not fit it; the message says which."""


@dataclass(frozen=True)
class Hole:
    """Where one checkpoint tensor goes: ``offset`` bytes into the stripped file."""

    name: str
    key: str
    offset: int
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Template:
    """A parsed template: its header fields and the stripped ONNX bytes."""

    made_with: dict
    holes: tuple[Hole, ...]
    stripped: bytes
    external: dict | None = None  # {"file": data file name, "bytes": its size}: weights outside the graph

    @property
    def data_file(self) -> str | None:
        """The external data file's name beside the graph, or None (weights inside the graph)."""
        return str(self.external["file"]) if self.external else None

    @property
    def keys(self) -> frozenset[str]:
        """The checkpoint keys this graph needs."""
        return frozenset(h.key for h in self.holes)


def template_path(graph: str) -> Path:
    """The shipped template named ``graph`` (a catalogue entry's ``templates``: ``"encoder"`` and
    ``"decoder"`` for MobileSAM, ``"sam_vit_b.encoder"``, ``"sam2.1.decoder"``, ...)."""
    return TEMPLATES_DIR / f"{graph}.onnx-template.xz"


def encode_template(made_with: dict, holes: list[Hole], stripped: bytes, external: dict | None = None) -> bytes:
    """The file bytes of a template (deterministic: the same input gives the same bytes)."""
    header = {"format": TEMPLATE_FORMAT, "made_with": made_with,
              "holes": [{"name": h.name, "key": h.key, "offset": h.offset, "dtype": h.dtype, "shape": list(h.shape)}
                        for h in sorted(holes, key=lambda h: h.offset)]}
    if external:
        header["external"] = {"file": str(external["file"]), "bytes": int(external["bytes"])}
    body = MAGIC + json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n" + stripped
    return lzma.compress(body, preset=9)


def decode_template(data: bytes, source: str = "template") -> Template:
    """Parse template file bytes; ``TemplateError`` if they are damaged."""
    try:
        body = lzma.decompress(data)
        if not body.startswith(MAGIC):
            raise ValueError("no template header")
        line_end = body.index(b"\n", len(MAGIC))
        header = json.loads(body[len(MAGIC):line_end])
        if header.get("format") != TEMPLATE_FORMAT:
            raise ValueError(f"format {header.get('format')!r}, this samcut reads {TEMPLATE_FORMAT}")
        holes = tuple(Hole(h["name"], h["key"], int(h["offset"]), str(h["dtype"]), tuple(int(v) for v in h["shape"]))
                      for h in header["holes"])
        external = header.get("external")
        if external is not None and not (isinstance(external.get("file"), str) and "/" not in external["file"]
                                         and "\\" not in external["file"] and isinstance(external.get("bytes"), int)):
            raise ValueError("bad external data entry")
    except (lzma.LZMAError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TemplateError(f"{source} is damaged ({exc}); reinstall samcut") from exc
    stripped = body[line_end + 1:]
    offsets = [h.offset for h in holes]
    end = external["bytes"] if external else len(stripped)
    if offsets != sorted(offsets) or (offsets and (offsets[0] < 0 or offsets[-1] > end)) or (
            external and holes and holes[-1].offset + holes[-1].nbytes > end):
        raise TemplateError(f"{source} is damaged (hole offsets out of order or range); reinstall samcut")
    return Template(dict(header.get("made_with", {})), holes, stripped, external)


def read_template(graph: str) -> Template:
    """The shipped template of ``graph``."""
    path = template_path(graph)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"samcut's model template {path} is missing ({exc.strerror}); reinstall samcut") from exc
    return decode_template(data, str(path))


def check_fits(template: Template, state: Mapping[str, np.ndarray], source: str,
               model: str = "MobileSAM vit_t") -> None:
    """Raise ``TemplateError`` unless every hole has a tensor of its shape and a compatible type
    (``model`` names the template's model in the message)."""
    missing = sorted(template.keys - set(state))
    wrong = [h for h in template.holes if h.key in state and (tuple(state[h.key].shape) != h.shape or not (
        state[h.key].dtype == np.dtype(h.dtype) or (state[h.key].dtype.kind in FLOAT_KINDS
                                                    and np.dtype(h.dtype).kind in FLOAT_KINDS)))]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing (first: {missing[0]})")
    if wrong:
        h = wrong[0]
        got = state[h.key]
        parts.append(f"{len(wrong)} tensors of the wrong shape or type (first: {h.key} is {got.dtype} "
                     f"{tuple(got.shape)}, {model} has {h.dtype} {h.shape})")
    if parts:
        raise TemplateError(f"{source}: not a {model} checkpoint: " + "; ".join(parts))


def _payload(hole: Hole, state: Mapping[str, np.ndarray]) -> bytes:
    payload = np.asarray(state[hole.key], dtype=np.dtype(hole.dtype).newbyteorder("<")).tobytes(order="C")
    if len(payload) != hole.nbytes:  # check_fits makes this impossible; a wrong length would corrupt the file
        raise TemplateError(f"{hole.key}: {len(payload)} bytes where the graph needs {hole.nbytes}")
    return payload


def fill_external_data(template: Template, state: Mapping[str, np.ndarray], out: BinaryIO) -> None:
    """Write an external-data template's data file: each hole's tensor at its offset, zeros between."""
    position = 0
    for hole in template.holes:
        out.write(bytes(hole.offset - position))
        out.write(_payload(hole, state))
        position = hole.offset + hole.nbytes
    out.write(bytes(int(template.external["bytes"]) - position))


def fill_template(template: Template, state: Mapping[str, np.ndarray], out: BinaryIO) -> None:
    """Write the ONNX file: the stripped bytes with each hole's tensor (little-endian) put back
    (an external-data template: the graph as it is; ``fill_external_data`` writes the weights).

    ``state`` must fit (``check_fits``).
    """
    if template.external:
        out.write(template.stripped)
        return
    position = 0
    for hole in template.holes:
        out.write(template.stripped[position:hole.offset])
        out.write(_payload(hole, state))
        position = hole.offset
    out.write(template.stripped[position:])
