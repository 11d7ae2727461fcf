"""``SegmentationService``: the engine behind two single-worker lanes, Qt-free.

- **encode** lane: one image at a time. Opening another image cancels the running encode
  (ONNX Runtime terminate) and drops queued ones. Embeddings are cached in memory (LRU, keyed by
  the pixels' hash) and optionally on disk, so reopening an image is instant.
- **decode** lane: every request gets an increasing generation number; a queued request that
  is no longer the newest is skipped ("latest wins") and its future resolves to None. A decode
  that arrives before its image's embedding waits for it.

``synchronous=True`` runs every job inline in the caller's thread (for tests and scripts).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from samcut.models.engine.cancellation import Cancellation
from samcut.models.engine.finder import FoundObject, from_arrays, to_arrays
from samcut.models.engine.preprocess import IMAGE_SIZE, resized_size
from samcut.models.engine.prompt_agreement import points_honoured
from samcut.models.engine.types import XYXY, ImageEmbedding, InputFrame, Prompt, input_frame
from samcut.models.io.atomic import atomic_write
from samcut.models.io.lanes import Lane

if TYPE_CHECKING:
    from samcut.models.engine.sam_engine import SamEngine


@dataclass(frozen=True)
class ImageHandle:
    """One opened image, or one region of it (a "frame" that prompts are decoded in).

    ``ticket`` increases with every opened image (a region has its image's); ``size`` is the
    frame's ``(H, W)``; ``origin`` its top-left ``(x, y)`` in the image (0, 0 for the whole
    image); ``embedding`` resolves when the frame is encoded.
    """

    ticket: int
    size: tuple[int, int]
    embedding: Future
    origin: tuple[int, int] = (0, 0)
    source: list[str] = field(default_factory=list, compare=False)  # "encoder", "memory" or "disk" once done
    cache_key: list[str] = field(default_factory=list, compare=False)  # the pixels' content key, once hashed

    @property
    def from_cache(self) -> bool:
        """The embedding came from the memory or disk cache (no encode ran)."""
        return bool(self.source) and self.source[0] in ("memory", "disk")

    @property
    def box(self) -> XYXY:
        """``(x0, y0, x1, y1)`` of the frame in image pixels."""
        x0, y0 = self.origin
        return x0, y0, x0 + self.size[1], y0 + self.size[0]


@dataclass(frozen=True)
class DecodeResult:
    """Low-res decoder output for one request: all four mask tokens.

    ``low_res_logits`` ``4 x 256 x 256`` and ``scores`` ``(4,)`` in token order (0 = single-mask
    output, 1-3 = multimask outputs); ``default`` is the token the candidate rule
    (``SamEngine.default_token``) picks for the prompt.
    """

    ticket: int
    generation: int
    low_res_logits: np.ndarray
    scores: np.ndarray
    default: int
    input_size: InputFrame | tuple[int, int]
    original_size: tuple[int, int]
    elapsed_ms: float
    origin: tuple[int, int] = (0, 0)  # the frame's top-left (x, y) in the image


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
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return ImageEmbedding(features, original, frame, high_res)

    def _objects_path(self, key: str) -> Path:
        return self.folder / f"{key}.objects.npz"

    def get_objects(self, key: str) -> list[FoundObject] | None:
        """The Object Finder's objects stored with ``key``'s embedding; a damaged file is deleted."""
        path = self._objects_path(key)
        if not path.is_file() or not self._path(key).is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: np.asarray(data[name]) for name in data.files}
            if str(arrays.pop("checksum")) != _arrays_digest(arrays):
                raise ValueError("checksum")
            return from_arrays(arrays)
        except Exception:  # noqa: BLE001 - only a cache
            path.unlink(missing_ok=True)
            return None

    def put_objects(self, key: str, objects: list[FoundObject]) -> None:
        arrays = to_arrays(objects)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self._objects_path(key),
                         lambda fh: np.savez_compressed(fh, checksum=_arrays_digest(arrays), **arrays))
        except OSError:
            pass

    def put(self, key: str, emb: ImageEmbedding) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            frame = input_frame(emb.input_size)
            extra = {f"high_res_{i}": a for i, a in enumerate(emb.high_res)}
            atomic_write(self._path(key), lambda fh: np.savez(
                fh, features=emb.features, original_size=emb.original_size,
                input_size=np.array([frame.height, frame.width, int(frame.stretched)]),
                checksum=_features_digest(emb.features, *emb.high_res), **extra))
            files = sorted((p for p in self.folder.glob("*.npz") if not p.name.endswith(".objects.npz")),
                           key=lambda p: p.stat().st_mtime, reverse=True)
            for old in files[self.max_files:]:
                old.unlink(missing_ok=True)
                old.with_name(old.name.replace(".npz", ".objects.npz")).unlink(missing_ok=True)
        except OSError:
            pass  # a cache that cannot be written is only slower


class SegmentationService:
    """Encode and decode lanes over one ``SamEngine``; safe to call from one controlling thread."""

    def __init__(self, engine: SamEngine, memory_cache: int = 4, disk_cache: EmbeddingDiskCache | None = None,
                 synchronous: bool = False) -> None:
        self.engine = engine
        self.memory_cache = memory_cache
        self.disk_cache = disk_cache
        self._encode_lane = Lane("encode", inline=synchronous)
        self._decode_lane = Lane("decode", inline=synchronous)
        self._cache: OrderedDict[str, ImageEmbedding] = OrderedDict()
        self._objects: dict[str, list[FoundObject]] = {}  # the finder's objects of images in _cache
        self._lock = threading.Lock()
        self._tickets = itertools.count(1)
        self._generations = itertools.count(1)
        self._latest_generation = 0
        self._current: tuple[ImageHandle, Cancellation] | None = None
        self._current_region: tuple[ImageHandle, Cancellation] | None = None
        self._closed = False

    # encode lane -------------------------------------------------------------------------
    def open_image(self, rgb: np.ndarray) -> ImageHandle:
        """Start encoding ``rgb`` (``uint8 H x W x 3``), cancelling the previous image's encode."""
        if self._closed:
            raise RuntimeError("the segmentation service is closed")
        self._cancel_current()
        cancel = Cancellation()
        ticket = next(self._tickets)
        source: list[str] = []
        keys: list[str] = []
        future = self._encode_lane.submit(self._encode_job, rgb, cancel, True, source, keys)
        handle = ImageHandle(ticket, (int(rgb.shape[0]), int(rgb.shape[1])), future, source=source, cache_key=keys)
        self._current = (handle, cancel)
        return handle

    def open_region(self, image: ImageHandle, crop: np.ndarray, origin: tuple[int, int]) -> ImageHandle:
        """Encode a region of ``image``, its pixels ``crop`` (``uint8 h x w x 3``) whose top-left is
        ``origin`` ``(x, y)`` in the image, at the encoder's full resolution, after the image itself;
        cancels the previous region's encode. Regions are cached in memory like images (by their
        pixels), not on disk."""
        if self._closed:
            raise RuntimeError("the segmentation service is closed")
        crop = np.ascontiguousarray(crop)
        if self._current_region is not None:
            self._cancel(self._current_region)
        cancel = Cancellation()
        source: list[str] = []
        future = self._encode_lane.submit(self._encode_job, crop, cancel, False, source)
        handle = ImageHandle(image.ticket, (int(crop.shape[0]), int(crop.shape[1])), future,
                             (int(origin[0]), int(origin[1])), source)
        self._current_region = (handle, cancel)
        return handle

    @staticmethod
    def _cancel(current: tuple[ImageHandle, Cancellation]) -> None:
        handle, cancel = current
        handle.embedding.cancel()  # if still queued, it never starts
        cancel.cancel()            # if running, ONNX Runtime stops it

    def _cancel_current(self) -> None:
        for current in (self._current, self._current_region):
            if current is not None:
                self._cancel(current)
        self._current = self._current_region = None

    def _encode_job(self, rgb: np.ndarray, cancel: Cancellation, persist: bool = True,
                    source: list[str] | None = None, keys: list[str] | None = None) -> ImageEmbedding:
        """Encode, or take from the caches; only ``persist`` results go to the disk cache (zoomed
        regions stay in memory: they follow the view and would push whole images out of the disk
        cache)."""
        key = image_key(rgb)
        if keys is not None:
            keys.append(key)
        source = source if source is not None else []
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                source.append("memory")
                return self._cache[key]
        disk = self.disk_cache if persist else None
        emb = disk.get(key) if disk else None
        if emb is not None:
            source.append("disk")
        else:
            emb = self.engine.encode(rgb, cancel)
            source.append("encoder")
            if disk:
                disk.put(key, emb)
        with self._lock:
            self._cache[key] = emb
            while len(self._cache) > self.memory_cache:
                dropped, _ = self._cache.popitem(last=False)
                self._objects.pop(dropped, None)
        return emb

    # the Object Finder's results, kept with the embedding ------------------------------------
    def objects_for(self, handle: ImageHandle) -> list[FoundObject] | None:
        """The objects found earlier in ``handle``'s image (memory, then disk), or None. Call once
        the handle is encoded; it reads a small file at most."""
        if not handle.cache_key or handle.origin != (0, 0):
            return None
        key = handle.cache_key[0]
        with self._lock:
            if key in self._objects:
                return self._objects[key]
        found = self.disk_cache.get_objects(key) if self.disk_cache else None
        if found is not None:
            with self._lock:
                self._objects[key] = found
        return found

    def store_objects(self, handle: ImageHandle, objects: list[FoundObject]) -> None:
        """Keep ``objects`` with ``handle``'s embedding, in memory and on disk."""
        if not handle.cache_key or handle.origin != (0, 0):
            return
        key = handle.cache_key[0]
        with self._lock:
            self._objects[key] = objects
        if self.disk_cache:
            self.disk_cache.put_objects(key, objects)

    # decode lane -------------------------------------------------------------------------
    def decode(self, handle: ImageHandle, prompt: Prompt) -> Future:
        """Queue a decode of ``prompt`` (in the frame's own pixels) in the frame ``handle``; the future
        gives a ``DecodeResult``, or None if a newer request superseded it."""
        generation = next(self._generations)
        self._latest_generation = generation
        return self._decode_lane.submit(self._decode_job, handle, prompt, generation)

    def _decode_job(self, handle: ImageHandle, prompt: Prompt, generation: int) -> DecodeResult | None:
        if generation != self._latest_generation:
            return None
        embedding: ImageEmbedding = handle.embedding.result()
        if generation != self._latest_generation:
            return None
        start = time.perf_counter()
        logits, iou, default = self._decode_honouring_points(embedding, prompt)
        return DecodeResult(handle.ticket, generation, logits, iou, default, embedding.input_size,
                            embedding.original_size, (time.perf_counter() - start) * 1000, handle.origin)

    def _decode_honouring_points(self, embedding: ImageEmbedding,
                                 prompt: Prompt) -> tuple[np.ndarray, np.ndarray, int]:
        """Decode; when the refined answer contradicts one of the prompt's own points, decode again
        without the mask input and keep whichever honours more of them (``prompt_agreement``)."""
        logits, iou = self.engine.decode_low_res(embedding, prompt)
        default = self.engine.default_token(logits, iou, prompt)
        if prompt.mask_input is None or not len(prompt.points):
            return logits, iou, default
        sizes = (embedding.input_size, embedding.original_size)
        honoured = points_honoured(logits[default], prompt, *sizes)
        if honoured == len(prompt.points):
            return logits, iou, default
        fresh = replace(prompt, mask_input=None)
        logits2, iou2 = self.engine.decode_low_res(embedding, fresh)
        default2 = self.engine.default_token(logits2, iou2, fresh)
        if points_honoured(logits2[default2], fresh, *sizes) > honoured:
            return logits2, iou2, default2
        return logits, iou, default

    def close(self) -> None:
        """Cancel work in flight and stop both lanes (waits for the worker threads to end)."""
        self._closed = True
        self._cancel_current()
        self._latest_generation = -1
        self._encode_lane.shutdown()
        self._decode_lane.shutdown()
