"""``samcut --self-test``: load the model, segment a built-in image, check Qt draws offscreen.

Prints one line (verdict and timings) and returns 0 when everything works, 1 otherwise.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def built_in_image() -> np.ndarray:
    """A 240 x 320 scene with a bright disc (the object, centred at 170, 110) on a textured background."""
    y, x = np.mgrid[0:240, 0:320]
    grain = 5 * np.sin(x * 1.7 + y * 2.3)[..., None]  # texture without numpy.random (not in the bundle)
    image = np.dstack([60 + 40 * np.sin(x / 9.0), 90 + 30 * np.cos(y / 7.0), 70 + 0 * x]) + grain
    disc = (x - 170) ** 2 + (y - 110) ** 2 < 55 ** 2
    image[disc] = (230, 200, 40)
    return np.clip(image, 0, 255).astype(np.uint8)


def qt_check() -> str:
    """Qt loads and paints offscreen (no display needed); returns the Qt version."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter

    app = QGuiApplication.instance() or QGuiApplication([])
    image = QImage(16, 16, QImage.Format.Format_RGB32)
    image.fill(QColor(0, 0, 0))
    painter = QPainter(image)
    painter.fillRect(4, 4, 8, 8, QColor(255, 0, 0))
    painter.end()
    if QColor(image.pixel(8, 8)).red() != 255:
        raise RuntimeError("Qt did not paint")
    from samcut.gui.qt_check import binding_defect

    defect = binding_defect()
    if defect is not None:
        raise RuntimeError(defect)
    del app
    return qVersion()


def run(models: Path | None = None, with_qt: bool = True) -> int:
    from samcut.models.engine import Prompt, SamEngine
    from samcut.models.store.choice import require_chosen_model
    from samcut.models.version import version_string

    started = time.perf_counter()
    try:
        from samcut.models.document.preferences import Preferences, compiled_graphs_dir

        preferences = Preferences.load()
        folder = require_chosen_model(models)  # the model the app uses
        t0 = time.perf_counter()
        engine = SamEngine(folder, precision=preferences.precision, compile_cache=compiled_graphs_dir(),
                           strict=False)  # as the app loads it
        load_ms = (time.perf_counter() - t0) * 1000
        image = built_in_image()
        t0 = time.perf_counter()
        embedding = engine.encode(image)
        encode_ms = (time.perf_counter() - t0) * 1000
        if embedding.features.shape != (1, 256, 64, 64) or not np.isfinite(embedding.features).all():
            raise RuntimeError(f"bad embedding {embedding.features.shape}")
        t0 = time.perf_counter()
        prediction = engine.decode(embedding, Prompt(points=[(170, 110)], labels=[1]))
        decode_ms = (time.perf_counter() - t0) * 1000
        if prediction.masks.shape != (3, 240, 320) or prediction.scores.shape != (3,):
            raise RuntimeError(f"bad masks {prediction.masks.shape}")
        if not prediction.masks.any():
            raise RuntimeError("no mask came back")
        qt = f", Qt {qt_check()}" if with_qt else ""
    except Exception as exc:  # noqa: BLE001 - the verdict names what failed
        from samcut.models.engine.errors import ModelError

        why = f"it needs a model, and {exc}" if isinstance(exc, ModelError) and "no model" in str(exc) else exc
        print(f"samcut {version_string()} self-test FAILED after {time.perf_counter() - started:.1f} s: {why}")
        return 1
    print(f"samcut {version_string()} self-test OK: model {folder.name} loaded in {load_ms:.0f} ms, "
          f"encode {encode_ms:.0f} ms ({engine.encoder_runtime}), decode {decode_ms:.0f} ms{qt}")
    return 0
