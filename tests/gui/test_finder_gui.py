"""The Object Finder in the window: found in the background, found again from the disk cache,
hover needs no decode once it is done, Select > Subject proposes the main object."""

from __future__ import annotations

from fake_engine import FakeEngine
from PIL import Image
from test_hover import hover_at

from samcut.gui.engine_bridge import EngineBridge
from samcut.gui.main_window import MainWindow
from samcut.models.document.preferences import Preferences
from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService

from helpers import open_now, wait_for_encode


def window_with_disk_cache(qtbot, engine, folder):
    bridge = EngineBridge(SegmentationService(engine, disk_cache=EmbeddingDiskCache(folder, "fake")))
    window = MainWindow(bridge, Preferences())
    window.resize(900, 650)
    window.show()
    qtbot.waitExposed(window)
    return window


def close(window) -> None:
    if window.editor is not None:
        window.editor.mark_saved()
        window.editor.drop_proposal()
    window.close()


def test_objects_are_found_once_and_come_back_from_the_disk_cache(qtbot, tmp_path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 240), (90, 120, 150)).save(path)
    first_engine = FakeEngine()
    window = window_with_disk_cache(qtbot, first_engine, tmp_path / "cache")
    try:
        assert open_now(qtbot, window, path)
        wait_for_encode(qtbot, window)
        qtbot.waitUntil(lambda: window.finder.objects is not None, timeout=60_000)
        assert first_engine.decodes >= 256 and window.finder.objects
        # (the fake's predicted IoUs, 0.5 to 0.8, pass none of SAM's 0.88: the stand-ins, and the window says so)
        assert window.status.finder_label.text() == f"{len(window.finder.objects)} best guesses"
        assert "No object passed SAM's quality thresholds" in window.status.finder_label.toolTip()
        found = [(o.box, o.score) for o in window.finder.objects]
        # Hovering now needs no decode: the object under the pointer is looked up.
        before = first_engine.decodes
        x, y = window.finder.objects[0].point  # (on an object: a grid point's own disc)
        hover_at(window.canvas, x, y)
        assert window.canvas._hover is not None and first_engine.decodes == before
        # Select > Subject: a proposal, made without a decode, applied like any other.
        window.actions_by_name["subject"].trigger()
        assert window.editor.proposal is not None and first_engine.decodes == before
        window.apply_proposal()
        assert window.editor.selection.any()
    finally:
        close(window)
    second_engine = FakeEngine()  # a new process, as after a restart: only the disk cache remains
    window = window_with_disk_cache(qtbot, second_engine, tmp_path / "cache")
    try:
        assert open_now(qtbot, window, path)
        wait_for_encode(qtbot, window)
        qtbot.waitUntil(lambda: window.finder.objects is not None, timeout=60_000)
        assert second_engine.encodes == 0 and second_engine.decodes == 0  # embedding and objects from disk
        assert [(o.box, o.score) for o in window.finder.objects] == found
        assert "(from the cache)" in window.status.finder_label.text()
    finally:
        close(window)


def test_user_input_goes_before_the_finder(qtbot, window_on, tmp_path) -> None:
    """While the finder runs, a stroke's decode is never queued behind more than one finder step."""
    from test_hover import SlowFakeEngine

    from helpers import drag

    engine = SlowFakeEngine(delay=0.05)
    window = window_on(engine)
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 240), (90, 120, 150)).save(path)
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    qtbot.waitUntil(lambda: len(engine.log) >= 5, timeout=60_000)  # the finder is under way
    done_before = len(engine.log)
    drag(window.canvas, [(250, 180), (255, 182)])
    qtbot.waitUntil(lambda: window.editor.proposal is not None, timeout=60_000)
    stroke = next(i for i, entry in enumerate(engine.log) if abs(entry[2][0] - 250) < 1 and abs(entry[2][1] - 180) < 1
                  or abs(entry[2][0] - 255) < 1)
    assert stroke - done_before <= 1  # at most the finder step that was in flight
    assert window.finder.objects is None  # and the finder is still to finish: it resumes later
    qtbot.waitUntil(lambda: window.finder.objects is not None, timeout=60_000)
