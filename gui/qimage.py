"""numpy <-> QImage conversions: copies (numpy buffers may be freed afterwards), except
``rgb_view``, which shares the numpy buffer."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """``uint8 H x W x 3`` -> ``QImage.Format_RGB888``."""
    h, w, _ = rgb.shape
    data = np.ascontiguousarray(rgb)
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def rgb_view(rgb: np.ndarray) -> QImage:
    """``uint8 H x W x 3`` C-contiguous -> a ``Format_RGB888`` QImage over the same memory (no copy).

    The caller keeps ``rgb`` alive and unchanged while the QImage is in use.
    """
    if not rgb.flags.c_contiguous:
        raise ValueError("rgb_view needs a C-contiguous array")
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """``uint8 H x W x 4`` (straight alpha) -> ``QImage.Format_RGBA8888``."""
    h, w, _ = rgba.shape
    data = np.ascontiguousarray(rgba)
    return QImage(data.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def indexed_to_qimage(levels: np.ndarray, table: list[int]) -> QImage:
    """``uint8 H x W`` colour-table indices and their ``0xAARRGGBB`` colours -> a premultiplied ARGB
    QImage (Qt expands the table in C++: a screen-sized overlay in about 1 ms, and it then draws
    at the cost of a plain ARGB image)."""
    h, w = levels.shape
    data = np.ascontiguousarray(levels, np.uint8)
    indexed = QImage(data.data, w, h, w, QImage.Format.Format_Indexed8)
    indexed.setColorTable(table)
    return indexed.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


def qimage_to_rgba(image: QImage) -> np.ndarray:
    """Any QImage -> ``uint8 H x W x 4`` RGBA (straight alpha)."""
    converted = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = converted.height(), converted.width()
    stride = converted.bytesPerLine()
    buffer = np.frombuffer(converted.constBits(), np.uint8, count=stride * h)
    return buffer.reshape(h, stride)[:, : 4 * w].reshape(h, w, 4).copy()
