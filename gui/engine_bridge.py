"""The service's encode and decode futures, carried to the GUI thread as Qt signals.

What the decode lane runs next (priorities, coalescing, which answers are still the scheduler's)
is decided by the Qt-free ``DecodeScheduler``; whether a proposal is still wanted by the editor
(``Editor.accept``, by revision). This module only starts the jobs it is handed and carries their
results back.
"""

from __future__ import annotations

import time
from concurrent.futures import CancelledError, Future
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from samcut.models.document.preferences import Preferences, cache_dir, compiled_graphs_dir
from samcut.models.editor import DecodeRequest
from samcut.models.editor.scheduler import DecodeJob, DecodeScheduler
from samcut.models.engine.errors import EncodeCancelled
from samcut.models.engine.service import DecodeResult, ImageHandle, SegmentationService
from samcut.models.store.choice import chosen_quality_dir, model_info


class EngineBridge(QObject):
    """Qt face of ``SegmentationService``; lives in the GUI thread."""

    encodeStarted = Signal(int)            # ticket
    encodeFinished = Signal(int, float, bool)  # ticket, milliseconds, taken from a cache
    encodeFailed = Signal(int, str)        # ticket, message
    proposalReady = Signal(object, int)    # DecodeResult, the revision of the prompt it answers
    hoverReady = Signal(object, object)    # DecodeResult, the (x, y) image point it answers
    finderStep = Signal(object, object, int)  # DecodeResult, its grid point (x, y), the image's ticket
    decodeFailed = Signal(str)
    regionStarted = Signal(object)         # (x0, y0, x1, y1) being encoded
    regionReady = Signal(object, float)    # (x0, y0, x1, y1), milliseconds
    regionFailed = Signal(str)             # message; the whole-image encode still serves
    upgraded = Signal(int, str, float, bool)  # ticket, the quality model's label, seconds, taken from a cache
    upgradeFailed = Signal(int, str)       # ticket, message; the quick model goes on serving
    _encodeDone = Signal(object, float)    # (handle, started) from a worker thread
    _regionDone = Signal(object, float)    # (region handle, started) from a worker thread
    _decodeDone = Signal(object, object)   # (future, DecodeJob) from a worker thread
    _upgradeDone = Signal(object)          # the quality model's handle, from a worker thread

    def __init__(self, service: SegmentationService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.handle: ImageHandle | None = None
        self.region: ImageHandle | None = None  # the zoomed region being (or last) encoded
        self.scheduler = DecodeScheduler()
        self._closed = False
        self._encodeDone.connect(self._on_encode_done)
        self._decodeDone.connect(self._on_decode_done)
        self._regionDone.connect(self._on_region_done)
        self._upgradeDone.connect(self._on_upgrade_done)
        self.better: ImageHandle | None = None  # the quality model's handle while it encodes

    @property
    def ticket(self) -> int:
        return self.handle.ticket if self.handle else 0

    @property
    def decoding(self) -> bool:
        """A decode request is in flight."""
        return self.scheduler.in_flight is not None

    @property
    def busy(self) -> bool:
        return self.decoding or (self.handle is not None and not self.handle.embedding.done())

    def open_image(self, rgb: np.ndarray) -> int:
        """Start encoding; returns the image's ticket. Pending decodes of the old image are dropped."""
        self.scheduler.reset()
        self.region = None
        self.handle = self.service.open_image(rgb)
        started = time.perf_counter()
        handle = self.handle
        self.better = better = self.service.upgrade(handle)
        self.encodeStarted.emit(handle.ticket)
        handle.embedding.add_done_callback(lambda _f: self._encodeDone.emit(handle, started))
        if better is not None:
            better.embedding.add_done_callback(lambda _f: self._upgradeDone.emit(better))
        return handle.ticket

    # the quality model -------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The model that answers the whole image's decodes now (the quality one once it has come)."""
        return self.handle.model if self.handle is not None else self.service.model

    @property
    def upgrading(self) -> bool:
        """The quality model is still encoding the open image."""
        return self.better is not None and not self.better.embedding.done()

    def upgrade_progress(self) -> float | None:
        """How far the quality encode is (0-0.99, estimated), None when none is running."""
        quality = self.service.quality
        return quality.progress() if quality is not None and self.upgrading else None

    def _on_upgrade_done(self, better: ImageHandle) -> None:
        if better is not self.better or self.handle is None or better.ticket != self.handle.ticket:
            return
        self.better = None
        encoded, error = self._outcome(better)
        if error is not None:
            self.upgradeFailed.emit(better.ticket, error)
        elif encoded:
            self.handle = better  # hover, the finder, new regions and whole-image strokes use it now
            quality = self.service.quality
            label = quality.label if quality is not None else ""
            seconds = (quality.last_encode_s or 0.0) if quality is not None else 0.0
            self.upgraded.emit(better.ticket, label, seconds, better.from_cache)

    @staticmethod
    def _outcome(handle: ImageHandle) -> tuple[bool, str | None]:
        """``(encoded, error)`` of a finished encode: error is None when it was cancelled."""
        try:
            handle.embedding.result()
        except (CancelledError, EncodeCancelled):
            return False, None
        except Exception as exc:  # noqa: BLE001 - shown to the user
            return False, str(exc) or exc.__class__.__name__
        return True, None

    def _on_encode_done(self, handle: ImageHandle, started: float) -> None:
        if self.handle is None or handle.ticket != self.handle.ticket:
            return
        encoded, error = self._outcome(handle)
        if error is not None:
            self.encodeFailed.emit(handle.ticket, error)
        elif encoded:
            self.encodeFinished.emit(handle.ticket, (time.perf_counter() - started) * 1000, handle.from_cache)

    # zoomed regions --------------------------------------------------------------------------
    def request_region(self, crop: np.ndarray, origin: tuple[int, int]) -> None:
        """Encode a region of the open image, its pixels ``crop`` with top-left ``origin`` ``(x, y)``,
        at full encoder resolution."""
        if self.handle is None or self._closed:
            return
        region = self.service.open_region(self.handle, crop, origin)
        self.region = region
        started = time.perf_counter()
        self.regionStarted.emit(region.box)
        region.embedding.add_done_callback(lambda _f: self._regionDone.emit(region, started))

    def _on_region_done(self, region: ImageHandle, started: float) -> None:
        if region is not self.region:
            return
        encoded, error = self._outcome(region)
        if error is not None:
            self.region = None
            self.regionFailed.emit(error)
        elif encoded:
            self.regionReady.emit(region.box, (time.perf_counter() - started) * 1000)

    @property
    def ready_region(self) -> ImageHandle | None:
        """The encoded zoomed region, if there is one."""
        region = self.region
        if region is None or not region.embedding.done() or region.embedding.cancelled():
            return None
        return None if region.embedding.exception() is not None else region

    # decoding --------------------------------------------------------------------------------
    def request_decode(self, request: DecodeRequest, frame: ImageHandle | None = None) -> None:
        """Ask for a proposal of ``request`` (its prompt in ``frame``'s pixels; default the whole
        image); the scheduler decides when it runs."""
        if self.handle is None or self._closed:
            return
        self._start(self.scheduler.ask_proposal(request, frame or self.handle))

    def request_hover(self, x: float, y: float) -> None:
        """Ask what a click at image point ``(x, y)`` would select, once the encode is done."""
        if self.handle is None or self._closed or not self.handle.embedding.done():
            return
        self._start(self.scheduler.ask_point("hover", (x, y), self.handle))

    def request_finder(self, x: float, y: float) -> None:
        """Decode the Object Finder's grid point ``(x, y)`` when nothing else is waiting."""
        if self.handle is None or self._closed or not self.handle.embedding.done():
            return
        self._start(self.scheduler.ask_point("finder", (x, y), self.handle, self.handle.ticket))

    def _start(self, job: DecodeJob | None) -> None:
        if job is not None:
            future = self.service.decode(job.frame, job.prompt, job.lead)
            future.add_done_callback(lambda f: self._decodeDone.emit(f, job))

    def _on_decode_done(self, future: Future, job: DecodeJob) -> None:
        wanted, following = self.scheduler.finished(job)
        if not wanted:
            return
        self._start(following)
        result: DecodeResult | None = None
        try:
            result = future.result()
        except (CancelledError, EncodeCancelled):
            pass
        except Exception as exc:  # noqa: BLE001 - shown to the user
            if job.kind == "proposal":
                self.decodeFailed.emit(str(exc) or exc.__class__.__name__)
        if result is None:
            if job.kind == "finder":  # cancelled or failed: the finder goes on with its next point
                self.finderStep.emit(None, job.point, job.ticket)
            return
        if job.kind == "hover":
            self.hoverReady.emit(result, job.point)
        elif job.kind == "finder":
            self.finderStep.emit(result, job.point, job.ticket)
        else:
            self.proposalReady.emit(result, job.request.revision)

    def cancel_pending(self) -> None:
        """Forget the queued proposal request (e.g. when the user drops or applies the proposal)."""
        self.scheduler.drop("proposal")

    def cancel_hover(self) -> None:
        """Forget a queued hover (the pointer left, a button went down)."""
        self.scheduler.drop("hover")

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing waiting."""
        return self.scheduler.idle

    def close(self) -> None:
        """Stop the service; later requests are ignored (a timer may still fire after the window closed)."""
        self.scheduler.drop("proposal")
        self._closed = True
        self.service.close()


def make_bridge(folder: Path, preferences: Preferences, quality: bool = True) -> EngineBridge:
    """Load the model (ONNX Runtime is imported here) at the preferred precision and start the
    service, with the preferred quality model behind it (``choice.chosen_quality_dir``; loaded
    in its own lane: a failure there is ``upgradeFailed``; ``quality=False``: none); raises ``ModelError`` with a
    user-facing message. A preference the machine cannot honour (bf16 without OpenVINO or native
    bf16) falls back to fp32 with a notice."""
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService, model_cache_id

    engine = SamEngine(folder, threads=preferences.threads or None, precision=preferences.precision,
                       compile_cache=compiled_graphs_dir(), strict=False)

    def disk_for(manifest: dict) -> EmbeddingDiskCache | None:
        model_id = model_cache_id(manifest, engine.cache_tag)
        return EmbeddingDiskCache(cache_dir() / "embeddings", model_id, preferences.disk_cache) \
            if preferences.disk_cache else None

    better = chosen_quality_dir(preferences, folder) if quality else None
    tier = None
    if better is not None:
        from samcut.models.engine.quality import QualityTier, load_quality_engine

        info = model_info(better)
        tier = QualityTier(  # (named as its engine will name itself: quality.model_name)
            lambda: load_quality_engine(better, engine, preferences.threads or None, preferences.precision,
                                        compiled_graphs_dir()),
            str(Path(better)), info.label, preferences.encode_times.get(str(better), info.encode_s or 0.0),
            disk_for(info.manifest))
    return EngineBridge(SegmentationService(engine, preferences.memory_cache, disk_for(engine.manifest),
                                            quality=tier))
