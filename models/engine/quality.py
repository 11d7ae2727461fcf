"""The quality model: a second, slower model whose embedding takes over from the quick one's.

On open, the quick model encodes first (the service's encode lane). ``QualityTier`` then encodes
the same image with the quality model on a lane of its own, ``samcut-quality``, whose thread
yields the CPU to every other (``platform.yield_this_thread``): strokes, hover and decodes run at
once while it works, it takes what they leave. It is cancelled like any encode (another image,
another model, quit).

Its engine is loaded in that lane on first use: the decoder's session first, at normal priority
(the quality model's decodes answer strokes later), then the thread yields and the encoder's
session is made, so ONNX Runtime's pool threads inherit the low priority (Linux; elsewhere the
encoder runs on the lane's own thread only). Where the two models' decoders are the same file
(``same_decoder``), the quality engine takes the quick engine's decoder session.

Its embeddings have their own caches (memory and the quality model's disk folder): an image
opened again gets its quality embedding at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from samcut.models.engine.cancellation import Cancellation
from samcut.models.engine.embedding_cache import EmbeddingDiskCache, EmbeddingMemory, image_key
from samcut.models.engine.errors import EncodeCancelled
from samcut.models.engine.types import ImageEmbedding
from samcut.models.io.lanes import Lane
from samcut.models.io.platform import yield_this_thread

if TYPE_CHECKING:
    from samcut.models.engine.sam_engine import SamEngine


def model_name(engine: object) -> str:
    """The name results and handles carry for ``engine``'s model: its folder (a fake: its class)."""
    folder = getattr(engine, "model_dir", None)
    return str(folder) if folder is not None else type(engine).__name__


def same_decoder(quick: dict, quality: dict) -> bool:
    """Whether two models' manifests list the very same decoder file (same family, same SHA-256:
    the graph and every weight equal), so one decoder session can serve both."""
    def decoder(manifest: dict) -> str:
        return manifest.get("files", {}).get("decoder.onnx", {}).get("sha256", "")

    return bool(decoder(quick)) and decoder(quick) == decoder(quality) \
        and quick.get("family", "sam") == quality.get("family", "sam")


def load_quality_engine(folder: Path, quick: SamEngine, threads: int | None = None, precision: str | None = None,
                        compile_cache: Path | None = None) -> SamEngine:
    """The quality model in ``folder`` as an engine whose encoder session is made by its first
    encode (in the quality lane), sharing ``quick``'s decoder session where the files are equal.
    Raises ``ModelError`` like any engine."""
    from samcut.models.engine.sam_engine import SamEngine, verify_model_dir

    manifest = verify_model_dir(folder)
    shared = quick.decoder if same_decoder(getattr(quick, "manifest", {}), manifest) else None
    return SamEngine(folder, threads, verify=False, precision=precision, compile_cache=compile_cache,
                     strict=False, defer_encoder=True, decoder=shared)


class QualityTier:
    """Encodes images with the quality model in the background (see the module).

    ``load()`` makes its engine (``load_quality_engine``), called once, in the lane; ``label``
    names the model for people; ``expected_s`` is how long an encode is expected to take (the
    catalogue's figure until one has been measured here: then ``last_encode_s``)."""

    def __init__(self, load: Callable[[], SamEngine], name: str, label: str = "", expected_s: float = 0.0,
                 disk_cache: EmbeddingDiskCache | None = None, memory_cache: int = 2,
                 synchronous: bool = False) -> None:
        self.name = name
        self.label = label or Path(name).name
        self.expected_s = expected_s
        self.last_encode_s: float | None = None
        self.disk_cache = disk_cache
        self.engine: SamEngine | None = None
        self._load = load
        self._synchronous = synchronous
        self._lane = Lane("quality", inline=synchronous)
        self._memory = EmbeddingMemory(memory_cache)
        self._started: float | None = None  # when the running encode began (perf_counter)
        self.phase = ""  # "loading" (the model), "waiting" (for the quick model), "encoding", "" (idle)

    def encode(self, rgb: np.ndarray, after: Future, cancel: Cancellation, source: list[str],
               keys: list[str]) -> Future:
        """Queue the quality encode of ``rgb`` (``uint8 H x W x 3``): from the caches at once, else
        once ``after`` (the quick model's encode) has ended. The future gives an ``ImageEmbedding``
        or raises ``EncodeCancelled``; ``source`` and ``keys`` are filled as the service's are."""
        return self._lane.submit(self._job, rgb, after, cancel, source, keys)

    def _engine(self) -> SamEngine:
        if self.engine is None:
            engine = self._load()  # (the decoder's session, at this thread's normal priority)
            if not self._synchronous and not yield_this_thread():
                engine.encoder_threads = 1  # the pool's threads would not inherit the low priority
            self.engine = engine
        return self.engine

    def _job(self, rgb: np.ndarray, after: Future, cancel: Cancellation, source: list[str],
             keys: list[str]) -> ImageEmbedding:
        if cancel.cancelled:
            raise EncodeCancelled("quality encode cancelled before it started")
        self.phase = "loading"
        try:
            return self._run(rgb, after, cancel, source, keys)
        finally:
            self.phase = ""

    def _run(self, rgb: np.ndarray, after: Future, cancel: Cancellation, source: list[str],
             keys: list[str]) -> ImageEmbedding:
        engine = self._engine()
        key = image_key(rgb)
        keys.append(key)
        return self._memory.fetch(key, key, self.disk_cache, lambda: self._encode(engine, rgb, after, cancel), source)

    def _encode(self, engine: SamEngine, rgb: np.ndarray, after: Future, cancel: Cancellation) -> ImageEmbedding:
        """Once the quick model's encode has ended: load this model's encoder, then encode."""
        self.phase = "waiting"
        try:
            after.result()  # the quick model first: it answers the first strokes
        except BaseException:  # noqa: BLE001 - its failure is reported by its own handle
            pass
        self.phase = "loading"
        engine.load_encoder()  # (bf16: OpenVINO compiles the graph, once per machine)
        if cancel.cancelled:
            raise EncodeCancelled("quality encode cancelled")
        self.phase = "encoding"
        self._started = started = time.perf_counter()
        try:
            embedding = engine.encode(rgb, cancel)
        finally:
            self._started = None
        self.last_encode_s = time.perf_counter() - started  # (a finished encode only: the next one's estimate)
        return embedding

    def progress(self) -> float | None:
        """How far the running encode is, 0-0.99, estimated from ``expected_s`` (or the last encode
        measured here); None while none runs or nothing is known to estimate from."""
        started, expected = self._started, self.last_encode_s or self.expected_s
        if started is None or not expected:
            return None
        return min(0.99, (time.perf_counter() - started) / expected)

    @property
    def encoding(self) -> bool:
        return self._started is not None

    def close(self) -> None:
        self._lane.shutdown()
