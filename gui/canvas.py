"""The canvas: shows the image with selection and proposal overlays, turns pointer input into strokes.

View transform: widget = image * scale + offset (image pixels: x = column, y = row).
Input depends on the tool. Smart brush: left-drag = positive stroke, right-drag = negative stroke;
as in Photoshop and Krita, Shift held at the press adds what it selects, Alt subtracts and
Shift+Alt intersects (``modeHeld``). Box tool or Ctrl+drag: a box (the same modifiers apply).
Paint / Erase: pixel brush on the selection (right-drag or Alt does the opposite). Refine brush:
where the edge should be looked at again.
Always: middle-drag or Space+drag = pan; wheel = zoom about the pointer.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QWidget

from samcut.gui.overlay import PROPOSAL_TINT, contrasting_tint, outline_levels, outline_table, sample_grid
from samcut.gui.qimage import indexed_to_qimage, rgb_view, rgba_to_qimage
from samcut.gui.view_modes import compose, overlay_selection
from samcut.models.document.strokes import Stroke
from samcut.models.editor.proposal import Proposal
from samcut.models.engine.types import XYXY

ZOOM_STEP = 1.25
HOVER_ALPHA = 55  # the hover preview's fill: half the proposal's
PIXEL_BRUSHES = {"paint": QColor(80, 200, 255, 110), "erase": QColor(255, 90, 90, 110),
                 "refine": QColor(255, 220, 60, 110)}
MIN_SCALE, MAX_SCALE = 0.01, 64.0


def held_mode(shift: bool, alt: bool) -> str | None:
    """The selection mode modifiers ask for, as in Photoshop: Shift adds, Alt subtracts, both intersect."""
    if shift and alt:
        return "intersect"
    return "add" if shift else "subtract" if alt else None


class Canvas(QWidget):
    """Image view with overlays and brush input; knows nothing about the engine."""

    strokeStarted = Signal(float, float)  # image point where the stroke began
    strokeMoved = Signal(object)      # Stroke so far (live)
    strokeFinished = Signal(object)   # Stroke
    boxDrawn = Signal(object)         # (x0, y0, x1, y1)
    modeHeld = Signal(str)            # "add" / "subtract" / "intersect": modifiers held as a prompt began
    brushFinished = Signal(str, object, float, bool)  # "paint" | "refine", N x 2 path, radius (image px), add
    viewChanged = Signal()
    hovered = Signal(float, float)    # image coordinates under the pointer

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 240)
        self.scale = 1.0
        self.offset = QPointF(0, 0)
        self.brush_radius = 12
        self.tool = "smart"  # a tool name of gui.actions.TOOLS
        self._photo: QImage | None = None  # shares the document's pixels (no second copy of a big photo)
        self._photo_pixels: np.ndarray | None = None  # keeps those pixels alive
        self._image_size: tuple[int, int] | None = None  # (H, W)
        self._selection: np.ndarray | None = None
        self._proposal: Proposal | None = None
        self._path: list[tuple[float, float]] = []
        self._positive = True
        self._brush_tool: str | None = None  # the pixel brush being dragged, if any
        self._box_start: tuple[float, float] | None = None
        self._box_end: tuple[float, float] | None = None
        self._pan_from: QPointF | None = None
        self._space = False
        self._cursor: QPointF | None = None
        self._overlay_cache: dict[str, tuple[tuple, QImage, QRectF]] = {}
        self._sample_cache: dict[str, tuple[tuple, np.ndarray | None]] = {}
        self._hover: Proposal | None = None
        self.view_mode = "overlay"
        self.proposal_tint = PROPOSAL_TINT  # chosen per proposal to stand out from the image under it
        self._region: XYXY | None = None  # zoomed region in use, outlined
        self._selection_version = 0  # counts set_selection calls: the sampled selection's cache key
        self._trail: tuple[Stroke, ...] = ()  # the prompt's finished strokes, drawn faintly

    # content -----------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show ``uint8 H x W x 3`` pixels (shared, not copied: they must not change while shown)."""
        self._photo_pixels = None if rgb is None else np.ascontiguousarray(rgb)
        self._photo = None if rgb is None else rgb_view(self._photo_pixels)
        self._image_size = None if rgb is None else (int(rgb.shape[0]), int(rgb.shape[1]))
        self._selection = None
        self._proposal = None
        self._hover = None
        self._region = None
        self._overlay_cache.clear()
        self._sample_cache.clear()
        self._trail = ()
        self.proposal_tint = PROPOSAL_TINT
        self.cancel_drag()
        self.fit()

    def cancel_drag(self) -> None:
        """Forget a stroke, brush stroke or box being drawn: its release will do nothing (the
        image it began on is gone)."""
        self._path = []
        self._brush_tool = None
        self._box_start = self._box_end = None

    def set_selection(self, selection: np.ndarray | None) -> None:
        """The selection to draw, changed (the editor edits it in place: each call is a new version)."""
        self._selection = selection
        self._selection_version += 1
        self._overlay_cache.pop("selection", None)
        self._sample_cache.pop("selection", None)
        self.update()

    def set_proposal(self, proposal: Proposal | None) -> None:
        self._proposal = proposal
        self._overlay_cache.pop("proposal", None)
        self._sample_cache.pop("proposal", None)
        self.update()

    def set_hover(self, proposal: Proposal | None) -> None:
        """What a click under the pointer would select, drawn lightly (None: nothing)."""
        if proposal is not self._hover:
            self._hover = proposal
            self._overlay_cache.pop("hover", None)
            self._sample_cache.pop("hover", None)
            self.update()

    def set_trail(self, strokes: tuple[Stroke, ...]) -> None:
        """The prompt's finished strokes, drawn faintly until the proposal is applied or dropped
        (also before the encode ends, so a click made then is seen at once)."""
        if strokes != self._trail:
            self._trail = strokes
            self.update()

    def set_region(self, box: XYXY | None) -> None:
        """Outline the zoomed region that strokes are decoded in (None: no outline)."""
        if box != self._region:
            self._region = box
            self.update()

    @property
    def dragging(self) -> bool:
        """A stroke, brush stroke or box is being drawn."""
        return bool(self._path) or self._box_start is not None

    # view --------------------------------------------------------------------------------
    def fit(self) -> None:
        if self._image_size is None:
            self.update()
            return
        h, w = self._image_size
        self.scale = float(np.clip(min(self.width() / w, self.height() / h) * 0.98, MIN_SCALE, MAX_SCALE))
        self.offset = QPointF((self.width() - w * self.scale) / 2, (self.height() - h * self.scale) / 2)
        self._view_changed()

    def zoom_to(self, box: tuple[float, float, float, float]) -> None:
        """Show the image rectangle ``(x0, y0, x1, y1)`` as large as fits, centred."""
        x0, y0, x1, y1 = box
        self.scale = float(np.clip(min(self.width() / max(1e-6, x1 - x0), self.height() / max(1e-6, y1 - y0)),
                                   MIN_SCALE, MAX_SCALE))
        self.offset = QPointF(self.width() / 2 - (x0 + x1) / 2 * self.scale,
                              self.height() / 2 - (y0 + y1) / 2 * self.scale)
        self._view_changed()

    def actual_size(self) -> None:
        self.zoom_about(QPointF(self.width() / 2, self.height() / 2), 1.0 / self.scale)

    def zoom_about(self, anchor: QPointF, factor: float) -> None:
        """Multiply the zoom by ``factor`` keeping the image point under ``anchor`` fixed."""
        new_scale = float(np.clip(self.scale * factor, MIN_SCALE, MAX_SCALE))
        image_pt = self.to_image(anchor)
        self.scale = new_scale
        self.offset = QPointF(anchor.x() - image_pt[0] * new_scale, anchor.y() - image_pt[1] * new_scale)
        self._view_changed()

    def pan_by(self, dx: float, dy: float) -> None:
        self.offset = QPointF(self.offset.x() + dx, self.offset.y() + dy)
        self._view_changed()

    def _view_changed(self) -> None:
        self._overlay_cache.clear()
        self._sample_cache.clear()
        self.viewChanged.emit()
        self.update()

    def to_image(self, point: QPointF) -> tuple[float, float]:
        return ((point.x() - self.offset.x()) / self.scale, (point.y() - self.offset.y()) / self.scale)

    def to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(x * self.scale + self.offset.x(), y * self.scale + self.offset.y())

    def visible_image_rect(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the image area inside the widget, in image pixels (unclipped)."""
        x0, y0 = self.to_image(QPointF(0, 0))
        x1, y1 = self.to_image(QPointF(self.width(), self.height()))
        return x0, y0, x1, y1

    # painting ----------------------------------------------------------------------------
    def _sampled(self, name: str) -> tuple[tuple, np.ndarray | None]:
        """The named mask sampled once per screen pixel of the visible region (``uint8`` for the
        selection, bool for the proposal; None when empty), cached per view and per mask. Every
        view mode is drawn from these: switching mode never upsamples a mask again."""
        source = {"selection": self._selection, "proposal": self._proposal, "hover": self._hover}[name]
        x0, y0, x1, y1 = self.visible_image_rect()
        # the selection by version (edited in place), proposals by identity (they never change)
        identity = self._selection_version if name == "selection" else id(source)
        key = (identity, x0, y0, x1, y1, self.width(), self.height())
        cached = self._sample_cache.get(name)
        if cached and cached[0] == key:
            return cached
        sampled = None
        if source is not None and self._image_size is not None:
            rows, cols = self._grid()
            if rows.size and cols.size:
                sampled = (self._selection[np.ix_(rows, cols)] if name == "selection"
                           else source.mask(rows, cols))
                if not sampled.any():
                    sampled = None
                elif name == "proposal":
                    self.proposal_tint = self._tint_for(sampled, rows, cols)
        self._sample_cache[name] = (key, sampled)
        return key, sampled

    def _overlay(self, name: str) -> tuple[QImage, QRectF] | None:
        """The overlay view's layer ``name``, from the sampled mask, cached."""
        key, sampled = self._sampled(name)
        key = (*key, self.proposal_tint)
        cached = self._overlay_cache.get(name)
        if cached and cached[0] == key:  # an empty overlay is cached too (as None)
            return None if cached[1] is None else (cached[1], cached[2])
        image = None
        if sampled is not None and name == "selection":
            image = rgba_to_qimage(overlay_selection(sampled))
        elif sampled is not None:  # redrawn at every stroke: colour-table indices, expanded by Qt
            image = indexed_to_qimage(outline_levels(sampled),
                                      outline_table(self.proposal_tint, 110 if name == "proposal" else HOVER_ALPHA))
        rect = self._visible_span()[4]  # the same [lo, hi) spans that sample_grid covered
        self._overlay_cache[name] = (key, image, rect)
        return None if image is None else (image, rect)

    def _composed(self) -> tuple[QImage, QRectF] | None:
        """Every view but the overlay: one image from both sampled masks (``view_modes.compose``)."""
        sel_key, selection = self._sampled("selection")
        prop_key, proposal = self._sampled("proposal")
        rect = self._visible_span()[4]
        key = (sel_key, prop_key, self.view_mode, self.proposal_tint)
        cached = self._overlay_cache.get("composed")
        if cached and cached[0] == key:
            return None if cached[1] is None else (cached[1], cached[2])
        rows, cols = self._grid()  # the sampled masks' own shape
        rgba = compose(self.view_mode, selection, proposal, self.proposal_tint, (rows.size, cols.size),
                       (int(rect.x()), int(rect.y())))
        image = None if rgba is None else rgba_to_qimage(rgba)
        self._overlay_cache["composed"] = (key, image, rect)
        return None if image is None else (image, rect)

    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The image rows and columns under the visible screen pixels, one per pixel (``sample_grid``)."""
        h, w = self._image_size
        x0, y0, x1, y1 = self.visible_image_rect()
        return sample_grid(y0, y1, self.scale, h), sample_grid(x0, x1, self.scale, w)

    def set_view_mode(self, mode: str) -> None:
        """Show the selection and proposal as view ``mode`` (``view_modes.VIEW_NAMES``)."""
        if mode != self.view_mode:
            self.view_mode = mode
            self.update()

    def _tint_for(self, mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[int, int, int]:
        """The proposal colour that contrasts with the image under the proposal (about 4000 samples)."""
        yy, xx = np.nonzero(mask)
        if yy.size == 0 or self._photo_pixels is None:
            return self.proposal_tint
        pick = slice(None, None, max(1, yy.size // 4000))
        return contrasting_tint(self._photo_pixels[rows[yy[pick]], cols[xx[pick]]], self.proposal_tint)

    def _visible_span(self) -> tuple[int, int, int, int, QRectF]:
        """The visible image pixels ``[x0, x1) x [y0, y1)`` (whole pixels) and their widget rectangle."""
        h, w = self._image_size
        x0, y0, x1, y1 = self.visible_image_rect()
        x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        x1, y1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
        return x0, y0, x1, y1, QRectF(self.to_widget(x0, y0), self.to_widget(x1, y1))

    def _scaled_view(self) -> tuple[QPixmap, QRectF]:
        """The visible part of the photo, smoothly scaled to screen pixels, cached per view."""
        x0, y0, x1, y1, rect = self._visible_span()
        key = (x0, y0, x1, y1, round(rect.width()), round(rect.height()))
        cached = self._overlay_cache.get("photo")
        if cached and cached[0] == key:
            return cached[1], cached[2]
        scaled = QPixmap(max(1, key[4]), max(1, key[5]))
        painter = QPainter(scaled)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(scaled.rect()), self._photo, QRectF(x0, y0, x1 - x0, y1 - y0))
        painter.end()
        self._overlay_cache["photo"] = (key, scaled, rect)
        return scaled, rect

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(48, 48, 52))
        if self._photo is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Open an image (Ctrl+O), drop one here, or paste (Ctrl+V)")
            return
        h, w = self._image_size
        if self.scale < 1.0:  # the photo shrunk to the screen once per view, not at every repaint
            scaled, rect = self._scaled_view()
            painter.drawPixmap(rect, scaled, QRectF(scaled.rect()))
        else:  # zoomed in: only the visible pixels are drawn
            x0, y0, x1, y1, rect = self._visible_span()
            if x1 > x0 and y1 > y0:
                painter.drawImage(rect, self._photo, QRectF(x0, y0, x1 - x0, y1 - y0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        layers = [self._overlay("selection"), self._overlay("proposal")] if self.view_mode == "overlay" \
            else [self._composed()]
        if self._hover is not None and not self.dragging:
            layers.append(self._overlay("hover"))
        for layer in layers:
            if layer is not None:
                painter.drawImage(layer[1], layer[0])
        if self._region is not None:
            painter.setPen(QPen(QColor(255, 210, 80, 160), 1, Qt.PenStyle.DashDotLine))
            x0, y0, x1, y1 = self._region
            painter.drawRect(QRectF(self.to_widget(x0, y0), self.to_widget(x1, y1)).adjusted(0.5, 0.5, -0.5, -0.5))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for stroke in self._trail:
            colour = QColor(60, 200, 90, 170) if stroke.positive else QColor(230, 60, 60, 170)
            painter.setPen(QPen(colour, 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            points = [self.to_widget(x, y) for x, y in stroke.path]
            if len(points) > 1 and any(p != points[0] for p in points):
                painter.drawPolyline(points)
            painter.setBrush(colour)
            painter.drawEllipse(points[0], 3.5, 3.5)  # where the stroke (or click) began
            painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._path and self._brush_tool is not None:
            colour = PIXEL_BRUSHES[self._pixel_brush_effect()]
            painter.setPen(QPen(colour, 2 * self.brush_radius, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                                Qt.PenJoinStyle.RoundJoin))
            painter.drawPolyline([self.to_widget(x, y) for x, y in self._path])
        elif len(self._path) > 1:
            colour = QColor(60, 200, 90) if self._positive else QColor(230, 60, 60)
            painter.setPen(QPen(colour, 2))
            pts = [self.to_widget(x, y) for x, y in self._path]
            for a, b in zip(pts[:-1], pts[1:], strict=True):
                painter.drawLine(a, b)
        if self._box_start and self._box_end:
            painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            painter.drawRect(QRectF(self.to_widget(*self._box_start), self.to_widget(*self._box_end)).normalized())
        if self._cursor is not None and self._pan_from is None and not self._space:
            painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
            painter.drawEllipse(self._cursor, self.brush_radius, self.brush_radius)

    # input -------------------------------------------------------------------------------
    def _pixel_brush_effect(self) -> str:
        """What the pixel brush being dragged does: "paint", "erase" or "refine" (the right button
        or Alt turns paint into erase and back)."""
        if self._brush_tool == "refine" or self._positive:
            return self._brush_tool
        return "erase" if self._brush_tool == "paint" else "paint"

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        button, mods = event.button(), event.modifiers()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if self._photo is None or button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        point = self.to_image(pos)
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        if self.tool in PIXEL_BRUSHES:
            self._positive = button == Qt.MouseButton.LeftButton and not alt
            self._path = [point]
            self._brush_tool = self.tool
            self.update()
            return
        held = held_mode(bool(mods & Qt.KeyboardModifier.ShiftModifier), alt)
        if held is not None:
            self.modeHeld.emit(held)
        if button == Qt.MouseButton.LeftButton and (self.tool == "box" or mods & Qt.KeyboardModifier.ControlModifier):
            self._box_start = self._box_end = point
            return
        self._positive = button == Qt.MouseButton.LeftButton
        self._path = [point]
        self.strokeStarted.emit(*point)
        self.strokeMoved.emit(Stroke(tuple(self._path), self._positive))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._cursor = pos
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(delta.x(), delta.y())
            return
        point = self.to_image(pos)
        self.hovered.emit(*point)
        if self._box_start is not None:
            self._box_end = point
        elif self._path:
            self._path.append(point)
            if self._brush_tool is None:
                self.strokeMoved.emit(Stroke(tuple(self._path), self._positive))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            return
        if self._box_start is not None:
            (ax, ay), (bx, by) = self._box_start, self.to_image(event.position())
            self._box_start = self._box_end = None
            if abs(ax - bx) * self.scale > 3 and abs(ay - by) * self.scale > 3:
                self.boxDrawn.emit((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)))
            self.update()
            return
        if self._path:
            self._path.append(self.to_image(event.position()))
            path, self._path = self._path, []
            if self._brush_tool is None:
                self.strokeFinished.emit(Stroke(tuple(path), self._positive))
            else:
                effect, self._brush_tool = self._pixel_brush_effect(), None
                tool = "refine" if effect == "refine" else "paint"
                self.brushFinished.emit(tool, np.asarray(path, np.float64), self.brush_radius / self.scale,
                                        effect != "erase")
            self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_about(event.position(), ZOOM_STEP ** steps)

    def keyPressEvent(self, event) -> None:  # noqa: N802, ANN001
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802, ANN001
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.unsetCursor()
            return
        super().keyReleaseEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802, ANN001
        self._cursor = None
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001
        if self._image_size is not None and event.oldSize().width() <= 0:
            self.fit()
        self._overlay_cache.clear()
        self._sample_cache.clear()
        super().resizeEvent(event)
