"""First run: install a model (MobileSAM by default) by download (progress, cancel, resume) or from a file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from samcut.gui.tasks import Task, TaskRunner
from samcut.models.document.preferences import Preferences
from samcut.models.store.catalogue import KNOWN_MODELS
from samcut.models.store.choice import remember_choice
from samcut.models.store.download import ChecksumError, OfflineError
from samcut.models.store.install import install
from samcut.models.store.registry import MOBILE_SAM, ModelSpec


class NotOfficial(Exception):  # noqa: N818 - a finding, not a failure of samcut's
    """A chosen file (``source``) is not the official checkpoint (the user may install it as custom
    weights); the message says why."""

    def __init__(self, source: Path, why: str) -> None:
        super().__init__(why)
        self.source = source


def _install_job(spec: ModelSpec, source: Path | None, custom: bool, cancel: threading.Event) -> Callable:
    """The install, as a ``TaskRunner`` job with progress: reports ``(done, total)`` byte counts
    and messages (str); returns the model folder. ``cancel`` (the dialog's Cancel) stops it with
    an error that says so, which the dialog shows."""

    def job(_task_cancel: threading.Event, report: Callable[[object], None]) -> str:
        try:
            # (a file: whichever official checkpoint its hash says, any model of the catalogue)
            return str(install(None if source is not None else spec, source=source, cancel=cancel, custom=custom,
                               progress=lambda d, t: report((int(d), int(t or 0))), say=report))
        except ChecksumError as exc:
            if source is not None:
                raise NotOfficial(source, str(exc)) from None
            raise
        except OfflineError:
            raise OfflineError(f"No connection to the download server. On a machine with internet, download "
                               f"{spec.urls[0]} and choose Install from file here.") from None

    return job


class ModelDialog(QDialog):
    """Offers to download the default model or to install it from a local checkpoint file."""

    def __init__(self, parent: QWidget | None = None, spec: ModelSpec = MOBILE_SAM) -> None:
        super().__init__(parent)
        self.spec = spec
        self.model_folder: str = ""
        self.setWindowTitle(f"Install the {spec.title.split(' (')[0]} model")
        self.setMinimumWidth(520)
        self._cancel = threading.Event()
        self.runner = TaskRunner(self)
        self._task: Task | None = None  # the install running on the install lane
        text = QLabel(
            f"samcut needs the <b>{spec.title}</b> model (about {spec.download_mb:,.0f} MB download).<br>"
            "It is checked against its pinned hash, then converted for ONNX Runtime (a few seconds).<br>"
            "On a machine without internet, choose <i>Install from file</i> with a copy of "
            f"<code>{spec.filename}</code> (or of another model's official checkpoint: SAM ViT-B/L/H, SAM 2.1)."
            f"<br><small>{spec.credit}.</small>")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setMinimumWidth(500)  # (the layout's minimum size rules the dialog's)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.download_button = QPushButton("&Download")
        self.file_button = QPushButton("Install from &file…")
        self.cancel_button = QPushButton("Cancel")
        self.download_button.clicked.connect(lambda: self._start(None))
        self.file_button.clicked.connect(self._choose_file)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.download_button, self.file_button, self.cancel_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # grows with a long message, never overlaps
        for w in (text, self.bar, self.status):
            layout.addWidget(w)
        layout.addLayout(buttons)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model checkpoint", "", "PyTorch checkpoint (*.pt *.pth)")
        if path:
            self._start(Path(path))

    def _offer_custom(self, source: str, why: str) -> None:
        """The chosen file is not the official checkpoint: install it as custom weights if the user says so."""
        answer = QMessageBox.question(
            self, "Not the official checkpoint",
            f"{Path(source).name} is not an official checkpoint samcut knows (its hash differs).\n\n"
            f"Install it anyway as custom weights (fine-tuned, say) of the model its tensors fit ({KNOWN_MODELS})? "
            "samcut reads only its tensors; nothing in the file is run.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        if answer == QMessageBox.StandardButton.Yes:
            self._start(Path(source), custom=True)
        else:  # declined: the reason stays in the dialog, laid out below the text
            self._on_finished("", why)

    def _start(self, source: Path | None, custom: bool = False) -> None:
        self._cancel.clear()
        self.download_button.setEnabled(False)
        self.file_button.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.status.setText("Verifying…" if source else "Connecting…")
        self._task = self.runner.run("install", _install_job(self.spec, source, custom, self._cancel),
                                     lambda folder: self._on_finished(folder, ""), self._on_failed,
                                     label="install", progress=self._on_report)

    def _on_report(self, value: object) -> None:
        if isinstance(value, str):
            self.status.setText(value)
        else:
            self._on_progress(*value)

    def _on_failed(self, error: BaseException) -> None:
        if isinstance(error, NotOfficial):  # the question says it all: no error text behind it
            self._on_finished("", "")
            QTimer.singleShot(0, lambda: self._offer_custom(str(error.source), str(error)))
            return
        self._on_finished("", str(error) or error.__class__.__name__)

    def _on_progress(self, done: int, total: int) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
            self.status.setText(f"Downloading… {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.status.setText(f"Downloading… {done / 1e6:.1f} MB")

    def _on_finished(self, folder: str, error: str) -> None:
        self._task = None
        self.download_button.setEnabled(True)
        self.file_button.setEnabled(True)
        self.bar.setVisible(False)
        if not folder:
            self.status.setText(f"<span style='color:#c0392b'>{error}</span>" if error else "")
            self.adjustSize()
            return
        self.model_folder = folder
        self.accept()

    def _cancel_or_close(self) -> None:
        if self._task is not None:
            self._cancel.set()
            self.status.setText("Cancelling… (the partial download is kept and resumes next time)")
        else:
            self.reject()

    def done(self, result: int) -> None:
        """Accepted or rejected: the install lane's thread ends with the dialog."""
        self._cancel.set()
        self.runner.shutdown()
        super().done(result)

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        self._cancel.set()
        self.runner.shutdown()  # the install stops at its next check of the cancel event
        super().closeEvent(event)


def remember_model(preferences: Preferences, folder: Path) -> None:
    """The model just installed is the one samcut uses from now on, in the app, the CLI and the
    hosts (``choice.remember_choice``: one stored choice)."""
    remember_choice(preferences, folder)
