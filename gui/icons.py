"""The tool palette's icons, drawn with QPainter at any size (no image files, no SVG plugin to
bundle): a brush with a spark (Smart Brush), a dashed box, a paint brush, an eraser, a feathered
edge (Refine Brush)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

INK = QColor(60, 64, 72)
ACCENT = QColor(40, 140, 255)


def _brush(p: QPainter, s: float) -> None:
    p.setPen(QPen(INK, s * 0.09, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(s * 0.78, s * 0.18), QPointF(s * 0.42, s * 0.56))
    p.setBrush(INK)
    p.drawEllipse(QPointF(s * 0.32, s * 0.68), s * 0.13, s * 0.13)


def _smart(p: QPainter, s: float) -> None:
    _brush(p, s)
    p.setPen(QPen(ACCENT, s * 0.07, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    for dx, dy in ((0, -1), (0, 1), (-1, 0), (1, 0)):  # a spark: the model at work
        p.drawLine(QPointF(s * (0.24 + 0.05 * dx), s * (0.24 + 0.05 * dy)),
                   QPointF(s * (0.24 + 0.14 * dx), s * (0.24 + 0.14 * dy)))


def _box(p: QPainter, s: float) -> None:
    p.setPen(QPen(INK, s * 0.08, Qt.PenStyle.DashLine))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(QRectF(s * 0.16, s * 0.22, s * 0.68, s * 0.56))


def _paint(p: QPainter, s: float) -> None:
    _brush(p, s)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(255, 80, 40))
    p.drawEllipse(QPointF(s * 0.32, s * 0.68), s * 0.08, s * 0.08)


def _erase(p: QPainter, s: float) -> None:
    p.setPen(QPen(INK, s * 0.07))
    p.setBrush(QColor(235, 235, 240))
    path = QPainterPath()
    path.moveTo(s * 0.18, s * 0.62)
    path.lineTo(s * 0.52, s * 0.28)
    path.lineTo(s * 0.82, s * 0.56)
    path.lineTo(s * 0.56, s * 0.82)
    path.lineTo(s * 0.36, s * 0.82)
    path.closeSubpath()
    p.drawPath(path)
    p.drawLine(QPointF(s * 0.36, s * 0.44), QPointF(s * 0.66, s * 0.72))


def _refine(p: QPainter, s: float) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    for i in range(6):  # an edge that fades: soft alpha where hair meets background
        p.setBrush(QColor(INK.red(), INK.green(), INK.blue(), 255 - i * 40))
        p.drawRect(QRectF(s * (0.18 + i * 0.11), s * 0.2, s * 0.11, s * 0.6))
    p.setPen(QPen(ACCENT, s * 0.07, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawArc(QRectF(s * 0.3, s * 0.3, s * 0.4, s * 0.4), 30 * 16, 300 * 16)


DRAW: dict[str, Callable[[QPainter, float], None]] = {
    "smart": _smart, "box": _box, "paint": _paint, "erase": _erase, "refine": _refine,
}


def tool_icon(name: str) -> QIcon:
    """The icon of tool ``name`` (see ``DRAW``), drawn at 24 and 48 pixels."""
    icon = QIcon()
    for size in (24, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        DRAW[name](painter, float(size))
        painter.end()
        icon.addPixmap(pixmap)
    return icon
