"""Zoomed re-encode: the visible region is encoded by itself and strokes there are decoded in it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samcut.gui.zoom_region import MIN_SIDE, SNAP, applies_at, covers, region_for_view

from helpers import drag, open_now, wait_for_encode, wait_for_proposal
from reference import synthetic_dir


def test_region_for_view_rules() -> None:
    size = (2000, 3000)  # H, W
    assert region_for_view((-50, -50, 3050, 2050), size) is None            # whole image visible
    assert region_for_view((0, 0, 2500, 1700), size) is None                # only 1.2x more detail
    assert region_for_view((0, 0, 2500, 1700), size, force=True) is not None
    box = region_for_view((1000, 500, 1600, 900), size)                     # 5x more detail
    assert box is not None and all(v % SNAP == 0 for v in box)
    assert box[0] <= 1000 and box[1] <= 500 and box[2] >= 1600 and box[3] >= 900
    assert covers(box, (1000, 500, 1600, 900), size)
    assert not covers(box, (0, 0, 3000, 2000), size)                        # zoomed back out
    tiny = region_for_view((100, 100, 110, 105), size)
    assert tiny is not None and max(tiny[2] - tiny[0], tiny[3] - tiny[1]) >= MIN_SIDE
    assert applies_at(box, (1000, 500, 1600, 900), size, (1200, 700))
    assert not applies_at(box, (1000, 500, 1600, 900), size, (10, 10))      # outside the region
    assert not applies_at(box, (-50, -50, 3050, 2050), size, (1200, 700))   # view zoomed out past it


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory):
    """Four 1536 x 1024 composites in a 3072 x 2048 mosaic: in the whole-image encode each object is
    seen at half the size the test model was trained at."""
    tiles = [np.asarray(Image.open(synthetic_dir() / f"composite_{i}.png").convert("RGB")) for i in range(4)]
    masks = [np.asarray(Image.open(synthetic_dir() / f"composite_{i}_mask.png").convert("L")) > 127
             for i in range(4)]
    rgb = np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate(tiles[2:], 1)], 0)
    truth = np.concatenate([np.concatenate(masks[:2], 1), np.concatenate(masks[2:], 1)], 0)
    path = tmp_path_factory.mktemp("mosaic") / "mosaic.png"
    Image.fromarray(rgb).save(path)
    return path, truth


def open_encoded_noise(qtbot, window, tmp_path, seed: int) -> None:
    """Open a 1400 x 900 noise photo and wait for its encode (zooming in on it asks for a region)."""
    rgb = np.random.default_rng(seed).integers(0, 255, (900, 1400, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "big.png")
    open_now(qtbot, window, tmp_path / "big.png")
    wait_for_encode(qtbot, window)


def select_at(qtbot, window, point) -> np.ndarray:
    drag(window.canvas, [point])
    wait_for_proposal(qtbot, window)
    window.actions_by_name["commit"].trigger()
    return window.editor.selection > 127


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_zoomed_region_finds_the_object_better_and_merges_into_the_image(qtbot, synthetic_window, mosaic) -> None:
    window = synthetic_window
    path, truth = mosaic
    window.bars.refine_action.setChecked(False)
    window.actions_by_name["auto_encode_view"].setChecked(False)
    open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    tile = (1536, 1024, 3072, 2048)  # x0, y0, x1, y1: the bottom-right composite
    in_tile = np.zeros_like(truth)
    in_tile[1024:, 1536:] = truth[1024:, 1536:]
    ys, xs = np.nonzero(in_tile)
    k = np.argmin((xs - np.median(xs)) ** 2 + (ys - np.median(ys)) ** 2)
    point = (float(xs[k]), float(ys[k]))
    whole = select_at(qtbot, window, point)
    assert window.editor.frame is None

    window.canvas.zoom_to(tile)
    window.actions_by_name["encode_view"].trigger()
    region = window.bridge.region
    assert region is not None and window.status.encode_bar.isVisible()  # busy bar while the region encodes
    qtbot.waitUntil(lambda: window.bridge.ready_region is not None, timeout=60_000)
    # (the encode's future ends in the worker; the window hears of it through a queued signal)
    qtbot.waitUntil(lambda: window.status.encoder_label.text().startswith("Zoomed region ready"), timeout=60_000)
    assert not window.status.encode_bar.isVisible()
    x0, y0, x1, y1 = region.box
    assert x0 <= tile[0] + SNAP and y0 <= tile[1] + SNAP and x1 >= tile[2] - 1 and y1 >= tile[3] - 1
    zoomed = select_at(qtbot, window, point)
    assert iou(zoomed, in_tile) > iou(whole, in_tile) + 0.2, (iou(zoomed, in_tile), iou(whole, in_tile))
    outside = np.ones_like(truth)
    outside[y0:y1, x0:x1] = False
    assert not (zoomed & outside).any()  # the region's mask is placed in the whole image

    # Back to the whole image: strokes use the whole-image encode again; the region stays cached.
    window.canvas.fit()
    drag(window.canvas, [point])
    assert window.editor.frame is None
    wait_for_proposal(qtbot, window)
    window.actions_by_name["drop"].trigger()
    window.canvas.zoom_to(tile)
    window.actions_by_name["encode_view"].trigger()  # same view: nothing new to encode
    assert window.bridge.region is region


def test_automatic_region_encode_waits_while_the_user_draws(qtbot, window, tmp_path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from helpers import widget_point

    open_encoded_noise(qtbot, window, tmp_path, seed=3)
    window.regions._timer.setInterval(50)
    canvas = window.canvas
    left, plain = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(canvas, left, plain, widget_point(canvas, 700, 450))
    canvas.zoom_to((500, 300, 900, 600))  # zoomed in 3.5x while the button is down
    qtbot.wait(400)
    assert window.bridge.region is None  # not while drawing
    QTest.mouseRelease(canvas, left, plain, widget_point(canvas, 700, 450))
    qtbot.waitUntil(lambda: window.bridge.region is not None, timeout=60_000)
    qtbot.waitUntil(lambda: window.bridge.ready_region is not None, timeout=60_000)


def test_a_failing_region_encode_is_reported_quietly(qtbot, window, tmp_path, monkeypatch) -> None:
    open_encoded_noise(qtbot, window, tmp_path, seed=4)

    def broken(*_args, **_kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(window.bridge.service.engine, "encode", broken)
    window.canvas.zoom_to((500, 300, 900, 600))
    window.actions_by_name["encode_view"].trigger()
    qtbot.waitUntil(lambda: "not encoded" in window.status.encoder_label.text(), timeout=60_000)
    assert "out of memory" in window.status.encoder_label.text() and not window.status.encode_bar.isVisible()
    assert window.bridge.region is None and window.editor is not None


def test_closing_with_a_region_encode_pending_is_quiet(qtbot, window, tmp_path) -> None:
    """The settle timer must not fire into a closed engine (it raised in the event loop)."""
    open_encoded_noise(qtbot, window, tmp_path, seed=6)
    window.regions._timer.setInterval(100)
    window.canvas.zoom_to((500, 300, 900, 600))  # starts the settle timer
    window.close()
    qtbot.wait(400)  # when the timer would have fired
    assert window.bridge.region is None
