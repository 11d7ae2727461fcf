"""The only place where the service's futures become Qt signals.

Decode requests are throttled: the first goes out at once (leading edge); while one is in
flight, newer requests replace each other and the newest goes out when it returns (trailing
edge). Every result goes out with its request's prompt revision: whether it is still wanted is
the editor's decision (``Editor.accept``), made there and nowhere else.

Hover previews (the object a click would take, shown under the pointer) share that one decode
in flight, at a lower priority: at most one hover is pending (the newest pointer position wins),
it goes out only when no stroke is waiting, and a stroke that arrives while a hover is being
decoded waits for that one decode and no more. The Object Finder's grid points come last of all,
one at a time, only when nothing else waits.
"""

from __future__ import annotations

import time
from concurrent.futures import CancelledError, Future
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from samcut.models.document.preferences import Preferences, cache_dir, compiled_graphs_dir
from samcut.models.editor import DecodeRequest
from samcut.models.engine.errors import EncodeCancelled
from samcut.models.engine.service import DecodeResult, ImageHandle, SegmentationService
from samcut.models.engine.types import Prompt


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
    _encodeDone = Signal(object, float)    # (handle, started) from a worker thread
    _regionDone = Signal(object, float)    # (region handle, started) from a worker thread
    _decodeDone = Signal(object, object)   # (future, (kind, revision or point[, ticket])) from a worker thread

    def __init__(self, service: SegmentationService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.handle: ImageHandle | None = None
        self.region: ImageHandle | None = None  # the zoomed region being (or last) encoded
        self._in_flight: Future | None = None
        self._flight_request: tuple[DecodeRequest, ImageHandle] | None = None  # the proposal decode in flight
        self._pending: tuple[DecodeRequest, ImageHandle] | None = None
        self._pending_hover: tuple[float, float] | None = None
        self._pending_finder: tuple[float, float] | None = None
        self._closed = False
        self._encodeDone.connect(self._on_encode_done)
        self._decodeDone.connect(self._on_decode_done)
        self._regionDone.connect(self._on_region_done)

    @property
    def ticket(self) -> int:
        return self.handle.ticket if self.handle else 0

    @property
    def decoding(self) -> bool:
        """A decode request is in flight."""
        return self._in_flight is not None

    @property
    def busy(self) -> bool:
        return self._in_flight is not None or (self.handle is not None and not self.handle.embedding.done())

    def open_image(self, rgb: np.ndarray) -> int:
        """Start encoding; returns the image's ticket. Pending decodes of the old image are dropped."""
        self._pending = None
        self._pending_hover = None
        self._pending_finder = None
        self._in_flight = self._flight_request = None
        self.region = None
        self.handle = self.service.open_image(rgb)
        started = time.perf_counter()
        handle = self.handle
        self.encodeStarted.emit(handle.ticket)
        handle.embedding.add_done_callback(lambda _f: self._encodeDone.emit(handle, started))
        return handle.ticket

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
        image); throttled (leading + trailing edge, latest wins)."""
        if self.handle is None or self._closed:
            return
        frame = frame or self.handle
        self._pending_hover = None  # the user is drawing: the pointer's object is not wanted now
        if self._in_flight is not None:
            if self._flight_request is not None and same_work(self._flight_request, (request, frame)):
                # a click decodes on press (the live stroke) and again on release with the same
                # prompt: the answer on its way serves the newer revision, and no second decode runs
                self._flight_request, self._pending = (request, frame), None
                return
            self._pending = (request, frame)
            return
        self._submit(request, frame)

    def request_hover(self, x: float, y: float) -> None:
        """Ask what a click at image point ``(x, y)`` would select, once the encode is done; a
        pending hover is replaced, and strokes always go first."""
        if self.handle is None or self._closed or not self.handle.embedding.done():
            return
        if self._in_flight is not None or self._pending is not None:
            self._pending_hover = (x, y)
            return
        self._submit_point("hover", x, y)

    def request_finder(self, x: float, y: float) -> None:
        """Decode the Object Finder's grid point ``(x, y)`` when nothing else is waiting."""
        if self.handle is None or self._closed or not self.handle.embedding.done():
            return
        if self._in_flight is not None or self._pending is not None or self._pending_hover is not None:
            self._pending_finder = (x, y)
            return
        self._submit_point("finder", x, y)

    def _submit(self, request: DecodeRequest, frame: ImageHandle) -> None:
        future = self.service.decode(frame, request.prompt)
        self._in_flight, self._flight_request = future, (request, frame)
        future.add_done_callback(lambda f: self._decodeDone.emit(f, ("proposal",)))

    def _submit_point(self, kind: str, x: float, y: float) -> None:
        future = self.service.decode(self.handle, Prompt(points=[(x, y)], labels=[1]))
        self._in_flight, self._flight_request = future, None
        ticket = self.handle.ticket
        future.add_done_callback(lambda f: self._decodeDone.emit(f, (kind, (x, y), ticket)))

    def _on_decode_done(self, future: Future, answers: tuple) -> None:
        if future is not self._in_flight:
            return  # sent before the image changed
        if answers[0] == "proposal":  # the revision it answers: the newest request it serves
            answers = ("proposal", self._flight_request[0].revision)
        self._in_flight = self._flight_request = None
        result: DecodeResult | None = None
        try:
            result = future.result()
        except (CancelledError, EncodeCancelled):
            pass
        except Exception as exc:  # noqa: BLE001 - shown to the user
            if answers[0] == "proposal":
                self.decodeFailed.emit(str(exc) or exc.__class__.__name__)
        if self._pending is not None:
            (request, frame), self._pending = self._pending, None
            self._submit(request, frame)
        elif self._pending_hover is not None:
            point, self._pending_hover = self._pending_hover, None
            self._submit_point("hover", *point)
        elif self._pending_finder is not None:
            point, self._pending_finder = self._pending_finder, None
            self._submit_point("finder", *point)
        if result is None:
            if answers[0] == "finder":  # cancelled or failed: the finder goes on with its next point
                self.finderStep.emit(None, answers[1], answers[2])
            return
        if answers[0] == "hover":
            self.hoverReady.emit(result, answers[1])
        elif answers[0] == "finder":
            self.finderStep.emit(result, answers[1], answers[2])
        else:
            self.proposalReady.emit(result, answers[1])

    def cancel_pending(self) -> None:
        """Forget the queued request (e.g. when the user drops or applies the proposal)."""
        self._pending = None

    def cancel_hover(self) -> None:
        """Forget a queued hover (the pointer left, a button went down)."""
        self._pending_hover = None

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing waiting."""
        return (self._in_flight is None and self._pending is None and self._pending_hover is None
                and self._pending_finder is None)

    def close(self) -> None:
        """Stop the service; later requests are ignored (a timer may still fire after the window closed)."""
        self._pending = None
        self._closed = True
        self.service.close()


def same_work(a: tuple[DecodeRequest, ImageHandle], b: tuple[DecodeRequest, ImageHandle]) -> bool:
    """Whether two (request, frame) pairs would decode the same thing: same frame, points, labels,
    box, and the very same mask input (compared by identity: it is the earlier answer's logits)."""
    return a[1] is b[1] and a[0].prompt == b[0].prompt and a[0].prompt.mask_input is b[0].prompt.mask_input


def make_bridge(folder: Path, preferences: Preferences) -> EngineBridge:
    """Load the model (ONNX Runtime is imported here) at the preferred precision and start the
    service; raises ``ModelError`` with a user-facing message. A preference the machine cannot
    honour (bf16 without OpenVINO or native bf16) falls back to fp32 with a notice."""
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService, model_cache_id

    engine = SamEngine(folder, threads=preferences.threads or None, precision=preferences.precision,
                       compile_cache=compiled_graphs_dir(), strict=False)
    model_id = model_cache_id(engine.manifest, engine.cache_tag)
    disk = EmbeddingDiskCache(cache_dir() / "embeddings", model_id, preferences.disk_cache) \
        if preferences.disk_cache else None
    return EngineBridge(SegmentationService(engine, preferences.memory_cache, disk))
