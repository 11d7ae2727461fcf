"""A click is one decode: the press's live stroke and the release's finished stroke ask for the
same prompt, and the answer already on its way serves both."""

from __future__ import annotations

import time

import numpy as np
from fake_engine import FakeEngine
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from helpers import open_now, wait_for_encode, wait_for_proposal


class SlowEngine(FakeEngine):
    """A decode takes 150 ms, as the real decoder does on a slow CPU: the release comes while the
    press's decode is still running."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[tuple] = []
        self.slow = False  # the Object Finder's grid first goes at full speed

    def decode_low_res(self, embedding, prompt):  # noqa: ANN001, ANN201
        self.prompts.append(tuple(prompt.points))
        if self.slow:
            time.sleep(0.15)
        return super().decode_low_res(embedding, prompt)


def test_a_click_runs_one_decode_and_its_answer_is_taken(qtbot, window_on, tmp_path) -> None:
    engine = SlowEngine()
    window = window_on(engine)
    window.actions_by_name["hover_preview"].setChecked(False)
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(path)
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    qtbot.waitUntil(lambda: window.finder.objects is not None and window.bridge.idle, timeout=60_000)
    engine.slow, before = True, len(engine.prompts)
    canvas = window.canvas
    spot = canvas.to_widget(200, 150).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=spot)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=spot + QPoint(0, 0), delay=20)
    wait_for_proposal(qtbot, window)
    qtbot.waitUntil(lambda: window.bridge.idle, timeout=5000)
    qtbot.wait(300)  # a second decode, if one were queued, would have started by now
    clicks = engine.prompts[before:]
    assert len(clicks) == 1, clicks  # not two: press and release share the answer
    assert window.editor.proposal is not None and window.editor.proposal.mask()[150, 200]

    # A click somewhere else is a new prompt and decodes again.
    window.drop_proposal()
    other = canvas.to_widget(60, 40).toPoint()
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=other)
    wait_for_proposal(qtbot, window)
    assert len(engine.prompts[before:]) == 2
