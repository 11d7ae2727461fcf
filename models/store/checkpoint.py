"""Read a PyTorch checkpoint (a ``torch.save`` state dict) into numpy arrays, without torch.

A checkpoint is a pickle plus raw tensor storages. Two layouts exist:

- **zip** (torch >= 1.6): ``<prefix>/data.pkl`` (the pickle), ``<prefix>/data/<key>`` (one raw
  storage each, stored uncompressed) and ``<prefix>/byteorder`` (``little`` or ``big``; absent in
  files from older torch, which then means little-endian).
- **legacy stream** (``_use_new_zipfile_serialization=False`` and torch < 1.6): five pickles one
  after the other (magic number, protocol version, system info, the object, the sorted list of
  storage keys), then each storage as a little-endian int64 element count and its bytes
  (always little-endian).

The pickle is scanned before it runs (``checkpoint_limits.scan_pickle``: size, opcodes, object
count) and then read by an unpickler whose ``find_class`` knows only the globals torch's tensor
format uses (an ordered dict, ``_rebuild_tensor_v2`` and friends, the typed storage classes). Each
file gets its own fresh stand-ins for them, and nothing the pickle is handed can be changed by it
(BUILD is refused), so one file cannot change how the next is read. Any other global
(``os.system``, ``builtins.eval`` ...) stops the read with ``CheckpointError`` before anything runs.

Tensors stay views (storage, offset, size, stride) until the whole pickle is read; every view is
bounds-checked against its storage as it is made, checked against the expected shapes (where the
caller gives them) as it enters a dict, and only then copied out, so a refused file never costs
the memory it describes. Storages must be stored uncompressed (as torch writes them).
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from samcut.models.store.checkpoint_limits import (
    MAX_DICT_ENTRIES,
    MAX_PICKLE_BYTES,
    STORAGE_DTYPES,
    CheckpointError,
    DamagedPickle,
    Sealed,
    Storage,
    StorageType,
    TensorView,
    check_copy,
    check_view,
    check_zip_directory,
    file_size,
    scan_pickle,
    short,
)

__all__ = ["ALLOWED_GLOBALS", "STORAGE_DTYPES", "CheckpointError", "read_checkpoint"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STATE_DICT_WRAPPERS = ("model", "state_dict")
Shapes = Mapping[str, tuple[int, ...]]


class _Global(Sealed):
    """An allowed callable global as one file's pickle sees it (a fresh one per file)."""

    __slots__ = ("name", "call")

    def __init__(self, name: str, call: Callable[..., Any]) -> None:
        self.name, self.call = name, call

    def __repr__(self) -> str:
        return self.name

    def __call__(self, *args: Any) -> Any:
        return self.call(*args)


class _OrderedDict(dict):
    """What ``collections.OrderedDict()`` gives: a dict that counts its entries against the file's
    limit and checks each tensor against the expected shapes as it arrives."""

    __slots__ = ("_reading",)

    def __init__(self, reading: _Reading) -> None:
        super().__init__()
        self._reading = reading

    def __setitem__(self, key: Any, value: Any) -> None:
        self._reading.admit(key, value)
        super().__setitem__(key, value)

    def __setstate__(self, state: Any) -> None:
        """torch's state dicts carry ``_metadata`` (module versions), which the weights do not need."""
        if state is not None and not isinstance(state, dict):
            raise CheckpointError("the checkpoint's pickle gives an ordered dict a state torch never writes; refused")


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CheckpointError(f"a tensor's {what} is not a tuple of integers")
    return value


