"""samcut's main window: wires user input to the editor and draws what the editor holds.

Every decision (what a stroke means, whether a result is stale, which candidate, what undo does)
is the editor's (``samcut.models.editor``); files are ``FileActions``', zoomed regions the
``RegionController``'s, background work the ``TaskRunner``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QInputDialog, QMainWindow, QMessageBox, QWidget

from samcut.gui import dialogs
from samcut.gui.actions import build_actions, build_view_group
from samcut.gui.canvas import ZOOM_STEP, Canvas
from samcut.gui.chrome import StatusPanel, build_toolbars
from samcut.gui.engine_bridge import EngineBridge
from samcut.gui.file_actions import FileActions
from samcut.gui.finder import FinderRun
from samcut.gui.hover import HoverPreview
from samcut.gui.model_menu import build_model_menu
from samcut.gui.quality_controller import QualityController
from samcut.gui.region_controller import RegionController
from samcut.gui.tasks import TaskRunner
from samcut.gui.view_modes import VIEW_MODES, VIEW_NAMES, next_view
from samcut.models.document.imageio import LoadedImage
from samcut.models.document.preferences import Preferences
from samcut.models.document.selection import Mode
from samcut.models.document.strokes import Stroke
from samcut.models.editor import Editor
from samcut.models.editor.editor import Change
from samcut.models.engine.service import DecodeResult
from samcut.models.store.choice import model_info

PROPOSAL_ACTIONS = ("commit", "commit_add", "commit_subtract", "commit_intersect", "next_candidate",
                    "prev_candidate", "drop")
IMAGE_ACTIONS = ("save_cutout", "save_mask", "copy_cutout", "select_all", "select_none", "subject", "invert", "grow",
                 "shrink", "feather", "smooth", "undo", "redo", "fit", "actual_size", "zoom_in", "zoom_out")


TOOL_HINTS = {
    "smart": "Smart Brush: click or paint over what you want, right-drag over what you do not; Enter applies",
    "box": "Box: drag a box around the object; Enter applies",
    "paint": "Paint: add pixels to the selection (right-drag erases); [ and ] change the size",
    "erase": "Erase: take pixels out of the selection (right-drag paints); [ and ] change the size",
    "refine": "Refine Brush: brush over hair, fur or blur and the image decides the edge's alpha there",
}


class MainWindow(QMainWindow):
    """The app window. ``bridge`` may be None until a model is installed."""

    def __init__(self, bridge: EngineBridge | None, preferences: Preferences | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge: EngineBridge | None = None
        self.preferences = preferences or Preferences.load()
        self.editor: Editor | None = None
        self.mode = Mode.REPLACE
        self._mode_before_hold: Mode | None = None  # the chosen mode while Shift/Alt hold another
        self.last_selection: np.ndarray | None = None  # this image's selection when it was last open
        self.runner = TaskRunner(self)
        self.close_hook: Callable[[], None] | None = None  # set while serving a host: closing cancels
        self.serving_named = ""  # the model a host request named, while it serves ("": the user's choice)
        self.setWindowTitle("samcut")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.actions_by_name = build_actions(self, {})
        self.bars = build_toolbars(self, self.actions_by_name, self.set_mode, self.set_tool)
        self.status = StatusPanel(self)
        self.runner.busyChanged.connect(self.status.work_bar.setVisible)
        self.files = FileActions(self, self.actions_by_name["recent_menu"])
        self.regions = RegionController(self.canvas, self.status, self)
        self.hover = HoverPreview(self, self.preferences.hover_preview)
        self.finder = FinderRun(self)
        self.quality = QualityController(self)
        self.model_menu = build_model_menu(self, self.actions_by_name["help_menu"])
        for name, handler in self._handlers().items():
            self.actions_by_name[name].triggered.connect(handler)
        self.canvas.strokeStarted.connect(self._on_stroke_started)
        self.canvas.strokeMoved.connect(lambda stroke: self._decode(live=stroke))
        self.canvas.strokeFinished.connect(self._on_stroke_finished)
        self.canvas.boxDrawn.connect(self._on_box)
        self.canvas.modeHeld.connect(lambda name: self.hold_mode(Mode(name)))
        self.canvas.brushFinished.connect(self._on_pixel_brush)
        self.canvas.viewChanged.connect(lambda: self.status.zoom_label.setText(f"{self.canvas.scale * 100:.0f}%"))
        for name, on, slot in (("auto_encode_view", True, lambda v: setattr(self.regions, "automatic", v)),
                               ("hover_preview", self.preferences.hover_preview, self._set_hover_preview),
                               ("decontaminate", self.preferences.decontaminate, self._set_decontaminate)):
            action = self.actions_by_name[name]
            action.setCheckable(True)
            action.setChecked(on)
            action.toggled.connect(slot)
        if bridge is not None:
            self.attach_bridge(bridge)
        view_menu = self.actions_by_name["view_menu"].menu()
        self.view_actions = build_view_group(self, view_menu, VIEW_MODES, self.set_view)
        self.set_view(self.preferences.view_mode if self.preferences.view_mode in VIEW_NAMES else "overlay",
                      remember=False)
        self.files.refresh_recent()
        self._redraw()
        if self.preferences.notice:
            self.status.say(self.preferences.notice, 15000)

    def attach_bridge(self, bridge: EngineBridge) -> None:
        """Connect the engine (it may arrive after the window is shown); encodes the open image."""
        self.bridge = bridge
        bridge.encodeStarted.connect(lambda _t: self.status.encoder("Encoding… (you can draw already)", busy=True))
        label = model_info(Path(bridge.service.model)).label  # which model answers: the status bar says
        bridge.encodeFinished.connect(lambda _t, ms, cached: self.status.encoder(
            f"Ready: {label} (encoding taken from the cache)" if cached
            else f"Ready: {label} (encoded in {ms / 1000:.2f} s)"))
        bridge.encodeFinished.connect(lambda _t, ms, cached: cached or self.quality.remember_time(
            bridge.service.model, ms / 1000))
        bridge.encodeFailed.connect(self._on_encode_failed)
        bridge.proposalReady.connect(self._on_proposal)
        bridge.decodeFailed.connect(lambda msg: self.show_error("The mask could not be computed", msg))
        notices = getattr(bridge.service.engine, "notices", [])
        if notices:  # a missing GPU provider, or bf16 asked for where it cannot run
            self.status.say("; ".join(notices), 20000)
        self.regions.attach(bridge)
        self.hover.attach(bridge)
        self.finder.attach(bridge)
        self.quality.attach(bridge)
        if self.editor is not None:
            bridge.open_image(self.editor.image.model_rgb())
        else:  # the status bar follows a model installed with no image open (Help > Install Model…)
            folder = getattr(bridge.service.engine, "model_dir", None)
            self.status.encoder(f"Model {folder.name if folder else ''} ready: open an image (Ctrl+O)")

    def _handlers(self) -> dict[str, Callable[[], None]]:
        f = self.files
        return {
            "open": f.open_dialog, "paste": f.paste_image, "save_cutout": lambda: f.save_dialog(cutout=True),
            "save_mask": lambda: f.save_dialog(cutout=False), "copy_cutout": f.copy_cutout, "quit": self.close,
            "undo": lambda: self._history_step(undo=True), "redo": lambda: self._history_step(undo=False),
            "commit": self.apply_proposal, "commit_add": lambda: self.commit(Mode.ADD),
            "commit_subtract": lambda: self.commit(Mode.SUBTRACT),
            "commit_intersect": lambda: self.commit(Mode.INTERSECT), "drop": self.drop_proposal,
            "next_candidate": lambda: self.cycle_candidate(1), "prev_candidate": lambda: self.cycle_candidate(-1),
            "brush_bigger": lambda: self._brush(1.25), "brush_smaller": lambda: self._brush(0.8),
            "preferences": lambda: dialogs.show_preferences(self), "select_all": lambda: self._edit("select_all"),
            "select_none": lambda: self._edit("select_none"),
            "reselect": lambda: self.last_selection is not None and self._edit("reselect", self.last_selection),
            "invert": lambda: self._edit("invert"),
            "grow": lambda: self._edit_px("grow", "Grow selection by"),
            "shrink": lambda: self._edit_px("shrink", "Shrink selection by"),
            "feather": lambda: self._edit_px("feather", "Feather selection edge by"),
            "smooth": lambda: self._edit_px("smooth", "Smooth selection by"),
            "fit": self.canvas.fit, "actual_size": self.canvas.actual_size,
            "zoom_in": lambda: self._zoom(ZOOM_STEP), "zoom_out": lambda: self._zoom(1 / ZOOM_STEP),
            "encode_view": lambda: self.regions.encode_view(force=True), "about": lambda: dialogs.show_about(self),
            "install_model": lambda: dialogs.install_model(self),
            "subject": self.select_subject,
            "cycle_view": lambda: self.set_view(next_view(self.canvas.view_mode)),
            "previous_view": lambda: self.set_view(next_view(self.canvas.view_mode, -1)),
        }

    # images ---------------------------------------------------------------------------------
    def set_image(self, image: LoadedImage, path: Path | None, model_rgb: np.ndarray | None = None,
                  last_selection: np.ndarray | None = None) -> None:
        """Show ``image`` at once and start encoding it (``model_rgb``: its composite, if made;
        ``last_selection``: what Select > Reselect brings back)."""
        self.editor = Editor(image, path)
        self.editor.snap_to_objects = self.hover.enabled
        self.editor.listeners.append(self._on_editor_change)
        self.last_selection = last_selection
        if last_selection is not None:
            self.status.say("This image's last selection is kept: Select > Reselect (Ctrl+Shift+D)", 10000)
        else:
            self.status.say(TOOL_HINTS[self.canvas.tool])
        self.regions.editor, self.regions.prompt_frame = self.editor, None
        self.canvas.set_image(image.rgb)
        h, w = image.size
        self.status.size_label.setText(f"{w} × {h}")
        self.status.decode_label.setText("")
        self.setWindowTitle(f"samcut — {path.name if path else 'pasted image'}")
        if self.bridge is not None:
            self.bridge.open_image(image.model_rgb() if model_rgb is None else model_rgb)
        else:
            self.status.encoder("Loading the model…")
        self._redraw()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        data = event.mimeData()
        local = [u.toLocalFile() for u in data.urls() if u.isLocalFile()]
        if local:
            self.files.open_path(Path(local[0]))
        elif data.hasImage():
            self.files.open_qimage(data.imageData(), "The dropped image")
        event.acceptProposedAction()

    # engine ---------------------------------------------------------------------------------
    def _on_encode_failed(self, _ticket: int, message: str) -> None:
        self.status.encoder("Encoding failed")
        self.show_error("The image could not be encoded", message)

    def _on_proposal(self, result: DecodeResult, revision: int) -> None:
        if self.editor is not None and self.editor.accept(revision, result) is not None:
            self.status.decode_label.setText(f"mask in {result.elapsed_ms:.0f} ms")

    def _decode(self, live: Stroke | None = None) -> None:
        """Ask for the proposal of the editor's prompt (with the stroke being drawn), answered by
        the model of the frame it is decoded in (the editor replays the prompt where that model
        did not answer the proposal its mask input comes from)."""
        if self.editor is None or self.bridge is None:
            return
        frame = self.regions.handle_for(self.editor.frame)
        request = self.editor.decode_request(live, frame.model if frame is not None else self.bridge.model)
        if request is not None:
            self.bridge.request_decode(request, frame)

    def replay_proposal(self) -> None:
        """Another model answers now (the quality model came, or the models were switched): the
        proposal shown is answered again by it, in place (``Editor.replay_request``)."""
        if self.editor is None or self.bridge is None:
            return
        frame = self.regions.handle_for(self.editor.frame)
        request = self.editor.replay_request(frame.model if frame is not None else self.bridge.model)
        if request is not None:
            self.bridge.request_decode(request, frame)

    def switch_models(self) -> None:
        """Load the chosen quick and quality models (Model menu) and go on with them: the open
        image is encoded again (usually from the cache) and the proposal answered again."""
        dialogs.load_chosen_models(self)

    # input ----------------------------------------------------------------------------------
    def _on_stroke_started(self, x: float, y: float) -> None:
        if self.editor is not None:
            self.editor.begin_stroke(self.regions.frame_at(x, y))

    def _on_stroke_finished(self, stroke: Stroke) -> None:
        if self.editor is not None:
            self.editor.add_stroke(stroke)  # (a click on a found object takes it: the editor's rule)
            if self.editor.awaiting_answer:
                self._decode()

    def select_subject(self) -> None:
        """Select > Subject: the Object Finder's main subject becomes the proposal (as if clicked)."""
        if self.editor is None:
            return
        found = self.finder.subject()
        if found is None:
            self.status.say("Still finding the image's objects… try again in a moment" if self.finder.objects is None
                            else "No object found in this image", 5000)
            return
        if self.bridge is not None:
            self.bridge.cancel_pending()
        self.editor.take_object(found)
        self._release_held_mode()
        if not found.passed:  # the finder's fallback: say so (finder.subject_note)
            self.status.say("Subject: a best guess (no object passed SAM's quality thresholds)", 6000)

    def _on_box(self, box: tuple[float, float, float, float]) -> None:
        if self.editor is not None:
            self.editor.set_box(box, self.regions.frame_at((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
            self._decode()

    def _on_pixel_brush(self, tool: str, path: np.ndarray, radius: float, add: bool) -> None:
        """A paint/erase or refine-brush stroke on the selection (one undo step each)."""
        if self.editor is not None:
            self.editor.refine_brush(path, radius) if tool == "refine" else self.editor.paint(path, radius, add)

    def _set_hover_preview(self, on: bool) -> None:
        """View > Hover Preview: what the pointer is on lights up, and a click takes it (the two go
        together: hover shows what a click gives)."""
        self.hover.set_enabled(on)
        if self.editor is not None:
            self.editor.snap_to_objects = on
        if self.preferences.hover_preview != on:
            self.preferences.hover_preview = on
            self.files.save_preferences()

    def set_view(self, mode: str, remember: bool = True) -> None:
        """Show the selection and proposal as view ``mode`` (F cycles); remembered for next time."""
        self.canvas.set_view_mode(mode)
        self.view_actions[mode].setChecked(True)
        label = dict(VIEW_MODES)[mode].replace("&", "")
        if remember:
            self.status.say(f"View: {label} (F for the next view)", 3000)
            if self.preferences.view_mode != mode:
                self.preferences.view_mode = mode
                self.files.save_preferences()

    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        self.bars.tool_actions[tool].setChecked(True)
        self.status.say(TOOL_HINTS[tool])  # what the tool does, until the next message

    def set_mode(self, mode: Mode) -> None:
        """The mode chosen in the toolbar or by key (R, A, S, I): it stays."""
        self._mode_before_hold = None
        self._show_mode(mode)

    def _show_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.bars.mode_actions[mode].setChecked(True)

    def hold_mode(self, mode: Mode) -> None:
        """Shift / Alt / Shift+Alt held as a stroke or box began: the proposal it makes is applied
        in ``mode``; once it is applied or dropped, the mode chosen before comes back."""
        if self._mode_before_hold is None:
            self._mode_before_hold = self.mode
        self._show_mode(mode)

    def _release_held_mode(self) -> None:
        if self._mode_before_hold is not None:
            before, self._mode_before_hold = self._mode_before_hold, None
            self._show_mode(before)

    # editing --------------------------------------------------------------------------------
    def cycle_candidate(self, step: int) -> None:
        if self.editor is not None:
            self.editor.cycle_candidate(step)

    def drop_proposal(self) -> None:
        if self.editor is not None:
            if self.bridge is not None:
                self.bridge.cancel_pending()
            self.editor.drop_proposal()
            self._release_held_mode()

    def apply_proposal(self) -> None:
        """Apply the proposal in the current mode (Enter)."""
        self.commit(self.mode)

    def commit(self, mode: Mode) -> None:
        if self.editor is not None and self.editor.proposal is not None:
            if self.bridge is not None:
                self.bridge.cancel_pending()
            self.editor.commit(mode, refine=self.bars.refine_action.isChecked())
            self._release_held_mode()

    def _edit(self, name: str, *args: object) -> None:
        if self.editor is not None:
            getattr(self.editor, name)(*args)

    def _edit_px(self, name: str, prompt: str) -> None:
        if self.editor is not None:
            pixels, ok = QInputDialog.getInt(self, name.capitalize(), f"{prompt} (pixels):", 4, 1, 500)
            if ok:
                self._edit(name, pixels)

    def _history_step(self, undo: bool) -> None:
        """Undo or redo one step of the editor's timeline; a prompt it restores is decoded again."""
        if self.editor is None:
            return
        self.editor.undo() if undo else self.editor.redo()
        if self.editor.awaiting_answer:  # a prompt came back without its proposal: the editor says so
            self._decode()

    # drawing ---------------------------------------------------------------------------------
    def _on_editor_change(self, change: Change) -> None:
        """The editor announced a change: draw what it names (the selection only when it changed)."""
        self._redraw(selection="selection" in change.parts)

    def _redraw(self, selection: bool = True) -> None:
        """Show the editor's proposal and (unless only the proposal changed) its selection, and
        enable what applies."""
        editor = self.editor
        proposal = editor.proposal if editor is not None else None
        if selection:
            self.canvas.set_selection(editor.selection if editor is not None else None)
        self.canvas.set_proposal(proposal)
        self.canvas.set_trail(editor.prompt.strokes if editor is not None else ())
        self.bars.candidate_label.setText("" if proposal is None else
                                          f"  Candidate {proposal.chosen + 1}/{proposal.count} · "
                                          f"score {proposal.score:.2f}  ")
        for name in IMAGE_ACTIONS:
            self.actions_by_name[name].setEnabled(editor is not None)
        for name in PROPOSAL_ACTIONS:
            self.actions_by_name[name].setEnabled(proposal is not None)
        # strokes drawn before any proposal arrived (still encoding) can be dropped too
        self.actions_by_name["drop"].setEnabled(editor is not None and not editor.prompt.empty)
        self.actions_by_name["reselect"].setEnabled(editor is not None and self.last_selection is not None)
        if editor is not None:
            self.actions_by_name["undo"].setEnabled(editor.history.can_undo)
            self.actions_by_name["redo"].setEnabled(editor.history.can_redo)

    def _brush(self, factor: float) -> None:
        self.canvas.brush_radius = int(np.clip(self.canvas.brush_radius * factor, 2, 200))
        self.canvas.update()

    def _zoom(self, factor: float) -> None:
        self.canvas.zoom_about(QPointF(self.canvas.width() / 2, self.canvas.height() / 2), factor)

    def _set_decontaminate(self, on: bool) -> None:
        self.preferences.decontaminate = on
        self.files.save_preferences()

    def show_error(self, title: str, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.close_hook is not None:  # serving a host: closing the window means Cancel
            self.close_hook()
            event.ignore()
            return
        if not self.files.when_work_is_safe(lambda: None, after_save=self.close):
            event.ignore()  # cancelled, or saving first (a successful save closes the window)
            return
        self.regions.stop()
        self.files.remember_selection(wait=True)
        if self.bridge is not None:
            self.bridge.close()
        self.runner.shutdown()
        super().closeEvent(event)
