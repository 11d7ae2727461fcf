"""Zoomed re-encode in the window: watch the view, encode the visible region, pick prompt frames.

The rules (when a view deserves its own encode, when a region serves a prompt) are the pure
functions of ``zoom_region``; this class wires them to the canvas, the engine bridge, the
editor and the status bar. It knows nothing of the window that owns it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from samcut.gui.canvas import Canvas
from samcut.gui.chrome import StatusPanel
from samcut.gui.engine_bridge import EngineBridge
from samcut.gui.zoom_region import applies_at, covers, detail_gain, region_for_view
from samcut.models.editor import Editor
from samcut.models.editor.editor import Frame
from samcut.models.engine.service import ImageHandle
from samcut.models.engine.types import XYXY


class RegionController(QObject):
    """Encodes the visible region once the view has been still for ``settle_ms`` (when automatic).

    ``bridge`` and ``editor`` are set by the window when it gets an engine and opens an image."""

    def __init__(self, canvas: Canvas, status: StatusPanel, parent: QObject | None = None,
                 settle_ms: int = 500) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.status = status
        self.bridge: EngineBridge | None = None
        self.editor: Editor | None = None
        self.automatic = True
        self.prompt_frame: ImageHandle | None = None  # the region the current prompt is decoded in
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(settle_ms)
        self._timer.timeout.connect(lambda: self.encode_view(force=False))
        canvas.viewChanged.connect(self._on_view_changed)

    def stop(self) -> None:
        """The window is closing: no more region encodes."""
        self.automatic = False
        self._timer.stop()

    def attach(self, bridge: EngineBridge) -> None:
        """Call when the window gets its engine bridge."""
        self.bridge = bridge
        bridge.regionStarted.connect(lambda _box: self.status.encoder("Encoding the zoomed region…", busy=True))
        bridge.regionReady.connect(self._on_region_ready)
        bridge.regionFailed.connect(self._on_region_failed)

    def _on_region_failed(self, message: str) -> None:
        """Not worth a dialog: strokes still use the whole image's encode."""
        self.status.encoder(f"Zoomed region not encoded ({message}); using the whole image")

    def _view(self) -> tuple[float, float, float, float]:
        return self.canvas.visible_image_rect()

    def _on_view_changed(self) -> None:
        self._show_region()
        if self.automatic:
            self._timer.start()

    def encode_view(self, force: bool) -> None:
        """Encode the visible region by itself (``force``: even when zoomed in only a little)."""
        editor, bridge = self.editor, self.bridge
        if editor is None or bridge is None or bridge.handle is None:
            return
        region = bridge.region
        if region is not None and covers(region.box, self._view(), editor.size):
            return  # the region already encoded (or being encoded) serves this view
        box = region_for_view(self._view(), editor.size, force)
        if box is None:
            return
        if not force and (self.canvas.dragging or bridge.decoding):
            self._timer.start()  # the user is drawing: do not take the cores from the decoder now
            return
        bridge.request_region(editor.image.model_rgb(box), box[:2])

    def _on_region_ready(self, box: XYXY, ms: float) -> None:
        if self.editor is None:
            self.status.encoder("")
            return
        gain = detail_gain(box, self.editor.size)
        self.status.encoder(f"Zoomed region ready: {gain:.1f}× detail ({ms / 1000:.2f} s)")
        self._show_region()

    def _show_region(self) -> None:
        """Outline the encoded region while strokes would use it."""
        region = self.bridge.ready_region if self.bridge is not None else None
        show = region is not None and self.editor is not None and covers(region.box, self._view(), self.editor.size)
        self.canvas.set_region(region.box if show else None)

    def frame_at(self, x: float, y: float) -> Frame | None:
        """For a prompt that starts now at (x, y): the zoomed region to decode it in, if one applies
        (a prompt already begun keeps its frame)."""
        editor = self.editor
        if editor is None or not editor.prompt.empty:
            return editor.frame if editor is not None else None
        region = self.bridge.ready_region if self.bridge is not None else None
        if region is None or not applies_at(region.box, self._view(), editor.size, (x, y)):
            return None
        self.prompt_frame = region
        return region.box

    def handle_for(self, frame: Frame | None) -> ImageHandle | None:
        """The encoded frame a request for ``frame`` decodes in (None: the whole image). A frame
        whose encode is gone (a prompt brought back by undo) is encoded again (the memory cache
        usually has it)."""
        if frame is None or self.bridge is None or self.editor is None:
            return None
        if self.prompt_frame is None or self.prompt_frame.box != frame:
            self.bridge.request_region(self.editor.image.model_rgb(frame), frame[:2])
            self.prompt_frame = self.bridge.region
        return self.prompt_frame
