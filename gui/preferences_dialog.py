"""Preferences: threads, caches, model folder (applied at the next start)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from samcut.models.document.preferences import Preferences


class PreferencesDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.preferences = preferences
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("all cores")
        self.threads.setValue(preferences.threads)
        self.memory = QSpinBox()
        self.memory.setRange(1, 64)
        self.memory.setValue(preferences.memory_cache)
        self.disk = QSpinBox()
        self.disk.setRange(0, 1000)
        self.disk.setValue(preferences.disk_cache)
        self.model_dir = QLineEdit(preferences.model_dir)
        self.model_dir.setPlaceholderText("the installed MobileSAM model")
        form = QFormLayout(self)
        form.addRow("CPU threads", self.threads)
        form.addRow("Images kept encoded in memory", self.memory)
        form.addRow("Images kept encoded on disk", self.disk)
        form.addRow("Model folder", self.model_dir)
        form.addRow(QLabel("<small>Changes apply the next time samcut starts.</small>"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        self.preferences.threads = self.threads.value()
        self.preferences.memory_cache = self.memory.value()
        self.preferences.disk_cache = self.disk.value()
        self.preferences.model_dir = self.model_dir.text().strip()
        super().accept()
