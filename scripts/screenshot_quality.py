"""Screenshots of fast first, exact later: the Model menu, the proposal of the quick model while the
quality model refines in the background (progress in the status bar), and the proposal after it
took over.

    SAMCUT_REFERENCE_DIR=../shared/reference .venv/bin/python scripts/screenshot_quality.py [OUT_DIR]

The quick model is MobileSAM with the random test weights (its masks are rough), the quality model
MobileSAM with the synthetic checkpoint's trained decoder (clean masks of pasted objects), so the
upgrade is visible; writes ``quality-menu.png``, ``quality-before.png``, ``quality-after.png`` (the
README shows them from ``docs/``, the two window shots as JPEG).
Both encode in well under a second here, so the quality encode is held 4 s (a sleep before it)
for the "before" shot to catch its progress.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot import click, wait  # noqa: E402


def main() -> None:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from samcut.gui.engine_bridge import make_bridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences
    from samcut.models.store.convert import convert_checkpoint

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    reference = Path(os.environ.get("SAMCUT_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
    work = Path(tempfile.mkdtemp(prefix="samcut-shot-"))
    os.environ["SAMCUT_CONFIG_DIR"] = str(work / "config")
    os.environ["SAMCUT_MODELS_ROOT"] = str(work / "models")
    quick = work / "models" / "mobile_sam_test"
    better = work / "models" / "mobile_sam_synthetic"
    convert_checkpoint(reference / "mobile_sam_test.pt", quick)
    convert_checkpoint(reference / "synthetic" / "mobile_sam_synthetic.pt", better)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    preferences = Preferences(model_dir=str(quick), quality_model=str(better))
    window = MainWindow(make_bridge(quick, preferences), preferences)
    window.resize(1100, 720)
    window.show()
    window.bars.refine_action.setChecked(False)
    tier = window.bridge.service.quality
    load = tier._load

    def slow_load():  # noqa: ANN202 - the engine, its encode held (see the docstring)
        engine = load()
        encode = engine.encode

        def held(image, cancel=None):  # noqa: ANN001, ANN202
            time.sleep(4)
            return encode(image, cancel)

        engine.encode = held
        return engine

    tier._load = slow_load
    tier.expected_s = 4.4

    window.files.open_path(reference / "synthetic" / "composite_1.png")
    wait(app, lambda: window.editor is not None and window.status.encoder_label.text().startswith("Ready"))
    click(window.canvas, 850, 780)  # on the pasted object, while the quality model encodes
    wait(app, lambda: window.editor.proposal is not None and not window.editor.awaiting_answer)
    time.sleep(1.5)
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(out / "quality-before.png"))
    print("before:", window.status.quality_label.text(), "| phase:", tier.phase)
    wait(app, lambda: window.editor.proposal.model == str(better))
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(out / "quality-after.png"))
    print("after:", window.status.quality_label.text())
    menu = window.model_menu.menu
    menu.popup(window.mapToGlobal(QPoint(200, 30)))
    wait(app, menu.isVisible)
    for _ in range(10):
        app.processEvents()
    menu.grab().save(str(out / "quality-menu.png"))
    menu.hide()

    window.editor.mark_saved()
    window.editor.drop_proposal()
    window.close()


if __name__ == "__main__":
    main()
