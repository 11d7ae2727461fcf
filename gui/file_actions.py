"""Files for the window: open (decoded off the GUI thread), paste, drop, recent files, save, copy,
and the Save / Discard / Cancel question before unsaved work would be replaced."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from samcut.gui.chrome import StatusPanel
from samcut.gui.qimage import qimage_to_rgba, rgba_to_qimage
from samcut.gui.tasks import Task, TaskRunner
from samcut.models.document.cutout import cutout_rgba, output_extensions, output_format, save_cutout, save_mask
from samcut.models.document.imageio import ImageError, LoadedImage, check_pixels, load_image
from samcut.models.document.preferences import Preferences, cache_dir
from samcut.models.document.selection_memory import SelectionMemory
from samcut.models.editor import Editor

_FORMAT_NAMES = {".png": "PNG", ".tif": "TIFF", ".webp": "WebP (lossless)", ".bmp": "BMP"}


def save_filters(cutout: bool) -> str:
    """The save dialog's file types: those that hold a cutout's alpha, or a mask, PNG first."""
    extensions = output_extensions(cutout)
    return ";;".join(f"{name} (*{ext}{' *.tiff' if ext == '.tif' else ''})"
                     for ext, name in _FORMAT_NAMES.items() if ext in extensions)


IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp *.gif);;All files (*)"
Button = QMessageBox.StandardButton


class FileHost(Protocol):
    """What ``FileActions`` needs of its window."""

    editor: Editor | None
    preferences: Preferences
    runner: TaskRunner
    close_hook: Callable[[], None] | None
    status: StatusPanel

    def set_image(self, image: LoadedImage, path: Path | None, model_rgb: object = None,
                  last_selection: object = None) -> None: ...
    def apply_proposal(self) -> None: ...
    def show_error(self, title: str, message: str) -> None: ...


class FileActions(QObject):
    """File commands of ``window`` (a ``QMainWindow`` that is a ``FileHost``)."""

    def __init__(self, window: QMainWindow, recent_menu_action: object) -> None:
        super().__init__(window)
        self.window = window
        self.host: FileHost = window  # type: ignore[assignment]
        self._recent = recent_menu_action
        self._opening: Task | None = None
        self.memory = SelectionMemory(cache_dir() / "selections")

    def remember_selection(self, wait: bool = False) -> None:
        """Keep the open image's selection for Select > Reselect when it is opened again (on the
        save lane; ``wait``: now, as the window closes)."""
        editor = self.host.editor
        if editor is None or editor.path is None:
            return
        path, selection = editor.path, editor.selection.copy()
        if wait:
            self.memory.remember(path, selection)
        else:
            self.host.runner.run("save", lambda _c: self.memory.remember(path, selection), label="remember")

    # opening ------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        recent = self.host.preferences.recent_files
        start = str(Path(recent[0]).parent) if recent else ""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", start, IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> Task:
        """Decode ``path`` in the background (a newer open cancels it), then show it once unsaved
        work is saved or given up; a file that cannot be opened says why and changes nothing."""
        if self._opening is not None:
            self._opening.cancel()

        def decode(_cancel: threading.Event) -> tuple[LoadedImage, object, object]:
            image = load_image(path)
            # the alpha composite is made here too, not on the GUI thread; and the last selection
            return image, image.model_rgb(), self.memory.recall(path, image.size)

        def decoded(result: tuple[LoadedImage, object, object]) -> None:
            image, model_rgb, last_selection = result

            def show() -> None:
                self.host.preferences.add_recent(path)
                self.save_preferences()
                self.refresh_recent()
                self.remember_selection()
                self.host.set_image(image, path, model_rgb, last_selection)

            self.when_work_is_safe(show)

        def failed(error: BaseException) -> None:
            detail = str(error) if isinstance(error, ImageError) else f"{path.name}: {error}"
            self.host.show_error("Cannot open this image", detail)

        self._opening = self.host.runner.run("open", decode, decoded, failed, label="open")
        return self._opening

    def paste_image(self) -> None:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.host.show_error("Nothing to paste", "The clipboard holds no image.")
            return
        self.open_qimage(image, "The pasted image")

    def open_qimage(self, image: QImage, label: str) -> None:
        """A pasted or dropped image, within the same pixel limit as files."""
        try:
            check_pixels(image.width(), image.height(), label)
        except ImageError as exc:
            self.host.show_error("Cannot open this image", str(exc))
            return
        def show() -> None:
            self.remember_selection()
            self.host.set_image(LoadedImage.from_rgba(qimage_to_rgba(image)), None)

        self.when_work_is_safe(show)

    def refresh_recent(self) -> None:
        menu = self._recent.menu()
        menu.clear()
        entries = self.host.preferences.recent_files
        for entry in entries:
            action = menu.addAction(Path(entry).name)
            action.setToolTip(entry)
            action.triggered.connect(lambda _c=False, p=entry: self.open_path(Path(p)))
        menu.setEnabled(bool(entries))

    # unsaved work ---------------------------------------------------------------------------
    def ask_unsaved(self) -> Button:
        """Save / Discard / Cancel for the open image's unsaved selection (Save is the default)."""
        editor = self.host.editor
        name = editor.path.name if editor is not None and editor.path else "the pasted image"
        pending = " and a proposal not applied yet" if editor is not None and not editor.prompt.empty else ""
        box = QMessageBox(QMessageBox.Icon.Warning, "Save changes?",
                          f"The selection on {name}{pending} has not been saved.",
                          Button.Save | Button.Discard | Button.Cancel, self.window)
        box.setInformativeText("Save the cutout before going on? Discarding loses the selection.")
        box.setDefaultButton(Button.Save)
        return Button(box.exec())

    def when_work_is_safe(self, then: Callable[[], None], after_save: Callable[[], None] | None = None) -> bool:
        """Run ``then`` (which replaces or closes the image) now if nothing would be lost or the user
        discards; after a save (``after_save``, default ``then``, once the cutout is written) if the
        user saves; nothing on Cancel. Returns whether ``then`` ran now."""
        editor = self.host.editor
        if editor is None or not editor.unsaved or self.host.close_hook is not None:
            then()
            return True
        choice = self.ask_unsaved()
        if choice == Button.Discard:
            then()
            return True
        if choice == Button.Save:
            if editor.proposal is not None:
                self.host.apply_proposal()  # what the user sees is what gets saved
            self.save_dialog(cutout=True, then=after_save or then)
        return False

    # saving ------------------------------------------------------------------------------------
    def _default_name(self, suffix: str) -> str:
        editor = self.host.editor
        base = editor.path if editor is not None and editor.path else Path("image.png")
        return str(base.with_name(f"{base.stem}-{suffix}.png"))

    def save_dialog(self, cutout: bool, then: Callable[[], None] | None = None) -> None:
        """Ask where to save; a proposal not applied yet is applied first if the user says so
        (Yes, the default), left out (No), or nothing is saved (Cancel)."""
        editor = self.host.editor
        if editor is None:
            return
        if editor.proposal is not None:
            answer = QMessageBox.question(
                self.window, "Apply the proposal?",
                "The proposal (drawn in colour) is not part of the selection yet. Apply it before saving?",
                Button.Yes | Button.No | Button.Cancel, Button.Yes)
            if answer == Button.Cancel:
                return
            if answer == Button.Yes:
                self.host.apply_proposal()
        kind = "cutout" if cutout else "mask"
        path, chosen = QFileDialog.getSaveFileName(self.window, f"Save {kind}", self._default_name(kind),
                                                   save_filters(cutout))
        if not path:
            return
        target = Path(path)
        if not target.suffix:  # the type chosen in the dialog gives the extension
            target = target.with_suffix(chosen.split("*", 1)[1].split()[0].rstrip(")") if "*" in chosen else ".png")
        try:
            output_format(target, cutout)
        except ValueError as exc:
            self.window.show_error(f"Cannot save the {kind}", str(exc))
            return
        self.save_in_background(target, cutout=cutout, then=then)

    def save_in_background(self, path: Path, cutout: bool, then: Callable[[], None] | None = None) -> Task:
        """Write the cutout or mask atomically on the save lane; once written the selection counts
        as saved and ``then`` runs (not when the write failed: the message says why)."""
        editor = self.host.editor
        assert editor is not None
        selection_id, selection = editor.selection_id, editor.selection.copy()
        rgb, alpha, clean = editor.image.rgb, editor.image.alpha, self.host.preferences.decontaminate
        say = self.host.status.say
        say(f"Saving {path.name}…")

        def write(_cancel: threading.Event) -> None:
            if cutout:
                save_cutout(path, rgb, selection, alpha, clean)
            else:
                save_mask(path, selection)

        def written(_result: None) -> None:
            say(f"Saved {path}", 5000)
            if self.host.editor is editor:
                editor.mark_saved(selection_id)
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            say("")
            self.host.show_error(f"Could not save {path.name}", f"{error}. Nothing was overwritten.")

        return self.host.runner.run("save", write, written, failed, label="save")

    def copy_cutout(self) -> None:
        """Put the cutout (with its alpha) on the clipboard; Qt offers it as image/png to other apps.

        (``QClipboard.setImage``, not a Python-made ``QMimeData``: PySide6 keeps ownership of the
        latter and the app crashes at exit when both free it.)
        """
        editor = self.host.editor
        if editor is None:
            return
        rgba = cutout_rgba(editor.image.rgb, editor.selection, editor.image.alpha, self.host.preferences.decontaminate)
        QGuiApplication.clipboard().setImage(rgba_to_qimage(rgba))
        self.host.status.say("Cutout copied to the clipboard", 3000)

    def save_preferences(self) -> None:
        """Write the preferences on the save lane; failing to store them must not stop the user."""
        text = self.host.preferences.to_text()  # taken now, on the GUI thread that changes them

        def write(_cancel: threading.Event) -> None:
            try:
                Preferences.write_text(text)
            except OSError:
                pass  # preferences are a convenience

        self.host.runner.run("save", write, label="preferences")
