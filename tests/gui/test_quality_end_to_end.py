"""Fast first, exact later, end to end with real models: the MobileSAM test model answers first,
generated SAM 2.1 tiny weights take over in the background, and the proposal they give equals
``samcut segment --models`` with SAM 2.1 tiny for the same prompt."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
from PIL import Image

from samcut.cli.main import main
from samcut.models.io.platform import BACKGROUND_NICE

from conftest import close_discarding
from helpers import drag, open_now, wait_for_encode
from reference import generated_goldens


def test_the_quality_model_takes_over_and_answers_as_segment_does(qtbot, test_model_dir, family_model_dir,
                                                                   tmp_path) -> None:
    from samcut.gui.engine_bridge import make_bridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences

    sam2 = family_model_dir("sam2.1_hiera_tiny")
    preferences = Preferences(quality_model=str(sam2))
    window = MainWindow(make_bridge(test_model_dir, preferences), preferences)
    try:
        window.resize(1000, 700)
        window.show()
        qtbot.waitExposed(window)
        window.regions.automatic = False
        window.bars.refine_action.setChecked(False)
        image = tmp_path / "coffee.png"
        Image.fromarray(np.load(generated_goldens("sam2.1_hiera_tiny")[-1])["image"]).save(image)
        assert open_now(qtbot, window, image)
        wait_for_encode(qtbot, window)
        quick = window.bridge.model
        editor = window.editor
        window.bars.tool_actions["box"].trigger()
        drag(window.canvas, [(180, 90), (300, 200), (470, 330)])
        window.bars.tool_actions["smart"].trigger()
        drag(window.canvas, [(300, 180)])
        drag(window.canvas, [(250, 250)], )
        qtbot.waitUntil(lambda: editor.proposal is not None and editor.proposal.model == str(sam2)
                        and not editor.awaiting_answer, timeout=180_000)
        assert window.bridge.model == str(sam2) != quick
        assert window.bridge.service.quality.engine.encoder is not None
        assert "SAM 2.1" in window.status.quality_label.text() or "sam2" in window.status.quality_label.text()
        if sys.platform.startswith("linux"):  # the quality lane's thread yields the CPU
            lane = next(t for t in threading.enumerate() if t.name.startswith("samcut-quality"))
            assert os.getpriority(os.PRIO_PROCESS, lane.native_id) == BACKGROUND_NICE
        points = [[*stroke.path[0], 1] for stroke in editor.prompt.strokes]
        box = list(editor.prompt.box)
        window.actions_by_name["commit"].trigger()
        app = editor.selection.copy()
        assert app.any() and not app.all()
        out = tmp_path / "segment.png"
        args = ["segment", str(image), "--models", str(sam2), "--mask", str(out), "--box", ",".join(map(repr, box))]
        for x, y, label in points:
            args += ["--point", f"{x!r},{y!r},{label}"]
        assert main(args) == 0
        np.testing.assert_array_equal(np.asarray(Image.open(out)), app)
    finally:
        close_discarding(window)
