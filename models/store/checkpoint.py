"""Read a PyTorch checkpoint (a ``torch.save`` state dict) into numpy arrays, without torch.

A checkpoint is a pickle plus raw tensor storages. Two layouts exist:

- **zip** (torch >= 1.6): ``<prefix>/data.pkl`` (the pickle), ``<prefix>/data/<key>`` (one raw
  storage each, stored uncompressed) and ``<prefix>/byteorder`` (``little`` or ``big``; absent in
  files from older torch, which then means little-endian).
- **legacy stream** (``_use_new_zipfile_serialization=False`` and torch < 1.6): five pickles one
  after the other (magic number, protocol version, system info, the object, the sorted list of
  storage keys), then each storage as a little-endian int64 element count and its bytes
  (always little-endian).

The pickle is read by an unpickler whose ``find_class`` knows only the globals torch's tensor
format uses (an ordered dict, ``_rebuild_tensor_v2`` and friends, the typed storage classes) and
maps each to our own numpy stand-in; any other global (``os.system``, ``builtins.eval`` ...) stops
the read with ``CheckpointError`` before anything runs. Every tensor view is bounds-checked
against its storage.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MAX_PICKLE_BYTES = 16 * 2**20   # a state dict's pickle is tens of KB; refuse anything absurd
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STATE_DICT_WRAPPERS = ("model", "state_dict")

# torch storage class name -> element dtype (little-endian); bfloat16 is read as uint16 and widened.
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class CheckpointError(ValueError):
    """The file is not a checkpoint samcut can read safely; the message says why in one line."""


@dataclass(frozen=True)
class _StorageType:
    """What ``find_class('torch', 'FloatStorage')`` gives: only the storage's element type."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(STORAGE_DTYPES[self.name])


@dataclass
class _Storage:
    """One raw storage: element type (in the file's byte order), element count, and its bytes (read once)."""

    kind: _StorageType
    dtype: np.dtype
    numel: int
    load: Callable[[], bytes]
    _data: np.ndarray | None = None

    def array(self) -> np.ndarray:
        """The whole storage as a flat read-only array of ``numel`` elements."""
        if self._data is None:
            raw = self.load()
            expected = self.numel * self.dtype.itemsize
            if len(raw) != expected:
                raise CheckpointError(f"a tensor storage holds {len(raw)} bytes where its header says {expected}")
            self._data = np.frombuffer(raw, self.dtype)
        return self._data


@dataclass(frozen=True)
class _TensorView:
    """What ``_rebuild_tensor_v2`` gives: a strided view of a storage, copied out by ``array``.

    It stays a view until the state dict is complete because a legacy file's storage bytes
    follow the pickle that describes its tensors.
    """

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        """A C-contiguous, native-endian copy of the view (0-d stays 0-d); bounds-checked."""
        flat = self.storage.array()
        if 0 not in self.size:
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
            if last >= flat.size:
                raise CheckpointError(f"a tensor view (size {self.size}, stride {self.stride}, offset {self.offset}) "
                                      f"reaches past its storage of {flat.size} elements")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], shape=self.size,
                                               strides=tuple(s * item for s in self.stride), writeable=False)
        out = np.array(view, dtype=flat.dtype.newbyteorder("="), order="C")
        if self.storage.kind.name == "BFloat16Storage":
            out = (out.astype(np.uint32) << 16).view(np.float32)
        return out


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CheckpointError(f"a tensor's {what} is not a tuple of integers")
    return value


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorView:
    """``torch._utils._rebuild_tensor(_v2)``: the arguments checked, the copy deferred."""
    if not isinstance(storage, _Storage) or not isinstance(offset, int) or isinstance(offset, bool):
        raise CheckpointError("a tensor does not refer to a storage of this checkpoint")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(size) != len(stride) or any(v < 0 for v in size + stride) or offset < 0:
        raise CheckpointError(f"a tensor has an invalid view (size {size}, stride {stride}, offset {offset})")
    return _TensorView(storage, offset, size, stride)


def _rebuild_parameter(data: Any, *_rest: Any) -> _TensorView:
    """``torch._utils._rebuild_parameter``: a parameter is its data."""
    if not isinstance(data, _TensorView):
        raise CheckpointError("a parameter does not hold a tensor")
    return data


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _Unpickler(pickle.Unpickler):
    """Resolves only ``ALLOWED_GLOBALS``; storages come from ``storage_for``."""

    def __init__(self, file: BinaryIO, storage_for: Callable[[tuple], _Storage] | None) -> None:
        super().__init__(file)
        self._storage_for = storage_for

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(f"the checkpoint's pickle asks for {module}.{name}, which model weights never "
                                  "need; refused without running anything") from None

    def persistent_load(self, pid: Any) -> Any:
        if self._storage_for is None or not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise CheckpointError("the checkpoint's pickle refers to something that is not a tensor storage")
        return self._storage_for(pid)


