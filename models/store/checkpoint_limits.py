"""The bounds and sealed objects that let ``checkpoint`` refuse a hostile file before it costs memory.

Everything a checkpoint describes is checked with Python integers before numpy or the C unpickler
sees it, so a file under 100 MB is refused within a few hundred MB, whatever it claims:

- the zip's central directory is bounded before ``zipfile`` builds an entry object per record;
- the pickle is bounded in bytes, scanned opcode by opcode without running it (``scan_pickle``):
  only the opcodes of plain data are allowed (no sets, no instance-building opcodes, no extension
  registry), the opcode count is bounded (one opcode makes at most one small object) and so are
  memo indices (the C unpickler sizes its memo table by the largest index it is given);
- a tensor view's rank, sizes, strides and offset are bounded and the view must lie inside its
  storage (``check_view``); how many bytes are copied out of the storages is bounded by the
  storages' own size (``check_copy``).

The objects a pickle is handed (``StorageType``, ``Storage``, ``TensorView``) are ``Sealed``:
slots only, and a pickle's BUILD on them is refused, so a view checked once stays as checked.
"""

from __future__ import annotations

import io
import math
import os
import pickletools
import struct
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import numpy as np

MAX_PICKLE_BYTES = 8 * 2**20        # a state dict's pickle is tens of KB (MobileSAM's: 81 KB)
MAX_PICKLE_OPS = 1_000_000          # MobileSAM's pickle has 16,000 opcodes
MAX_DICT_ENTRIES = 100_000          # entries of all the file's OrderedDicts (MobileSAM: about 800)
MAX_ZIP_DIRECTORY_BYTES = 4 * 2**20  # about 100 bytes per entry; torch writes one per storage
MAX_NDIM = 32
MAX_INDEX = 2**48                   # any size, stride or offset (elements); keeps byte strides in int64
MAX_REPEAT = 4                      # copied bytes per stored byte: tied weights repeat a storage, nothing more
COPY_SLACK = 2**20                  # small broadcast buffers (an expanded scalar) stay readable

# Opcodes that only build plain data (numbers, strings, tuples, lists, dicts), fetch a global
# through ``find_class``, call it (REDUCE), update it (BUILD, refused by every stand-in) or name a
# storage (BINPERSID). torch writes protocol 2; the others are what a newer protocol writes for the same data.
SAFE_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE",
    "BINUNICODE", "BINUNICODE8", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "LIST", "APPEND", "APPENDS",
    "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    "GET", "BINGET", "LONG_BINGET", "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE",
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "BINPERSID",
})
MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


class CheckpointError(ValueError):
    """The file is not a checkpoint samcut can read safely; the message says why in one line."""


class DamagedPickle(CheckpointError):
    """What should be a pickle is not one (cut short, or not a pickle at all)."""


# torch storage class name -> element dtype (little-endian); bfloat16 is read as uint16 and widened.
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


def short(text: str, limit: int = 80) -> str:
    """``text`` (a key, a name from the pickle) fit for a one-line message: cut, control characters escaped."""
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Sealed:
    """Base of every object the pickle is handed: slots only, and BUILD (``__setstate__``) refuses."""

    __slots__ = ()

    def __setstate__(self, _state: Any) -> None:
        raise CheckpointError(f"the checkpoint's pickle tries to change {self!r}, which model weights never do; "
                              "refused")


class StorageType(Sealed):
    """What ``find_class('torch', 'FloatStorage')`` gives: only the storage's element type."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(STORAGE_DTYPES[self.name])


class Storage(Sealed):
    """One raw storage: element type (in the file's byte order), element count, and its bytes (read once)."""

    __slots__ = ("kind", "dtype", "numel", "load", "data")

    def __init__(self, kind: StorageType, dtype: np.dtype, numel: int, load: Callable[[], bytes]) -> None:
        self.kind, self.dtype, self.numel, self.load = kind, dtype, numel, load
        self.data: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"a {self.kind!r} of {self.numel} elements"

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def array(self) -> np.ndarray:
        """The whole storage as a flat read-only array of ``numel`` elements."""
        if self.data is None:
            raw = self.load()
            if len(raw) != self.nbytes:
                raise CheckpointError(f"a tensor storage holds {len(raw)} bytes where its header says {self.nbytes}")
            self.data = np.frombuffer(raw, self.dtype)
        return self.data


class TensorView(Sealed):
    """What ``_rebuild_tensor_v2`` gives: a bounds-checked strided view of a storage, copied out by ``array``.

    It stays a view until the state dict is complete: a legacy file's storage bytes follow the
    pickle that describes its tensors, and a refused file should cost nothing.
    """

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __repr__(self) -> str:
        return f"a tensor of size {self.size}"

    @property
    def dtype(self) -> np.dtype:
        """The dtype ``array`` returns (native-endian; bfloat16 widened to float32)."""
        if self.storage.kind.name == "BFloat16Storage":
            return np.dtype(np.float32)
        return self.storage.kind.dtype.newbyteorder("=")

    @property
    def nbytes(self) -> int:
        return math.prod(self.size) * self.dtype.itemsize

    def array(self) -> np.ndarray:
        """A C-contiguous, native-endian copy of the view (0-d stays 0-d)."""
        flat = self.storage.array()
        item = flat.itemsize
        strides = tuple(s * item if n > 1 else 0 for n, s in zip(self.size, self.stride, strict=True))
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], shape=self.size, strides=strides, writeable=False)
        out = np.array(view, dtype=flat.dtype.newbyteorder("="), order="C")
        if self.storage.kind.name == "BFloat16Storage":
            out = (out.astype(np.uint32) << 16).view(np.float32)
        return out


