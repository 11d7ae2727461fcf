"""Embeddings kept on disk between runs: ``EmbeddingDiskCache``, one folder per model
(``model_cache_id``). Never trusted and never fatal: a damaged entry is deleted and its image
encoded again. ``EmbeddingMemory``: the last few in memory, in front of the disk, the one
lookup rule (memory, then disk, then the encoder) of the quick and the quality models' lanes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np

from samcut.models.engine.finder import FinderSettings, FoundObject, from_arrays, to_arrays
from samcut.models.engine.preprocess import IMAGE_SIZE, resized_size
from samcut.models.engine.types import ImageEmbedding, InputFrame, input_frame
from samcut.models.io.atomic import atomic_write
from samcut.models.io.platform import make_private_folder, remove_file


def image_key(rgb: np.ndarray) -> str:
    """Content hash of an image's pixels and shape."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(rgb.shape).encode())
    digest.update(np.ascontiguousarray(rgb).data)
    return digest.hexdigest()


HIGH_RES_SHAPES = ((1, 32, 256, 256), (1, 64, 128, 128))  # SAM 2.1's high-resolution features


def _features_digest(features: np.ndarray, *high_res: np.ndarray) -> str:
    digest = hashlib.blake2b(np.ascontiguousarray(features).data, digest_size=16)
    for array in high_res:
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _frame_fits(frame: InputFrame, original: tuple[int, ...]) -> bool:
    """Whether a cached frame is the one the encoder's rule gives for an image of ``original`` size."""
    if frame.stretched:
        return (frame.height, frame.width) == (IMAGE_SIZE, IMAGE_SIZE)
    return (frame.height, frame.width) == resized_size(*original)


def _arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).data)
    return digest.hexdigest()


def model_cache_id(manifest: dict, tag: str = "") -> str:
    """Names a model's cache folder: its encoder's SHA-256 (another model never reads these; where the
    weights live beside the graph, ``encoder.onnx.data`` (ViT-H), their file's SHA-256 too), and
    ``tag`` when the embeddings depend on more than the model (``bf16``: kept apart from fp32's)."""
    files = manifest.get("files", {})
    model = files.get("encoder.onnx", {}).get("sha256", "unversioned")[:16]
    weights = files.get("encoder.onnx.data", {}).get("sha256", "")[:16]
    model = f"{model}-{weights}" if weights else model
    return f"{model}-{tag}" if tag else model


