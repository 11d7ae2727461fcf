"""Draw samcut's application icon to a PNG at build time (no image file lives in the repo).

    python packaging/app_icon.py OUT.png [SIZE]

The Smart Brush glyph of ``samcut.gui.icons`` on a light rounded tile. PyInstaller turns the PNG
into the ``.ico`` (Windows) or ``.icns`` (macOS) it needs with Pillow, which samcut depends on.
Runs in the build venv (PySide6, offscreen: no display needed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def draw(out: Path, size: int = 512) -> Path:
    """Write the icon, ``size`` x ``size`` RGBA, to ``out``; returns ``out``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen

    from samcut.gui.icons import DRAW

    app = QGuiApplication.instance() or QGuiApplication([])
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    margin = size * 0.04
    painter.setPen(QPen(QColor(200, 204, 212), size * 0.01))
    painter.setBrush(QColor(246, 247, 250))
    painter.drawRoundedRect(QRectF(margin, margin, size - 2 * margin, size - 2 * margin), size * 0.18, size * 0.18)
    painter.translate(size * 0.1, size * 0.1)
    DRAW["smart"](painter, size * 0.8)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise OSError(f"could not write {out}")
    del app
    return out


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(draw(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 512))