class _Reading:
    """Everything about reading one file: its stand-ins for the allowed globals, its counters and
    the expected shapes. A new one per file, so nothing carries over from one file to the next."""

    def __init__(self, expected: Shapes | None, model: str) -> None:
        self.expected, self.model = expected, model
        self.entries = 0
        self.globals: dict[tuple[str, str], Any] = {}

    def stand_in(self, module: str, name: str) -> Any:
        """This file's object for the global ``module.name``; ``CheckpointError`` outside ``ALLOWED_GLOBALS``."""
        key = (module, name)
        if key not in ALLOWED_GLOBALS:
            raise CheckpointError(f"the checkpoint's pickle asks for {short(module)}.{short(name)}, which model "
                                  "weights never need; refused without running anything")
        if key not in self.globals:
            self.globals[key] = ALLOWED_GLOBALS[key](self)
        return self.globals[key]

    def ordered_dict(self, *args: Any) -> _OrderedDict:
        if args:
            raise CheckpointError("the checkpoint's pickle calls collections.OrderedDict with arguments (a copy), "
                                  "which torch never writes; refused")
        return _OrderedDict(self)

    def admit(self, key: Any, value: Any) -> None:
        """An entry enters an ordered dict: count it; a tensor under an expected key must have its shape."""
        self.entries += 1
        if self.entries > MAX_DICT_ENTRIES:
            raise CheckpointError(f"its pickle fills its dicts with more than {MAX_DICT_ENTRIES:,} entries, far "
                                  "more than any state dict; refused")
        if isinstance(key, str) and isinstance(value, TensorView):
            self.check_shape(key, value)

    def check_shape(self, key: str, view: TensorView) -> None:
        want = None if self.expected is None else self.expected.get(key)
        if want is not None and view.size != tuple(want):
            raise CheckpointError(f"not a {self.model} checkpoint: {short(key)} is {view.dtype} {view.size}, "
                                  f"{self.model} has shape {tuple(want)}")

    def rebuild_tensor(self, storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> TensorView:
        """``torch._utils._rebuild_tensor(_v2)``: the arguments checked, the copy deferred."""
        if not isinstance(storage, Storage) or not isinstance(offset, int) or isinstance(offset, bool):
            raise CheckpointError("a tensor does not refer to a storage of this checkpoint")
        size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
        check_view(size, stride, offset, storage.numel)
        return TensorView(storage, offset, size, stride)

    def rebuild_parameter(self, data: Any, *_rest: Any) -> TensorView:
        """``torch._utils._rebuild_parameter``: a parameter is its data."""
        if not isinstance(data, TensorView):
            raise CheckpointError("a parameter does not hold a tensor")
        return data


# (module, name) -> what makes one file's stand-in for it.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[_Reading], Any]] = {
    ("collections", "OrderedDict"): lambda r: _Global("collections.OrderedDict", r.ordered_dict),
    ("torch._utils", "_rebuild_tensor_v2"): lambda r: _Global("torch._utils._rebuild_tensor_v2", r.rebuild_tensor),
    ("torch._utils", "_rebuild_tensor"): lambda r: _Global("torch._utils._rebuild_tensor", r.rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): lambda r: _Global("torch._utils._rebuild_parameter", r.rebuild_parameter),
    **{("torch", name): (lambda _r, n=name: StorageType(n)) for name in STORAGE_DTYPES},
}


