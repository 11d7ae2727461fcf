"""The window's dialogs: Preferences, Help > Install Model…, About.

``window`` is the ``MainWindow`` (not imported here: the window imports this module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox

from samcut.gui.engine_bridge import make_bridge
from samcut.models.engine.errors import ModelError


def show_preferences(window: Any) -> None:  # noqa: ANN401 - MainWindow
    from samcut.gui.preferences_dialog import PreferencesDialog

    if PreferencesDialog(window.preferences, window).exec():
        window.files.save_preferences()


def install_model(window: Any) -> None:  # noqa: ANN401 - MainWindow
    """Help > Install Model…: the first-run dialog again; the installed model serves at once."""
    from samcut.gui.model_dialog import ModelDialog, remember_model

    dialog = ModelDialog(window)
    if not dialog.exec():
        return
    try:
        bridge = make_bridge(Path(dialog.model_folder), window.preferences)
    except ModelError as exc:
        window.show_error("The model could not be loaded", str(exc))
        return
    remember_model(window.preferences, Path(dialog.model_folder))
    if window.bridge is not None:
        window.bridge.close()
    window.attach_bridge(bridge)


def show_about(window: Any) -> None:  # noqa: ANN401 - MainWindow
    from samcut.gui.about import about_text

    manifest = window.bridge.service.engine.manifest if window.bridge is not None else None
    QMessageBox.about(window, "About samcut", about_text(manifest))
