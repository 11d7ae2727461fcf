"""Zoomed re-encode in the window: watch the view, encode the visible region, pick prompt frames.

The rules (when a view deserves its own encode, when a region serves a prompt) are the pure
functions of ``zoom_region``; this class wires them to the canvas, the engine bridge and the
status bar of a ``MainWindow``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from samcut.gui.zoom_region import applies_at, covers, detail_gain, region_for_view
from samcut.models.engine.service import ImageHandle

if TYPE_CHECKING:
    from samcut.gui.main_window import MainWindow


class RegionController(QObject):
    """Encodes the visible region once the view has been still for ``settle_ms`` (when automatic)."""

    def __init__(self, window: MainWindow, settle_ms: int = 500) -> None:
        super().__init__(window)
        self.window = window
        self.automatic = True
        self.prompt_frame: ImageHandle | None = None  # the region the current prompt is decoded in
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(settle_ms)
        self._timer.timeout.connect(lambda: self.encode_view(force=False))
        window.canvas.viewChanged.connect(self._on_view_changed)

    def stop(self) -> None:
        """The window is closing: no more region encodes."""
        self.automatic = False
        self._timer.stop()

    def attach(self) -> None:
        """Call when the window gets its engine bridge."""
        bridge = self.window.bridge
        bridge.regionStarted.connect(self._on_region_started)
        bridge.regionReady.connect(self._on_region_ready)
        bridge.regionFailed.connect(self._on_region_failed)

    def _on_region_started(self, _box: tuple[int, int, int, int]) -> None:
        self.window.encoder_label.setText("Encoding the zoomed region…")
        self.window.encode_bar.setVisible(True)

    def _on_region_failed(self, message: str) -> None:
        """Not worth a dialog: strokes still use the whole image's encode."""
        self.window.encode_bar.setVisible(False)
        self.window.encoder_label.setText(f"Zoomed region not encoded ({message}); using the whole image")

    def _view(self) -> tuple[float, float, float, float]:
        return self.window.canvas.visible_image_rect()

    def _on_view_changed(self) -> None:
        self._show_region()
        if self.automatic:
            self._timer.start()

    def encode_view(self, force: bool) -> None:
        """Encode the visible region by itself (``force``: even when zoomed in only a little)."""
        window = self.window
        if window.document is None or window.bridge is None or window.bridge.handle is None:
            return
        region = window.bridge.region
        if region is not None and covers(region.box, self._view(), window.document.size):
            return  # the region already encoded (or being encoded) serves this view
        box = region_for_view(self._view(), window.document.size, force)
        if box is None:
            return
        if not force and (window.canvas.dragging or window.bridge.decoding):
            self._timer.start()  # the user is drawing: do not take the cores from the decoder now
            return
        window.bridge.request_region(window.document.image.model_rgb(box), box[:2])

    def _on_region_ready(self, box: tuple[int, int, int, int], ms: float) -> None:
        self.window.encode_bar.setVisible(False)
        if self.window.document is None:
            return
        gain = detail_gain(box, self.window.document.size)
        self.window.encoder_label.setText(f"Zoomed region ready: {gain:.1f}× detail ({ms / 1000:.2f} s)")
        self._show_region()

    def _show_region(self) -> None:
        """Outline the encoded region while strokes would use it."""
        window = self.window
        region = window.bridge.ready_region if window.bridge is not None else None
        show = region is not None and window.document is not None and covers(region.box, self._view(),
                                                                             window.document.size)
        window.canvas.set_region(region.box if show else None)

    def frame_at(self, x: float, y: float) -> tuple[int, int, int, int] | None:
        """For a prompt that starts now at (x, y): the zoomed region to decode it in, if one applies
        (a prompt already begun keeps its frame)."""
        document = self.window.document
        if document is None or not document.prompt.empty:
            return document.frame if document is not None else None
        region = self.window.bridge.ready_region if self.window.bridge is not None else None
        if region is None or not applies_at(region.box, self._view(), document.size, (x, y)):
            return None
        self.prompt_frame = region
        return region.box

    def decode_frame(self) -> ImageHandle | None:
        """The frame to decode the current prompt in (None: the whole image)."""
        document = self.window.document
        return self.prompt_frame if document is not None and document.frame is not None else None
