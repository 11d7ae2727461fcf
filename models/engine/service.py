"""``SegmentationService``: the engine behind two single-worker lanes, Qt-free.

- **encode** lane: one image at a time. Opening another image cancels the running encode
  (ONNX Runtime terminate) and drops queued ones. Embeddings are cached in memory (LRU, keyed by
  the pixels' hash) and optionally on disk, so reopening an image is instant.
- **decode** lane: every request gets an increasing generation number; a queued request that
  is no longer the newest is skipped ("latest wins") and its future resolves to None. A decode
  that arrives before its image's embedding waits for it. A request may carry a *lead*: the
  prompts its mask input stands for, decoded first in order, each answer the next one's mask
  input (the prompt replayed on another model, as ``samcut segment`` would decode it).
- **quality** (optional, ``QualityTier``): after the quick model, a slower, better model encodes
  the image in the background; ``upgrade`` gives its handle. Every handle and result names its
  model (``model``), and a decode runs on its handle's model.

``synchronous=True`` runs every job inline in the caller's thread (for tests and scripts).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from samcut.models.engine.cancellation import Cancellation
from samcut.models.engine.embedding_cache import (  # noqa: F401 - re-exported: the service's caches
    EmbeddingDiskCache,
    EmbeddingMemory,
    image_key,
    model_cache_id,
)
from samcut.models.engine.finder import FinderSettings, FoundObject
from samcut.models.engine.prompt_agreement import points_honoured
from samcut.models.engine.quality import QualityTier, model_name
from samcut.models.engine.types import XYXY, ImageEmbedding, InputFrame, Prompt
from samcut.models.io.lanes import Lane

if TYPE_CHECKING:
    from samcut.models.engine.sam_engine import SamEngine


@dataclass(frozen=True)
class ImageHandle:
    """One opened image, or one region of it (a "frame" that prompts are decoded in).

    ``ticket`` increases with every opened image (a region has its image's); ``size`` is the
    frame's ``(H, W)``; ``origin`` its top-left ``(x, y)`` in the image (0, 0 for the whole
    image); ``embedding`` resolves when the frame is encoded; ``model`` names the model that
    encodes it (``quality.model_name``) and answers its decodes.
    """

    ticket: int
    size: tuple[int, int]
    embedding: Future
    origin: tuple[int, int] = (0, 0)
    source: list[str] = field(default_factory=list, compare=False)  # "encoder", "memory" or "disk" once done
    cache_key: list[str] = field(default_factory=list, compare=False)  # the pixels' content key, once hashed
    model: str = ""

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
    (``SamEngine.default_token``) picks for the prompt; ``model`` the model that answered.
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
    model: str = ""


class SegmentationService:
    """Encode and decode lanes over one ``SamEngine`` (the quick model) and, optionally, a
    ``QualityTier``; safe to call from one controlling thread."""

    def __init__(self, engine: SamEngine, memory_cache: int = 4, disk_cache: EmbeddingDiskCache | None = None,
                 synchronous: bool = False, quality: QualityTier | None = None) -> None:
        self.engine = engine
        self.model = model_name(engine)
        self.quality = quality
        self.disk_cache = disk_cache
        self._encode_lane = Lane("encode", inline=synchronous)
        self._decode_lane = Lane("decode", inline=synchronous)
        self._objects: dict[tuple[str, str, str], list[FoundObject]] = {}  # the finder's objects, same keys
        self._lock = threading.Lock()
        self._memory = EmbeddingMemory(memory_cache, self._drop_objects, self._lock)  # keys: (model, pixels' key)
        self._tickets = itertools.count(1)
        self._generations = itertools.count(1)
        self._latest_generation = 0
        self._current: tuple[ImageHandle, Cancellation] | None = None
        self._current_region: tuple[ImageHandle, Cancellation] | None = None
        self._upgrade: tuple[ImageHandle, Cancellation] | None = None
        self._closed = False

    def engine_for(self, model: str) -> SamEngine:
        """The engine of the model named ``model`` (a handle's): the quality model's, else the quick one's."""
        quality = self.quality
        if quality is not None and model == quality.name and quality.engine is not None:
            return quality.engine
        return self.engine

    # encode lane -------------------------------------------------------------------------
    def open_image(self, rgb: np.ndarray) -> ImageHandle:
        """Start encoding ``rgb`` (``uint8 H x W x 3``), cancelling the previous image's encodes;
        with a quality model, its encode follows in the background (``upgrade``)."""
        if self._closed:
            raise RuntimeError("the segmentation service is closed")
        self._cancel_current()
        cancel = Cancellation()
        ticket = next(self._tickets)
        source: list[str] = []
        keys: list[str] = []
        future = self._encode_lane.submit(self._encode_job, rgb, cancel, True, source, keys)
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        handle = ImageHandle(ticket, size, future, source=source, cache_key=keys, model=self.model)
        self._current = (handle, cancel)
        if self.quality is not None:
            cancel_quality = Cancellation()
            better_source: list[str] = []
            better_keys: list[str] = []
            better = self.quality.encode(rgb, future, cancel_quality, better_source, better_keys)
            self._upgrade = (ImageHandle(ticket, size, better, source=better_source, cache_key=better_keys,
                                         model=self.quality.name), cancel_quality)
        return handle

    def upgrade(self, handle: ImageHandle) -> ImageHandle | None:
        """The quality model's handle for ``handle``'s image (its embedding resolves when the
        background encode ends), or None: no quality model, or another image is open."""
        if self._upgrade is None or self._upgrade[0].ticket != handle.ticket or handle.origin != (0, 0):
            return None
        return self._upgrade[0]

    def open_region(self, image: ImageHandle, crop: np.ndarray, origin: tuple[int, int]) -> ImageHandle:
        """Encode a region of ``image``, its pixels ``crop`` (``uint8 h x w x 3``) whose top-left is
        ``origin`` ``(x, y)`` in the image, at the encoder's full resolution, with ``image``'s model,
        after the image itself; cancels the previous region's encode. Regions are cached in memory
        like images (by their pixels), not on disk."""
        if self._closed:
            raise RuntimeError("the segmentation service is closed")
        crop = np.ascontiguousarray(crop)
        if self._current_region is not None:
            self._cancel(self._current_region)
        cancel = Cancellation()
        source: list[str] = []
        future = self._encode_lane.submit(self._encode_job, crop, cancel, False, source, None, image.model)
        handle = ImageHandle(image.ticket, (int(crop.shape[0]), int(crop.shape[1])), future,
                             (int(origin[0]), int(origin[1])), source, model=image.model)
        self._current_region = (handle, cancel)
        return handle

    @staticmethod
    def _cancel(current: tuple[ImageHandle, Cancellation]) -> None:
        handle, cancel = current
        handle.embedding.cancel()  # if still queued, it never starts
        cancel.cancel()            # if running, ONNX Runtime stops it

    def _cancel_current(self) -> None:
        for current in (self._current, self._current_region, self._upgrade):
            if current is not None:
                self._cancel(current)
        self._current = self._current_region = self._upgrade = None

    def _encode_job(self, rgb: np.ndarray, cancel: Cancellation, persist: bool = True,
                    source: list[str] | None = None, keys: list[str] | None = None,
                    model: str | None = None) -> ImageEmbedding:
        """Encode with ``model`` (default the quick one), or take from the caches; only ``persist``
        results go to the disk cache (zoomed regions stay in memory: they follow the view and would
        push whole images out of the disk cache)."""
        model = model or self.model
        key = image_key(rgb)
        if keys is not None:
            keys.append(key)
        return self._memory.fetch((model, key), key, self.disk_cache if persist else None,
                                  lambda: self.engine_for(model).encode(rgb, cancel),
                                  source if source is not None else [])

    def _drop_objects(self, dropped: Hashable) -> None:
        """An image's embedding left memory: so do its objects (called under the memory's lock)."""
        for found in [k for k in self._objects if k[:2] == dropped]:
            del self._objects[found]

    # the Object Finder's results, kept with the embedding ------------------------------------
    def _disk_for(self, handle: ImageHandle) -> EmbeddingDiskCache | None:
        if self.quality is not None and handle.model == self.quality.name:
            return self.quality.disk_cache
        return self.disk_cache

    def objects_for(self, handle: ImageHandle, settings: FinderSettings | None = None) -> list[FoundObject] | None:
        """The objects found earlier in ``handle``'s image by its model with ``settings`` (default:
        SAM's) (memory, then disk), or None. Call once the handle is encoded; it reads one file at most."""
        if not handle.cache_key or handle.origin != (0, 0):
            return None
        settings = settings or FinderSettings()
        key = (handle.model, handle.cache_key[0], settings.key())
        with self._lock:
            if key in self._objects:
                return self._objects[key]
        disk = self._disk_for(handle)
        found = disk.get_objects(key[1], settings) if disk else None
        if found is not None:
            with self._lock:
                self._objects[key] = found
        return found

    def store_objects(self, handle: ImageHandle, objects: list[FoundObject],
                      settings: FinderSettings | None = None) -> None:
        """Keep ``objects`` (found with ``settings``, default SAM's) with ``handle``'s embedding, in
        memory and on disk (one set per image on disk: the last settings')."""
        if not handle.cache_key or handle.origin != (0, 0):
            return
        settings = settings or FinderSettings()
        with self._lock:
            self._objects[(handle.model, handle.cache_key[0], settings.key())] = objects
        disk = self._disk_for(handle)
        if disk:
            disk.put_objects(handle.cache_key[0], objects, settings)

    # decode lane -------------------------------------------------------------------------
    def decode(self, handle: ImageHandle, prompt: Prompt, lead: tuple[Prompt, ...] = ()) -> Future:
        """Queue a decode of ``prompt`` (in the frame's own pixels) in the frame ``handle``, by its
        model; the future gives a ``DecodeResult``, or None if a newer request superseded it. With
        ``lead``, those prompts are decoded first, each answer (the candidate rule's token) the next
        one's mask input, the last one's ``prompt``'s."""
        generation = next(self._generations)
        self._latest_generation = generation
        return self._decode_lane.submit(self._decode_job, handle, prompt, generation, lead)

    def _decode_job(self, handle: ImageHandle, prompt: Prompt, generation: int,
                    lead: tuple[Prompt, ...] = ()) -> DecodeResult | None:
        if generation != self._latest_generation:
            return None
        embedding: ImageEmbedding = handle.embedding.result()
        if generation != self._latest_generation:
            return None
        engine = self.engine_for(handle.model)
        start = time.perf_counter()
        mask = None
        for step in lead:
            logits, _iou, default = self._decode_honouring_points(engine, embedding, replace(step, mask_input=mask))
            mask = logits[default]
        if lead:
            prompt = replace(prompt, mask_input=mask)
        logits, iou, default = self._decode_honouring_points(engine, embedding, prompt)
        return DecodeResult(handle.ticket, generation, logits, iou, default, embedding.input_size,
                            embedding.original_size, (time.perf_counter() - start) * 1000, handle.origin,
                            handle.model)

    @staticmethod
    def _decode_honouring_points(engine: SamEngine, embedding: ImageEmbedding,
                                 prompt: Prompt) -> tuple[np.ndarray, np.ndarray, int]:
        """Decode; when the refined answer contradicts one of the prompt's own points, decode again
        without the mask input and keep whichever honours more of them (``prompt_agreement``)."""
        logits, iou = engine.decode_low_res(embedding, prompt)
        default = engine.default_token(logits, iou, prompt)
        if prompt.mask_input is None or not len(prompt.points):
            return logits, iou, default
        sizes = (embedding.input_size, embedding.original_size)
        honoured = points_honoured(logits[default], prompt, *sizes)
        if honoured == len(prompt.points):
            return logits, iou, default
        fresh = replace(prompt, mask_input=None)
        logits2, iou2 = engine.decode_low_res(embedding, fresh)
        default2 = engine.default_token(logits2, iou2, fresh)
        if points_honoured(logits2[default2], fresh, *sizes) > honoured:
            return logits2, iou2, default2
        return logits, iou, default

    def close(self) -> None:
        """Cancel work in flight and stop the lanes (waits for the worker threads to end)."""
        self._closed = True
        self._cancel_current()
        self._latest_generation = -1
        self._encode_lane.shutdown()
        self._decode_lane.shutdown()
        if self.quality is not None:
            self.quality.close()
