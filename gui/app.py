"""Start the desktop app: ``samcut [IMAGE]``."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from samcut.gui.engine_bridge import EngineBridge
from samcut.gui.main_window import MainWindow
from samcut.models.document.preferences import Preferences, cache_dir
from samcut.models.engine import ModelError, SamEngine
from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService
from samcut.models.store.registry import model_dir


def make_bridge(folder: Path, preferences: Preferences) -> EngineBridge:
    """Load the model and start the service; raises ``ModelError`` with a user-facing message."""
    engine = SamEngine(folder, threads=preferences.threads or None)
    model_id = engine.manifest.get("files", {}).get("encoder.onnx", {}).get("sha256", "unversioned")[:16]
    disk = EmbeddingDiskCache(cache_dir() / "embeddings", model_id, preferences.disk_cache) \
        if preferences.disk_cache else None
    return EngineBridge(SegmentationService(engine, preferences.memory_cache, disk))


def ensure_bridge(preferences: Preferences, folder: Path | None) -> EngineBridge | None:
    """The engine for the configured model; offers to install the model when there is none."""
    folder = folder or (Path(preferences.model_dir) if preferences.model_dir else model_dir())
    try:
        return make_bridge(folder, preferences)
    except ModelError:
        from samcut.gui.model_dialog import ModelDialog

        dialog = ModelDialog()
        if not (folder / "manifest.json").exists() and dialog.exec():
            try:
                return make_bridge(Path(dialog.model_folder), preferences)
            except ModelError as exc:
                first = exc
        QMessageBox.warning(None, "samcut: no model", f"{first}\n\nYou can look at images, but not select "
                                                      "objects, until a model is installed.")
        return None


def run(image: Path | None = None, models: Path | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("samcut")
    app.setOrganizationName("samcut")
    preferences = Preferences.load()
    bridge = ensure_bridge(preferences, models)
    window = MainWindow(bridge, preferences)
    window.show()
    if image is not None:
        window.open_path(image)
    return app.exec()
