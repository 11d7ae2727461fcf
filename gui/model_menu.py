"""The Model menu: which installed model answers first (quick) and which takes over in the
background once it has encoded the image (quality), and installing more of the catalogue.

The choice is stored by ``models.store.choice`` (the one stored choice the CLI and hosts use too);
choosing here loads the models at once (``window.switch_models``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMainWindow, QMenu

from samcut.models.store.catalogue import CATALOGUE, ModelSpec
from samcut.models.store.choice import (
    chosen_model_dir,
    chosen_quality_dir,
    model_info,
    remember_choice,
    remember_quality,
)
from samcut.models.store.registry import installed_models, models_root


def cost_text(folder: Path, measured: dict[str, float]) -> str:
    """What an encode costs with the model in ``folder``: measured here, else the catalogue's 2-vCPU figure."""
    seconds = measured.get(str(folder))
    if seconds:
        return f"{seconds:.1f} s per image here"
    estimate = model_info(folder).encode_s
    return f"about {estimate:.1f} s per image" if estimate else "encode time not known yet"


class ModelMenu:
    """Builds the menu each time it opens (models may have been installed meanwhile)."""

    def __init__(self, window: Any, before: QAction) -> None:  # noqa: ANN401 - MainWindow
        self.window = window
        self.menu = QMenu("&Model", window)
        window.menuBar().insertMenu(before, self.menu)
        self.menu.aboutToShow.connect(self.rebuild)
        self.actions: dict[str, QAction] = {}  # "quick:<folder>", "quality:<folder>", "quality:", "install:<name>"
        self.rebuild()

    def _folders(self) -> list[Path]:
        folders = [m.path for m in installed_models() if not m.damaged]
        bridge = self.window.bridge
        current = getattr(bridge.service.engine, "model_dir", None) if bridge is not None else None
        if current is not None and Path(current) not in folders:
            folders.insert(0, Path(current))  # (a folder named with --models or $SAMCUT_MODEL_DIR)
        return folders

    def _group(self, title: str, entries: list[tuple[str, str, bool, Callable[[], None]]]) -> None:
        header = self.menu.addAction(title)
        header.setEnabled(False)
        group = QActionGroup(self.menu)
        for key, text, checked, slot in entries:
            action = QAction(text, self.menu, checkable=True, checked=checked)
            action.triggered.connect(slot)
            group.addAction(action)
            self.menu.addAction(action)
            self.actions[key] = action

    def rebuild(self) -> None:
        self.menu.clear()
        self.actions.clear()
        prefs = self.window.preferences
        folders = self._folders()
        bridge = self.window.bridge  # what runs is checked (else what is chosen)
        running = getattr(bridge.service.engine, "model_dir", None) if bridge is not None else None
        quick = Path(running) if running is not None else chosen_model_dir(None, prefs)
        if bridge is not None:
            quality = Path(bridge.service.quality.name) if bridge.service.quality is not None else None
        else:
            quality = chosen_quality_dir(prefs, quick)

        def entry(kind: str, folder: Path, chosen: Path | None) -> tuple[str, str, bool, Callable[[], None]]:
            text = f"{model_info(folder).label}  ({cost_text(folder, prefs.encode_times)})"
            return f"{kind}:{folder}", text, chosen is not None and folder == chosen, \
                lambda: self.choose(kind, folder)

        self._group("Quick model: answers first", [entry("quick", f, quick) for f in folders])
        self.menu.addSeparator()
        self._group("Quality model: takes over in the background",
                    [("quality:", "None", quality is None, lambda: self.choose("quality", None))]
                    + [entry("quality", f, quality) for f in folders if f != quick])
        self.menu.addSeparator()
        installable = [s for s in CATALOGUE if not (models_root() / s.name / "manifest.json").is_file()]
        if installable:
            sub = self.menu.addMenu("Install as &Quality Model")
            for spec in installable:
                action = sub.addAction(f"{spec.label} ({spec.download_mb:,.0f} MB download)")
                action.triggered.connect(lambda _checked=False, s=spec: self.install(s))
                self.actions[f"install:{spec.name}"] = action

    def choose(self, kind: str, folder: Path | None) -> None:
        """Make ``folder`` the quick or quality model (None: no quality model) and load it now."""
        prefs = self.window.preferences
        if kind == "quick":
            remember_choice(prefs, folder)
        else:
            remember_quality(prefs, folder)
        self.window.switch_models()

    def install(self, spec: ModelSpec) -> None:
        """Install ``spec`` (download or file, with progress) and make it the quality model."""
        from samcut.gui.model_dialog import ModelDialog

        dialog = ModelDialog(self.window, spec)
        if dialog.exec() and dialog.model_folder:
            self.choose("quality", Path(dialog.model_folder))


def build_model_menu(window: QMainWindow, before: QAction) -> ModelMenu:
    """The Model menu, placed before ``before`` (the Help menu's action)."""
    return ModelMenu(window, before)
