"""samcut's main window: wires the canvas, the document and the engine bridge together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QWidget,
)

from samcut.gui.actions import build_actions, build_mode_group, build_tool_group
from samcut.gui.canvas import ZOOM_STEP, Canvas
from samcut.gui.engine_bridge import EngineBridge
from samcut.gui.qimage import qimage_to_rgba, rgba_to_qimage
from samcut.gui.region_controller import RegionController
from samcut.models.document.cutout import cutout_rgba
from samcut.models.document.document import Document
from samcut.models.document.imageio import ImageError, LoadedImage, check_pixels, load_image
from samcut.models.document.preferences import Preferences
from samcut.models.document.selection import Mode
from samcut.models.document.strokes import Stroke
from samcut.models.engine.service import DecodeResult

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp *.gif);;All files (*)"


class MainWindow(QMainWindow):
    """The app window. ``bridge`` may be None until a model is installed."""

    _backgroundDone = Signal(object, object)  # (callback, error or None), from a save thread

    def __init__(self, bridge: EngineBridge | None, preferences: Preferences | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.preferences = preferences or Preferences.load()
        self.document: Document | None = None
        self.mode = Mode.REPLACE
        self._threads: list[threading.Thread] = []
        self.close_hook: Callable[[], None] | None = None  # set while serving a host: closing cancels
        self.setWindowTitle("samcut")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.actions_by_name = build_actions(self, self._handlers())
        self._build_toolbar()
        self._build_status_bar()
        self._backgroundDone.connect(lambda callback, error: callback(error))
        self.canvas.strokeStarted.connect(self._on_stroke_started)
        self.canvas.strokeMoved.connect(self._on_stroke_moved)
        self.canvas.strokeFinished.connect(self._on_stroke_finished)
        self.canvas.boxDrawn.connect(self._on_box)
        self.canvas.brushFinished.connect(self._on_pixel_brush)
        self.canvas.viewChanged.connect(self._update_zoom_label)
        self.regions = RegionController(self)
        auto = self.actions_by_name["auto_encode_view"]
        auto.setCheckable(True)
        auto.setChecked(True)
        auto.toggled.connect(lambda on: setattr(self.regions, "automatic", on))
        decontaminate = self.actions_by_name["decontaminate"]
        decontaminate.setCheckable(True)
        decontaminate.setChecked(self.preferences.decontaminate)
        decontaminate.toggled.connect(self._set_decontaminate)
        if bridge is not None:
            self.attach_bridge(bridge)
        self._refresh_recent()
        self._update_actions()

    def attach_bridge(self, bridge: EngineBridge) -> None:
        """Connect the engine (it may arrive after the window is shown); encodes the open image."""
        self.bridge = bridge
        bridge.encodeStarted.connect(self._on_encode_started)
        bridge.encodeFinished.connect(self._on_encode_finished)
        bridge.encodeFailed.connect(self._on_encode_failed)
        bridge.proposalReady.connect(self._on_proposal)
        bridge.decodeFailed.connect(lambda msg: self._error("The mask could not be computed", msg))
        self.regions.attach()
        if self.document is not None:
            bridge.open_image(self.document.image.model_rgb())

    # construction --------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Callable[[], None]]:
        return {
            "open": self.open_dialog, "paste": self.paste_image, "save_cutout": self.save_cutout_dialog,
            "save_mask": self.save_mask_dialog, "copy_cutout": self.copy_cutout, "quit": self.close,
            "undo": self.undo, "redo": self.redo, "commit": lambda: self.commit(self.mode),
            "commit_add": lambda: self.commit(Mode.ADD), "commit_subtract": lambda: self.commit(Mode.SUBTRACT),
            "commit_intersect": lambda: self.commit(Mode.INTERSECT), "drop": self.drop_proposal,
            "next_candidate": lambda: self.cycle_candidate(1), "prev_candidate": lambda: self.cycle_candidate(-1),
            "brush_bigger": lambda: self._brush(1.25), "brush_smaller": lambda: self._brush(0.8),
            "preferences": self.show_preferences, "select_all": lambda: self._edit("select_all"),
            "select_none": lambda: self._edit("select_none"), "invert": lambda: self._edit("invert"),
            "grow": lambda: self._edit_px("grow", "Grow selection by"),
            "shrink": lambda: self._edit_px("shrink", "Shrink selection by"),
            "feather": lambda: self._edit_px("feather", "Feather selection edge by"),
            "smooth": lambda: self._edit_px("smooth", "Smooth selection by"),
            "fit": self.canvas.fit, "actual_size": self.canvas.actual_size,
            "zoom_in": lambda: self._zoom(ZOOM_STEP), "zoom_out": lambda: self._zoom(1 / ZOOM_STEP),
            "encode_view": lambda: self.regions.encode_view(force=True),
            "about": self.show_about,
        }

    def _build_toolbar(self) -> None:
        bar = QToolBar("Tools", self)
        bar.setObjectName("tools")
        bar.setMovable(False)
        self.addToolBar(bar)
        for name in ("open", "save_cutout", "undo", "redo"):
            bar.addAction(self.actions_by_name[name])
        bar.addSeparator()
        bar.addWidget(QLabel(" Mode: "))
        self.mode_group, self.mode_actions = build_mode_group(self, self.set_mode)
        for action in self.mode_group.actions():
            bar.addAction(action)
        # The tools in a palette on the left, as in image editors.
        palette = QToolBar("Tool palette", self)
        palette.setObjectName("palette")
        palette.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, palette)
        self.tool_actions = build_tool_group(self, self.set_tool)
        for action in self.tool_actions.values():
            palette.addAction(action)
        palette.addSeparator()
        self.refine_action = palette.addAction("Refine Edges")
        self.refine_action.setCheckable(True)
        self.refine_action.setChecked(True)
        self.refine_action.setShortcut("E")
        self.refine_action.setStatusTip("Snap applied proposals to the image's edges at full resolution (E)")
        bar.addSeparator()
        bar.addAction(self.actions_by_name["commit"])
        bar.addAction(self.actions_by_name["drop"])
        bar.addAction(self.actions_by_name["next_candidate"])
        self.candidate_label = QLabel("")
        bar.addWidget(self.candidate_label)
        self.host_toolbar = QToolBar("Host", self)
        self.host_toolbar.setObjectName("host")
        self.host_toolbar.setMovable(False)
        self.host_toolbar.setVisible(False)
        self.addToolBar(self.host_toolbar)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.size_label = QLabel("")
        self.encoder_label = QLabel("No image")
        self.encode_bar = QProgressBar()
        self.encode_bar.setRange(0, 0)
        self.encode_bar.setMaximumWidth(120)
        self.encode_bar.setVisible(False)
        self.decode_label = QLabel("")
        self.zoom_label = QLabel("")
        for widget in (self.size_label, self.encoder_label, self.encode_bar, self.decode_label):
            status.addWidget(widget)
        status.addPermanentWidget(self.zoom_label)

    # images ---------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(Path(self.preferences.recent_files[0]).parent) if self.preferences.recent_files else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open an image file once unsaved work is saved or given up; on failure show why and keep the
        current document. Returns whether the image is open now."""
        try:
            image = load_image(path)
        except ImageError as exc:
            self._error("Cannot open this image", str(exc))
            return False

        def show() -> None:
            self.preferences.add_recent(path)
            self._save_preferences()
            self._refresh_recent()
            self.set_image(image, path)

        return self.when_work_is_safe(show)

    def paste_image(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self._error("Nothing to paste", "The clipboard holds no image.")
            return
        self._open_qimage(image, "The pasted image")

    def _open_qimage(self, image: QImage, label: str) -> None:
        """A pasted or dropped image, within the same pixel limit as files."""
        try:
            check_pixels(image.width(), image.height(), label)
        except ImageError as exc:
            self._error("Cannot open this image", str(exc))
            return
        self.when_work_is_safe(lambda: self.set_image(LoadedImage.from_rgba(qimage_to_rgba(image)), None))

    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Save / Discard / Cancel for the open image's unsaved selection (Save is the default)."""
        doc = self.document
        name = doc.path.name if doc is not None and doc.path else "the pasted image"
        pending = " and a proposal not applied yet" if doc is not None and not doc.prompt.empty else ""
        box = QMessageBox(QMessageBox.Icon.Warning, "Save changes?",
                          f"The selection on {name}{pending} has not been saved.",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("Save the cutout before going on? Discarding loses the selection.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        return QMessageBox.StandardButton(box.exec())

    def when_work_is_safe(self, then: Callable[[], None], after_save: Callable[[], None] | None = None) -> bool:
        """Run ``then`` (which replaces or closes the image) now if nothing would be lost or the user
        discards; after a save (``after_save``, default ``then``, once the cutout is written) if the
        user saves; nothing on Cancel. Returns whether ``then`` ran now."""
        doc = self.document
        if doc is None or not doc.unsaved or self.close_hook is not None:
            then()
            return True
        choice = self.ask_unsaved()
        if choice == QMessageBox.StandardButton.Discard:
            then()
            return True
        if choice == QMessageBox.StandardButton.Save:
            if doc.proposal is not None:
                self.commit(self.mode)  # what the user sees is what gets saved
            self._save_dialog(cutout=True, then=after_save or then)
        return False

    def set_image(self, image: LoadedImage, path: Path | None) -> None:
        """Show ``image`` at once and start encoding it in the background."""
        self.document = Document(image, path)
        self.canvas.set_image(image.rgb)
        self.canvas.set_selection(self.document.selection)
        h, w = image.size
        self.size_label.setText(f"{w} × {h}")
        self.setWindowTitle(f"samcut — {path.name if path else 'pasted image'}")
        self.candidate_label.setText("")
        self.decode_label.setText("")
        if self.bridge is not None:
            self.bridge.open_image(image.model_rgb())
        else:
            self.encoder_label.setText("Loading the model…")
        self._update_actions()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        data = event.mimeData()
        local = [u.toLocalFile() for u in data.urls() if u.isLocalFile()]
        if local:
            self.open_path(Path(local[0]))
        elif data.hasImage():
            self._open_qimage(data.imageData(), "The dropped image")
        event.acceptProposedAction()

    def _refresh_recent(self) -> None:
        menu = self.actions_by_name["recent_menu"].menu()
        menu.clear()
        for entry in self.preferences.recent_files:
            action = menu.addAction(Path(entry).name)
            action.setToolTip(entry)
            action.triggered.connect(lambda _c=False, p=entry: self.open_path(Path(p)))
        menu.setEnabled(bool(self.preferences.recent_files))

    # engine events -------------------------------------------------------------------------
    def _on_encode_started(self, _ticket: int) -> None:
        self.encoder_label.setText("Encoding… (you can draw already)")
        self.encode_bar.setVisible(True)

    def _on_encode_finished(self, _ticket: int, ms: float) -> None:
        self.encode_bar.setVisible(False)
        self.encoder_label.setText(f"Ready (encoded in {ms / 1000:.2f} s)")

    def _on_encode_failed(self, _ticket: int, message: str) -> None:
        self.encode_bar.setVisible(False)
        self.encoder_label.setText("Encoding failed")
        self._error("The image could not be encoded", message)

    def _on_proposal(self, result: DecodeResult) -> None:
        if self.document is None or result.origin != self.document.frame_origin:
            return  # no document, or a late answer for a prompt that used another frame
        self.document.set_proposal(result.low_res_logits, result.scores, result.default, result.input_size,
                                   result.original_size, result.origin)
        self.decode_label.setText(f"mask in {result.elapsed_ms:.0f} ms")
        self._show_proposal()

    def _show_proposal(self) -> None:
        proposal = self.document.proposal if self.document else None
        self.canvas.set_proposal(proposal)
        if proposal is None:
            self.candidate_label.setText("")
        else:
            self.candidate_label.setText(f"  Candidate {proposal.chosen + 1}/{proposal.count} · "
                                         f"score {proposal.score:.2f}  ")
        self._update_actions()

    # strokes -------------------------------------------------------------------------------
    def _decode(self, live: Stroke | None = None) -> None:
        if self.document is None or self.bridge is None:
            return
        if self.document.prompt.empty and live is None:
            self.document.proposal = None
            self._show_proposal()
            return
        self.bridge.request_decode(self.document.engine_prompt(live), self.regions.decode_frame())

    def _on_stroke_started(self, x: float, y: float) -> None:
        if self.document is not None:
            self.document.begin_stroke(self.regions.frame_at(x, y))

    def _on_stroke_moved(self, stroke: Stroke) -> None:
        self._decode(live=stroke)

    def _on_stroke_finished(self, stroke: Stroke) -> None:
        if self.document is None:
            return
        self.document.add_stroke(stroke)
        self._decode()

    def _on_box(self, box: tuple[float, float, float, float]) -> None:
        if self.document is None:
            return
        self.document.set_box(box, self.regions.frame_at((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
        self._decode()

    def cycle_candidate(self, step: int) -> None:
        if self.document is not None and self.document.cycle_candidate(step) is not None:
            self._show_proposal()

    def drop_proposal(self) -> None:
        if self.document is None:
            return
        if self.bridge is not None:
            self.bridge.cancel_pending()
        self.document.drop_proposal()
        self._show_proposal()

    # selection -------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        self.tool_actions[tool].setChecked(True)

    def _on_pixel_brush(self, tool: str, path: np.ndarray, radius: float, add: bool) -> None:
        """A paint/erase or refine-brush stroke on the selection (one undo step each)."""
        if self.document is None:
            return
        if tool == "refine":
            self.document.refine_brush(path, radius)
        else:
            self.document.paint(path, radius, add)
        self._after_selection_change()

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.mode_actions[mode].setChecked(True)

    def commit(self, mode: Mode) -> None:
        if self.document is None or self.document.proposal is None:
            return
        if self.bridge is not None:
            self.bridge.cancel_pending()
        self.document.commit(mode, refine=self.refine_action.isChecked())
        self._after_selection_change()

    def _edit(self, name: str, *args: float) -> None:
        if self.document is None:
            return
        getattr(self.document, name)(*args)
        self._after_selection_change()

    def _edit_px(self, name: str, prompt: str) -> None:
        if self.document is None:
            return
        pixels, ok = QInputDialog.getInt(self, name.capitalize(), f"{prompt} (pixels):", 4, 1, 500)
        if ok:
            self._edit(name, pixels)

    def undo(self) -> None:
        self._history_step("undo")

    def redo(self) -> None:
        self._history_step("redo")

    def _history_step(self, which: str) -> None:
        """Undo or redo in the document; a stroke step asks for a new proposal."""
        if self.document is None:
            return
        if getattr(self.document, which)() == "stroke":
            self._decode()
        self._after_selection_change()

    def _after_selection_change(self) -> None:
        self.canvas.set_selection(self.document.selection)
        self._show_proposal()

    # export ----------------------------------------------------------------------------------
    def _default_name(self, suffix: str) -> str:
        base = self.document.path if self.document and self.document.path else Path("image.png")
        return str(base.with_name(f"{base.stem}-{suffix}.png"))

    def save_cutout_dialog(self) -> None:
        self._save_dialog(cutout=True)

    def save_mask_dialog(self) -> None:
        self._save_dialog(cutout=False)

    def _save_dialog(self, cutout: bool, then: Callable[[], None] | None = None) -> None:
        if self.document is None:
            return
        kind = "cutout" if cutout else "mask"
        path, _ = QFileDialog.getSaveFileName(self, f"Save {kind}", self._default_name(kind), "PNG (*.png)")
        if path:
            self.save_in_background(Path(path), cutout=cutout, then=then)

    def save_in_background(self, path: Path, cutout: bool, then: Callable[[], None] | None = None) -> threading.Thread:
        """Write the cutout or mask atomically in a worker thread; the status bar shows progress.
        Once written, the selection counts as saved and ``then`` runs (not when the write failed)."""
        from samcut.models.document.cutout import save_cutout, save_mask

        doc = self.document
        assert doc is not None
        selection_saved = doc.selection  # replaced, never changed in place, by later edits
        selection = selection_saved.copy()
        rgb, alpha = doc.image.rgb, doc.image.alpha
        clean = self.preferences.decontaminate
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setMaximumWidth(120)
        self.statusBar().addWidget(bar)
        self.statusBar().showMessage(f"Saving {path.name}…")

        def work() -> None:
            try:
                if cutout:
                    save_cutout(path, rgb, selection, alpha, clean)
                else:
                    save_mask(path, selection)
                error = None
            except OSError as exc:
                error = exc
            self._backgroundDone.emit(lambda err: finish(err), error)

        def finish(error: OSError | None) -> None:
            self.statusBar().removeWidget(bar)
            bar.deleteLater()
            if error is not None:
                self.statusBar().clearMessage()
                self._error(f"Could not save {path.name}", f"{error}. Nothing was overwritten.")
            else:
                self.statusBar().showMessage(f"Saved {path}", 5000)
                if self.document is doc:
                    doc.mark_saved(selection_saved)
                if then is not None:
                    then()

        thread = threading.Thread(target=work, name="samcut-save", daemon=False)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def copy_cutout(self) -> None:
        """Put the cutout (with its alpha) on the clipboard; Qt offers it as image/png to other apps.

        (``QClipboard.setImage``, not a Python-made ``QMimeData``: PySide6 keeps ownership of the
        latter and the app crashes at exit when both free it.)
        """
        if self.document is None:
            return
        rgba = cutout_rgba(self.document.image.rgb, self.document.selection, self.document.image.alpha,
                           self.preferences.decontaminate)
        QGuiApplication.clipboard().setImage(rgba_to_qimage(rgba))
        self.statusBar().showMessage("Cutout copied to the clipboard", 3000)

    def _set_decontaminate(self, on: bool) -> None:
        self.preferences.decontaminate = on
        self._save_preferences()

    # misc ------------------------------------------------------------------------------------
    def _brush(self, factor: float) -> None:
        self.canvas.brush_radius = int(np.clip(self.canvas.brush_radius * factor, 2, 200))
        self.canvas.update()

    def _zoom(self, factor: float) -> None:
        self.canvas.zoom_about(QPointF(self.canvas.width() / 2, self.canvas.height() / 2), factor)

    def _update_zoom_label(self) -> None:
        self.zoom_label.setText(f"{self.canvas.scale * 100:.0f}%")

    def _update_actions(self) -> None:
        has_doc = self.document is not None
        has_proposal = has_doc and self.document.proposal is not None
        for name in ("save_cutout", "save_mask", "copy_cutout", "select_all", "select_none", "invert", "grow",
                     "shrink", "feather", "smooth", "undo", "redo", "fit", "actual_size", "zoom_in", "zoom_out"):
            self.actions_by_name[name].setEnabled(has_doc)
        for name in ("commit", "commit_add", "commit_subtract", "commit_intersect", "next_candidate",
                     "prev_candidate", "drop"):
            self.actions_by_name[name].setEnabled(has_proposal)

    def _error(self, title: str, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()

    def _save_preferences(self) -> None:
        try:
            self.preferences.save()
        except OSError:
            pass  # preferences are a convenience; failing to store them must not stop the user

    def show_preferences(self) -> None:
        from samcut.gui.preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(self.preferences, self)
        if dialog.exec():
            self._save_preferences()

    def show_about(self) -> None:
        from samcut.gui.about import about_text

        QMessageBox.about(self, "About samcut", about_text())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.close_hook is not None:  # serving a host: closing the window means Cancel
            self.close_hook()
            event.ignore()
            return
        if not self.when_work_is_safe(lambda: None, after_save=self.close):
            event.ignore()  # cancelled, or saving first (a successful save closes the window)
            return
        self.regions.stop()
        if self.bridge is not None:
            self.bridge.close()
        for thread in self._threads:
            thread.join()
        super().closeEvent(event)