def scan_pickle(stream: BinaryIO) -> None:
    """Read one pickle from ``stream`` (up to its STOP) without running it; refuse what no state dict needs.

    Leaves ``stream`` just after the STOP opcode.
    """
    ops = 0
    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            ops += 1
            if ops > MAX_PICKLE_OPS:
                raise CheckpointError(f"its pickle holds more than {MAX_PICKLE_OPS:,} objects, far more than any "
                                      "state dict; refused before reading it")
            if opcode.name not in SAFE_OPCODES:
                raise CheckpointError(f"its pickle uses the {opcode.name} opcode, which torch's tensor format never "
                                      "uses; refused without running anything")
            if opcode.name in MEMO_PUTS and not 0 <= arg < MAX_PICKLE_OPS:
                raise CheckpointError(f"its pickle stores an object at memo index {arg}, beyond any state dict's; "
                                      "refused before reading it")
    except CheckpointError:
        raise
    except (ValueError, struct.error, OverflowError) as exc:
        raise DamagedPickle(f"its pickle is damaged ({exc})") from None


def _directory_size(stream: BinaryIO) -> int | None:
    """The central directory's byte size as ``zipfile`` will take it (the same end records, found the
    same way); None where they are unclear, which ``zipfile`` then refuses itself."""
    total = stream.seek(0, io.SEEK_END)
    tail_start = max(0, total - (22 + 0xFFFF))
    stream.seek(tail_start)
    tail = stream.read()
    plain_end = tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0"
    end = len(tail) - 22 if plain_end else tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) - end < 22:
        return None
    (size,) = struct.unpack_from("<I", tail, end + 12)
    at = tail_start + end
    if at >= 20 + 56:
        stream.seek(at - 20)
        if stream.read(4) == b"PK\x06\x07":  # zip64: the record just before the locator has the size
            stream.seek(at - 20 - 56)
            record = stream.read(56)
            if record[:4] != b"PK\x06\x06":
                return None
            (size,) = struct.unpack_from("<Q", record, 40)
    return size


def check_zip_directory(stream: BinaryIO) -> None:
    """Refuse a zip whose central directory is larger than a checkpoint's.

    ``zipfile.ZipFile`` makes an object per entry when it opens the file; a directory of a million
    empty entries fits in 54 MB and costs half a gigabyte.
    """
    size = _directory_size(stream)
    if size is not None and size > MAX_ZIP_DIRECTORY_BYTES:
        raise CheckpointError(f"its zip directory takes {size:,} bytes, more than any checkpoint's "
                              f"({MAX_ZIP_DIRECTORY_BYTES:,}); refused before reading it")
    stream.seek(0)


def file_size(stream: BinaryIO) -> int:
    """The byte size of an open file."""
    return os.fstat(stream.fileno()).st_size


def check_view(size: Sequence[int], stride: Sequence[int], offset: int, numel: int) -> None:
    """Refuse a tensor view (elements) that is out of sane range or reaches outside its storage of ``numel``."""
    if len(size) > MAX_NDIM:
        raise CheckpointError(f"a tensor has {len(size)} dimensions, more than {MAX_NDIM}")
    if len(size) != len(stride) or any(not 0 <= v <= MAX_INDEX for v in (*size, *stride, offset)):
        raise CheckpointError(f"a tensor has an invalid view (size {tuple(size)}, stride {tuple(stride)}, "
                              f"offset {offset}): each must be between 0 and 2**48")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= numel:
            raise CheckpointError(f"a tensor view (size {tuple(size)}, stride {tuple(stride)}, offset {offset}) "
                                  f"reaches past its storage of {numel} elements")


def check_copy(copied: int, stored: int) -> None:
    """Refuse copying ``copied`` bytes of tensors out of ``stored`` bytes of storages, if it is out of proportion."""
    if copied > MAX_REPEAT * stored + COPY_SLACK:
        raise CheckpointError(f"its tensors would take {copied / 1e6:,.0f} MB copied out of {stored / 1e6:,.0f} MB "
                              f"of storages (a state dict repeats a storage a few times at most); refused")
