"""Fast first, exact later, in the window: the quality model's progress in the status bar, and
the proposal answered again by it when its embedding lands.

Whether a proposal is answered again, and how (its prompt replayed from scratch on the new model,
for the same revision: no undo step, nothing lands on a changed prompt) is the editor's
(``Editor.replay_request``); this module only asks at the right moments and shows progress.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer

from samcut.models.document.preferences import MAX_TIMES

POLL_MS = 200


class QualityController(QObject):
    """For ``window`` (a MainWindow): watches its bridge's quality encode."""

    def __init__(self, window: Any) -> None:  # noqa: ANN401 - MainWindow
        super().__init__(window)
        self.window = window
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._show_progress)

    def attach(self, bridge: Any) -> None:  # noqa: ANN401 - EngineBridge
        bridge.encodeStarted.connect(lambda _t: self._begin())
        bridge.upgraded.connect(self._on_upgraded)
        bridge.upgradeFailed.connect(self._on_failed)
        self.window.status.quality("")
        self._begin()

    def _begin(self) -> None:
        bridge = self.window.bridge
        if bridge is not None and bridge.upgrading:
            self._timer.start()
            self._show_progress()

    def _show_progress(self) -> None:
        bridge = self.window.bridge
        if bridge is None or not bridge.upgrading:
            self._timer.stop()
            return
        quality = bridge.service.quality
        fraction = bridge.upgrade_progress()
        if fraction is None:  # loading the model, or waiting for the quick model's encode
            self.window.status.quality(f"Loading {quality.label}…" if quality.phase == "loading"
                                       else f"{quality.label} next…", None)
        else:
            self.window.status.quality(f"Refining: {quality.label} {fraction * 100:.0f}%", fraction)

    def _on_upgraded(self, _ticket: int, label: str, seconds: float, cached: bool) -> None:
        self._timer.stop()
        window = self.window
        window.status.quality(f"Now {label} answers ({'cached' if cached else f'{seconds:.1f} s'})")
        if not cached:
            self.remember_time(window.bridge.service.quality.name, seconds)
        window.replay_proposal()

    def remember_time(self, model: str, seconds: float) -> None:
        """An encode by ``model`` (its folder) took ``seconds`` here: the Model menu and the quality
        progress go by it from now on."""
        if seconds <= 0:
            return
        prefs = self.window.preferences
        prefs.encode_times[str(model)] = round(seconds, 2)
        if len(prefs.encode_times) > MAX_TIMES:
            prefs.encode_times.pop(next(iter(prefs.encode_times)))
        self.window.files.save_preferences()

    def _on_failed(self, _ticket: int, message: str) -> None:
        self._timer.stop()
        self.window.status.quality("Quality model not used")
        self.window.status.say(f"The quality model could not encode this image ({message}); "
                               "the quick model goes on answering", 15000)
