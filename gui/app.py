"""Start the desktop app: ``samcut [IMAGE]``.

The window is shown first; ONNX Runtime and the model load right after the first paint.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from samcut.gui.engine_bridge import make_bridge
from samcut.gui.main_window import MainWindow
from samcut.gui.qt_check import binding_defect
from samcut.models.document.preferences import Preferences
from samcut.models.store.choice import chosen_model_dir, no_model_message

STARTUP_PROBE_ENV = "SAMCUT_STARTUP_PROBE"  # tests and CI: write start-up time + screenshot, then quit


def ensure_bridge(preferences: Preferences, folder: Path | None):  # noqa: ANN201
    """The engine for the configured model; offers to install the model when there is none."""
    from samcut.models.engine import ModelError

    folder = chosen_model_dir(folder, preferences)
    try:
        return make_bridge(folder, preferences)
    except ModelError as first:
        from samcut.gui.model_dialog import ModelDialog, remember_model

        error = no_model_message(folder, gui=True) if not folder.is_dir() else str(first)
        dialog = ModelDialog()
        if not (folder / "manifest.json").exists() and dialog.exec():
            try:
                bridge = make_bridge(Path(dialog.model_folder), preferences)
                remember_model(preferences, Path(dialog.model_folder))
                return bridge
            except ModelError as exc:
                error = str(exc)
        QMessageBox.warning(None, "samcut: no model", f"{error}\n\nYou can look at images, but not select "
                                                      "objects, until a model is installed.")
        return None


def _startup_probe(window: MainWindow, target: str, started: float) -> None:
    shown = time.time()
    window.grab().save(f"{target}.png")
    Path(target).write_text(json.dumps({"shown_epoch": shown, "since_import_ms": (shown - started) * 1000}))
    QApplication.quit()


def return_freed_memory_to_the_system() -> None:
    """glibc: serve every allocation of 1 MB or more with its own mapping, so that a freed image,
    mask or refinement buffer goes back to the system at once instead of staying in the heap
    (glibc's adaptive threshold otherwise grows to 32 MB after the first large free). About
    100-150 MB less resident memory once a 12 MP photo has been worked on."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):
            pass  # not glibc (musl, ...): nothing to tune


def run(image: Path | None = None, models: Path | None = None) -> int:
    started = time.time()
    return_freed_memory_to_the_system()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("samcut")
    app.setOrganizationName("samcut")
    defect = binding_defect()
    if defect is not None:  # refuse to start rather than crash in the middle of the user's work
        print(f"samcut: {defect}", file=sys.stderr)
        QMessageBox.critical(None, "samcut cannot start", defect)
        return 3
    preferences = Preferences.load()
    window = MainWindow(None, preferences)
    window.show()
    probe = os.environ.get(STARTUP_PROBE_ENV)

    def after_first_paint() -> None:
        if probe:
            _startup_probe(window, probe, started)
            return
        bridge = ensure_bridge(preferences, models)
        if bridge is not None:
            window.attach_bridge(bridge)
        else:
            window.status.encoder("No model installed: Help > Install Model…")

    if image is not None:
        window.files.open_path(image)
    QTimer.singleShot(0, after_first_paint)
    return app.exec()
