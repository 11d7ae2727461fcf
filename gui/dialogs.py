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


def load_chosen_models(window: Any) -> None:  # noqa: ANN401 - MainWindow
    """The Model menu's choice: load the stored quick and quality models and serve with them
    (an error keeps the models that serve now)."""
    from samcut.models.store.choice import chosen_model_dir

    try:
        bridge = make_bridge(chosen_model_dir(None, window.preferences), window.preferences)
    except ModelError as exc:
        window.show_error("The model could not be loaded", str(exc))
        return
    _serve_with(window, bridge, "")


def load_named_model(window: Any, named: str) -> None:  # noqa: ANN401 - MainWindow
    """A host request names its model (``Request.model``: "quality", a name or a folder): that model
    alone answers it ("": the user's quick and quality models again). Nothing changes when it
    serves already; ``ModelError`` when it cannot be loaded (the request is refused with it)."""
    from samcut.models.store.choice import answering_model

    if named == window.serving_named:
        return
    if not named:
        bridge = make_bridge(answering_model(None, None, window.preferences), window.preferences)
    else:
        bridge = make_bridge(answering_model(None, named, window.preferences), window.preferences, quality=False)
    _serve_with(window, bridge, named)


def _serve_with(window: Any, bridge: Any, named: str) -> None:  # noqa: ANN401 - MainWindow, EngineBridge
    if window.bridge is not None:
        window.bridge.close()
    window.serving_named = named
    window.attach_bridge(bridge)
    window.replay_proposal()


def show_about(window: Any) -> None:  # noqa: ANN401 - MainWindow
    from samcut.gui.about import about_text

    manifest = window.bridge.service.engine.manifest if window.bridge is not None else None
    QMessageBox.about(window, "About samcut", about_text(manifest))