class EmbeddingDiskCache:
    """Embeddings as ``.npz`` files under ``folder/<model id>/``, newest ``max_files`` kept.

    Each entry carries its sizes and a checksum of its features. An entry that is truncated,
    empty, bit-flipped, of the wrong shape, not finite or whose sizes do not fit together is
    deleted and the image encoded again: the cache is never trusted and never fatal.
    """

    def __init__(self, folder: Path, model_id: str, max_files: int = 40) -> None:
        self.folder = Path(folder) / model_id
        self.max_files = max_files

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> ImageEmbedding | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                features = np.asarray(data["features"])
                original = tuple(int(v) for v in data["original_size"])
                frame = InputFrame(*(int(v) for v in data["input_size"]))
                high_res = tuple(np.asarray(data[f"high_res_{i}"]) for i in range(len(HIGH_RES_SHAPES))
                                 if f"high_res_{i}" in data.files)
                digest = str(data["checksum"])
            sound = (features.shape == (1, 256, 64, 64) and features.dtype == np.float32
                     and len(original) == 2 and min(original) > 0 and _frame_fits(frame, original)
                     and len(high_res) in (0, len(HIGH_RES_SHAPES)) and frame.stretched == bool(high_res)
                     and all(a.shape == shape and a.dtype == np.float32
                             for a, shape in zip(high_res, HIGH_RES_SHAPES[:len(high_res)], strict=True))
                     and digest == _features_digest(features, *high_res)
                     and all(bool(np.isfinite(a).all()) for a in (features, *high_res)))
        except Exception:  # noqa: BLE001 - whatever is wrong with the file, it is only a cache
            sound = False
        if not sound:
            remove_file(path)  # (Windows: left for a later run while another samcut has it open)
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return ImageEmbedding(features, original, frame, high_res)

    def _objects_path(self, key: str) -> Path:
        return self.folder / f"{key}.objects.npz"

    def get_objects(self, key: str, settings: FinderSettings | None = None) -> list[FoundObject] | None:
        """The Object Finder's objects stored with ``key``'s embedding, found with ``settings``
        (None when the file holds other settings' objects); a damaged file is deleted."""
        path = self._objects_path(key)
        if not path.is_file() or not self._path(key).is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: np.asarray(data[name]) for name in data.files}
            if str(arrays.pop("checksum")) != _arrays_digest(arrays):
                raise ValueError("checksum")
            return from_arrays(arrays, settings)
        except Exception:  # noqa: BLE001 - only a cache
            remove_file(path)
            return None

    def put_objects(self, key: str, objects: list[FoundObject], settings: FinderSettings | None = None) -> None:
        arrays = to_arrays(objects, settings)
        try:
            make_private_folder(self.folder)
            atomic_write(self._objects_path(key),
                         lambda fh: np.savez_compressed(fh, checksum=_arrays_digest(arrays), **arrays))
        except OSError:
            pass

    def put(self, key: str, emb: ImageEmbedding) -> None:
        try:
            make_private_folder(self.folder)
            frame = input_frame(emb.input_size)
            extra = {f"high_res_{i}": a for i, a in enumerate(emb.high_res)}
            atomic_write(self._path(key), lambda fh: np.savez(
                fh, features=emb.features, original_size=emb.original_size,
                input_size=np.array([frame.height, frame.width, int(frame.stretched)]),
                checksum=_features_digest(emb.features, *emb.high_res), **extra))
            files = sorted((p for p in self.folder.glob("*.npz") if not p.name.endswith(".objects.npz")),
                           key=lambda p: p.stat().st_mtime, reverse=True)
            for old in files[self.max_files:]:  # one open elsewhere (Windows) is evicted by a later put
                remove_file(old)
                remove_file(old.with_name(old.name.replace(".npz", ".objects.npz")))
        except OSError:
            pass  # a cache that cannot be written is only slower


class EmbeddingMemory:
    """The embeddings of the last ``limit`` images (least recently used first out), thread-safe
    under ``lock`` (an owner's lock, to guard what ``on_drop`` touches with the same one; default
    its own). ``on_drop(key)`` is called under the lock for each key pushed out."""

    def __init__(self, limit: int, on_drop: Callable[[Hashable], None] | None = None,
                 lock: threading.Lock | None = None) -> None:
        self.limit = limit
        self.lock = lock or threading.Lock()
        self._entries: OrderedDict[Hashable, ImageEmbedding] = OrderedDict()
        self._on_drop = on_drop

    def fetch(self, key: Hashable, disk_key: str, disk: EmbeddingDiskCache | None,
              encode: Callable[[], ImageEmbedding], source: list[str]) -> ImageEmbedding:
        """The embedding under ``key``: from memory, else from ``disk`` (under ``disk_key``), else
        ``encode()`` d and written to ``disk``; ``source`` gets "memory", "disk" or "encoder"."""
        with self.lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                source.append("memory")
                return self._entries[key]
        embedding = disk.get(disk_key) if disk else None
        if embedding is not None:
            source.append("disk")
        else:
            embedding = encode()
            source.append("encoder")
            if disk:
                disk.put(disk_key, embedding)
        with self.lock:
            self._entries[key] = embedding
            while len(self._entries) > self.limit:
                dropped, _ = self._entries.popitem(last=False)
                if self._on_drop is not None:
                    self._on_drop(dropped)
        return embedding