def _check_storage_id(pid: tuple) -> tuple[_StorageType, str, int]:
    """``('storage', type, key, location, numel[, view])`` -> (type, key, numel), validated."""
    if len(pid) < 5 or not isinstance(pid[1], _StorageType) or not isinstance(pid[4], int) or pid[4] < 0:
        raise CheckpointError("the checkpoint names a tensor storage in a form samcut does not know")
    key = pid[2].decode("ascii", "replace") if isinstance(pid[2], bytes) else str(pid[2])
    return pid[1], key, pid[4]


def _read_zip(archive: zipfile.ZipFile, source: str) -> Any:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{source}: a zip file, but not a PyTorch checkpoint (no single */data.pkl)")
    prefix = pickles[0][: -len("data.pkl")]
    names = set(archive.namelist())
    byteorder = archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
    if byteorder not in ("little", "big"):
        raise CheckpointError(f"{source}: unknown byte order record {byteorder!r}")
    if archive.getinfo(pickles[0]).file_size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"{source}: its pickle is larger than any state dict's")
    storages: dict[str, _Storage] = {}

    def storage_for(pid: tuple) -> _Storage:
        kind, key, numel = _check_storage_id(pid)
        if key not in storages:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise CheckpointError(f"{source}: tensor storage {key} is missing from the file")
            expected = numel * kind.dtype.itemsize
            if archive.getinfo(name).file_size != expected:
                raise CheckpointError(f"{source}: tensor storage {key} holds {archive.getinfo(name).file_size} "
                                      f"bytes, its header says {expected}")
            dtype = kind.dtype.newbyteorder("<" if byteorder == "little" else ">")
            storages[key] = _Storage(kind, dtype, numel, lambda n=name: archive.read(n))
        return storages[key]

    return _Unpickler(io.BytesIO(archive.read(pickles[0])), storage_for).load()


def _read_legacy(stream: BinaryIO, source: str) -> Any:
    def plain() -> Any:
        return _Unpickler(stream, None).load()

    if plain() != LEGACY_MAGIC:
        raise CheckpointError(f"{source}: not a PyTorch checkpoint (neither a zip nor torch's legacy format)")
    if plain() != LEGACY_PROTOCOL:
        raise CheckpointError(f"{source}: a legacy PyTorch checkpoint of an unknown protocol version")
    plain()  # system info: the data itself is always little-endian
    pending: dict[str, _Storage] = {}
    blobs: dict[str, bytes] = {}

    def storage_for(pid: tuple) -> _Storage:
        kind, key, numel = _check_storage_id(pid)
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError(f"{source}: uses storage views of the pre-1.0 format, which samcut does not read")
        if key not in pending:
            pending[key] = _Storage(kind, kind.dtype, numel, lambda k=key: blobs[k])
        return pending[key]

    result = _Unpickler(stream, storage_for).load()
    keys = plain()
    if not isinstance(keys, list) or set(map(str, keys)) != set(pending):
        raise CheckpointError(f"{source}: its list of tensor storages does not match its tensors")
    for key in map(str, keys):
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointError(f"{source}: the file ends inside tensor storage {key} (truncated?)")
        (numel,) = struct.unpack("<q", header)
        storage = pending[key]
        if numel != storage.numel:
            raise CheckpointError(f"{source}: tensor storage {key} holds {numel} elements, its header says "
                                  f"{storage.numel}")
        blobs[key] = stream.read(numel * storage.dtype.itemsize)
    return result


def _state_dict(data: Any, source: str) -> dict[str, np.ndarray]:
    if isinstance(data, Mapping):
        for wrapper in STATE_DICT_WRAPPERS:
            if isinstance(data.get(wrapper), Mapping):
                data = data[wrapper]
                break
    if not isinstance(data, Mapping) or not data or not all(
            isinstance(k, str) and isinstance(v, _TensorView) for k, v in data.items()):
        raise CheckpointError(f"{source}: does not hold a state dict of tensors")
    return {key: view.array() for key, view in data.items()}


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The state dict in ``path`` as ``{key: C-contiguous native-endian array}`` (shapes as saved).

    Accepts a bare state dict or one under ``"model"`` / ``"state_dict"``. Raises
    ``CheckpointError`` with a one-line reason for anything else, including a pickle that asks for
    a global outside ``ALLOWED_GLOBALS`` (nothing of such a file is executed).
    """
    path = Path(path)
    source = str(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return _state_dict(_read_zip(archive, source), source)
        with open(path, "rb") as stream:
            return _state_dict(_read_legacy(stream, source), source)
    except CheckpointError as exc:
        if str(exc).startswith(source):
            raise
        raise CheckpointError(f"{source}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            zipfile.BadZipFile, struct.error, MemoryError, RecursionError) as exc:
        raise CheckpointError(f"{source}: not a readable PyTorch checkpoint ({exc.__class__.__name__}: {exc})") from exc