class _Unpickler(pickle.Unpickler):
    """Resolves globals through ``reading``; storages come from ``storage_for``."""

    def __init__(self, data: bytes, reading: _Reading, storage_for: Callable[[tuple], Storage] | None) -> None:
        super().__init__(io.BytesIO(data))
        self._reading, self._storage_for = reading, storage_for

    def find_class(self, module: str, name: str) -> Any:
        return self._reading.stand_in(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if self._storage_for is None or not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise CheckpointError("the checkpoint's pickle refers to something that is not a tensor storage")
        return self._storage_for(pid)


def _load_pickle(data: bytes, stream: io.BytesIO, reading: _Reading,
                 storage_for: Callable[[tuple], Storage] | None) -> Any:
    """The pickle in ``data`` from ``stream``'s position, scanned, then read; leaves ``stream`` after it."""
    start = stream.tell()
    scan_pickle(stream)
    return _Unpickler(data[start:stream.tell()], reading, storage_for).load()


def _check_storage_id(pid: tuple) -> tuple[StorageType, str, int]:
    """``('storage', type, key, location, numel[, view])`` -> (type, key, numel), validated."""
    if (len(pid) < 5 or not isinstance(pid[1], StorageType) or not isinstance(pid[4], int)
            or isinstance(pid[4], bool) or pid[4] < 0):
        raise CheckpointError("the checkpoint names a tensor storage in a form samcut does not know")
    key = pid[2].decode("ascii", "replace") if isinstance(pid[2], bytes) else str(pid[2])
    return pid[1], key, pid[4]


def _read_zip(archive: zipfile.ZipFile, source: str, reading: _Reading, total: int) -> Any:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{source}: a zip file, but not a PyTorch checkpoint (no single */data.pkl)")
    prefix = pickles[0][: -len("data.pkl")]
    names = set(archive.namelist())
    byteorder = "little"
    if prefix + "byteorder" in names:
        with archive.open(prefix + "byteorder") as record:
            byteorder = record.read(16).decode("ascii", "replace").strip()
    if byteorder not in ("little", "big"):
        raise CheckpointError(f"{source}: unknown byte order record {byteorder!r}")
    with archive.open(pickles[0]) as record:
        data = record.read(MAX_PICKLE_BYTES + 1)
    if archive.getinfo(pickles[0]).file_size > MAX_PICKLE_BYTES or len(data) > MAX_PICKLE_BYTES:
        raise CheckpointError(f"{source}: its pickle is larger than any state dict's")
    storages: dict[str, Storage] = {}

    def storage_for(pid: tuple) -> Storage:
        kind, key, numel = _check_storage_id(pid)
        if key not in storages:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise CheckpointError(f"{source}: tensor storage {short(key)} is missing from the file")
            info = archive.getinfo(name)
            if info.compress_type != zipfile.ZIP_STORED:
                raise CheckpointError(f"{source}: tensor storage {short(key)} is compressed, which torch never writes "
                                      "(a compressed storage can inflate far beyond the file); refused")
            expected = numel * kind.dtype.itemsize
            if info.file_size != expected:
                raise CheckpointError(f"{source}: tensor storage {short(key)} holds {info.file_size} bytes, its header "
                                      f"says {expected}")
            if info.compress_size != info.file_size or info.header_offset + 30 + len(name) + expected > total:
                raise CheckpointError(f"{source}: tensor storage {short(key)} reaches past the end of the file")
            dtype = kind.dtype.newbyteorder("<" if byteorder == "little" else ">")
            storages[key] = Storage(kind, dtype, numel, lambda n=name: archive.read(n))
        return storages[key]

    return _load_pickle(data, io.BytesIO(data), reading, storage_for)


def _read_legacy(stream: BinaryIO, source: str, reading: _Reading) -> Any:
    head = stream.read(MAX_PICKLE_BYTES + 1)
    cursor = io.BytesIO(head)

    def plain() -> Any:
        return _load_pickle(head, cursor, reading, None)

    try:
        magic = plain()
    except DamagedPickle:  # not a pickle at all
        magic = None
    if magic != LEGACY_MAGIC:
        raise CheckpointError(f"{source}: not a readable PyTorch checkpoint (neither a zip nor torch's legacy format)")
    if plain() != LEGACY_PROTOCOL:
        raise CheckpointError(f"{source}: a legacy PyTorch checkpoint of an unknown protocol version")
    plain()  # system info: the data itself is always little-endian
    pending: dict[str, Storage] = {}
    blobs: dict[str, bytes] = {}

    def storage_for(pid: tuple) -> Storage:
        kind, key, numel = _check_storage_id(pid)
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError(f"{source}: uses storage views of the pre-1.0 format, which samcut does not read")
        if key not in pending:
            pending[key] = Storage(kind, kind.dtype, numel, lambda k=key: blobs[k])
        return pending[key]

    try:
        result = _load_pickle(head, cursor, reading, storage_for)
        keys = plain()
    except CheckpointError:
        if cursor.tell() > MAX_PICKLE_BYTES:
            raise CheckpointError(f"{source}: its pickle is larger than any state dict's") from None
        raise
    if not isinstance(keys, list) or set(map(str, keys)) != set(pending):
        raise CheckpointError(f"{source}: its list of tensor storages does not match its tensors")
    left = file_size(stream) - stream.seek(cursor.tell())
    for key in map(str, keys):
        storage, header = pending[key], stream.read(8)
        if len(header) != 8:
            raise CheckpointError(f"{source}: the file ends inside tensor storage {short(key)} (truncated?)")
        (numel,) = struct.unpack("<q", header)
        if numel != storage.numel:
            raise CheckpointError(f"{source}: tensor storage {short(key)} holds {numel} elements, its header says "
                                  f"{storage.numel}")
        left -= 8 + storage.nbytes
        if left < 0:
            raise CheckpointError(f"{source}: the file ends inside tensor storage {short(key)} (truncated?)")
        blobs[key] = stream.read(storage.nbytes)
    return result


def _state_views(data: Any, source: str, reading: _Reading) -> dict[str, TensorView]:
    """The state dict's tensors, not yet copied (the expected keys only, where some are expected)."""
    if isinstance(data, Mapping):
        for wrapper in STATE_DICT_WRAPPERS:
            if isinstance(data.get(wrapper), Mapping):
                data = data[wrapper]
                break
    if not isinstance(data, Mapping) or not data or not all(
            isinstance(k, str) and isinstance(v, TensorView) for k, v in data.items()):
        raise CheckpointError(f"{source}: does not hold a state dict of tensors")
    if reading.expected is not None:
        missing = sorted(set(reading.expected) - set(data))
        if missing:
            raise CheckpointError(f"{source}: not a {reading.model} checkpoint: {len(missing)} tensors missing "
                                  f"(first: {missing[0]})")
        data = {key: view for key, view in data.items() if key in reading.expected}
        for key, view in data.items():
            reading.check_shape(key, view)
    return dict(data)


def _state_dict(data: Any, source: str, reading: _Reading) -> dict[str, np.ndarray]:
    data = _state_views(data, source, reading)
    used = {id(view.storage): view.storage for view in data.values()}
    check_copy(sum(view.nbytes for view in data.values()), sum(s.nbytes for s in used.values()))
    return {key: view.array() for key, view in data.items()}


def checkpoint_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor in ``path``'s state dict, read from its pickle alone (no tensor is
    copied): which model it holds can be told before reading it. ``CheckpointError`` as ``read_checkpoint``."""
    return {key: view.size for key, view in _read(path, None, "the expected model", _state_views).items()}


def read_checkpoint(path: Path, expected: Shapes | None = None,
                    model: str = "the expected model") -> dict[str, np.ndarray]:
    """The state dict in ``path`` as ``{key: C-contiguous native-endian array}`` (shapes as saved).

    Accepts a bare state dict or one under ``"model"`` / ``"state_dict"``. With ``expected``
    (``{key: shape}``, e.g. a template's), a tensor of another shape under one of its keys is
    refused as soon as the pickle names it, a missing key before anything is copied, and only the
    expected keys are returned; ``model`` names the model in those messages. Raises
    ``CheckpointError`` with a one-line reason for anything else, including a pickle that asks for
    a global outside ``ALLOWED_GLOBALS`` (nothing of such a file is executed). A refused file
    costs at most a few hundred MB of memory, whatever it describes.
    """
    return _read(path, expected, model, _state_dict)


def _read(path: Path, expected: Shapes | None, model: str, finish: Callable[[Any, str, _Reading], Any]) -> Any:
    """Open ``path`` (zip or legacy format), unpickle it with the allow-list and hand the result to
    ``finish``, turning every failure into one ``CheckpointError`` line."""
    path = Path(path)
    source = str(path)
    reading = _Reading(expected, model)
    try:
        with open(path, "rb") as stream:
            if zipfile.is_zipfile(stream):
                check_zip_directory(stream)
                with zipfile.ZipFile(stream) as archive:
                    return finish(_read_zip(archive, source, reading, file_size(stream)), source, reading)
            stream.seek(0)
            return finish(_read_legacy(stream, source, reading), source, reading)
    except CheckpointError as exc:
        if str(exc).startswith(source):
            raise
        raise CheckpointError(f"{source}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, LookupError, AttributeError, ArithmeticError,
            zipfile.BadZipFile, struct.error, MemoryError, RuntimeError) as exc:
        raise CheckpointError(f"{source}: not a readable PyTorch checkpoint ({exc.__class__.__name__}: "
                              f"{short(str(exc), 200)})") from None
