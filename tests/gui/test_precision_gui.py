"""The fast mode in the app: the preference, greyed out where bf16 cannot run, and the fallback."""

from __future__ import annotations

from samcut.gui.engine_bridge import make_bridge
from samcut.gui.preferences_dialog import PreferencesDialog
from samcut.models.document.preferences import Preferences
from samcut.models.engine import runtimes


def test_bf16_is_greyed_out_with_the_reason_where_it_cannot_run(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(runtimes, "_openvino_core", lambda: None)
    preferences = Preferences()
    dialog = PreferencesDialog(preferences)
    qtbot.addWidget(dialog)
    box = dialog.precision
    assert box.currentData() == "auto"
    item = box.model().item(box.findData("bf16"))
    assert not item.isEnabled() and "samcut[fast]" in item.toolTip()
    box.setCurrentIndex(box.findData("fp32"))
    dialog.accept()
    assert preferences.precision == "fp32"


def test_a_bf16_preference_falls_back_to_fp32_with_a_notice(qtbot, monkeypatch, test_model_dir) -> None:
    monkeypatch.setattr(runtimes, "_openvino_core", lambda: None)
    preferences = Preferences(precision="bf16", disk_cache=0)
    bridge = make_bridge(test_model_dir, preferences)
    try:
        engine = bridge.service.engine
        assert engine.precision == "fp32" and engine.encoder_runtime == "ONNX Runtime CPU"
        assert len(engine.notices) == 1 and "running in fp32" in engine.notices[0]
    finally:
        bridge.close()
