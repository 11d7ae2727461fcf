"""Strokes land where they are drawn: synthetic model, real mouse events, zoomed and panned view."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF

from samcut.models.document.imageio import load_image

from helpers import drag, open_now, save_now, wait_for_encode, wait_for_proposal
from reference import synthetic_dir


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def object_stroke(mask: np.ndarray) -> list[tuple[float, float]]:
    """A short horizontal stroke through the middle of the object's widest interior row."""
    ys, xs = np.nonzero(mask)
    cy = int(np.median(ys))
    row = np.flatnonzero(mask[cy])
    left, right = row.min(), row.max()
    span = right - left
    return [(float(left + span * t), float(cy)) for t in np.linspace(0.3, 0.7, 12)]


def test_stroke_selects_the_object_under_it_zoomed_and_panned(qtbot, synthetic_window, tmp_path) -> None:
    window = synthetic_window
    scores, controls = [], []
    for index in (0, 1, 2):
        path = synthetic_dir() / f"composite_{index}.png"
        truth = np.asarray(Image.open(synthetic_dir() / f"composite_{index}_mask.png").convert("L")) > 127
        assert open_now(qtbot, window, path)
        wait_for_encode(qtbot, window)
        canvas = window.canvas
        stroke = object_stroke(truth)
        cx, cy = stroke[len(stroke) // 2]
        # Zoom to 1.45x the fitted scale about the stroke, then pan a little: not 100%, not centred.
        canvas.zoom_about(canvas.to_widget(cx, cy), 1.45)
        canvas.pan_by(-37, 23)
        assert abs(canvas.scale - 1.0) > 0.05
        drag(canvas, stroke)
        wait_for_proposal(qtbot, window)
        doc = window.editor
        proposal = doc.proposal.full()
        # The proposal's points are where the stroke was drawn (within a pixel of rounding).
        pts = np.array(doc.engine_prompt().points)
        assert np.abs(pts[:, 1] - cy).max() < 1 / canvas.scale + 0.5
        scores.append(iou(proposal, truth))
        # Control: the same stroke mirrored through the image centre, as a flipped frame would put it.
        h, w = truth.shape
        window.actions_by_name["drop"].trigger()
        mirrored = [(w - 1 - x, h - 1 - y) for x, y in stroke]
        canvas.fit()
        drag(canvas, mirrored)
        wait_for_proposal(qtbot, window)
        controls.append(iou(window.editor.proposal.full(), truth))
        window.actions_by_name["drop"].trigger()
        canvas.zoom_about(QPointF(canvas.width() / 2, canvas.height() / 2), 1.3)
        drag(canvas, stroke)
        wait_for_proposal(qtbot, window)
        refined = doc.proposal.refined(doc.image.rgb)
        assert ((refined >= 128) == doc.proposal.full()).mean() > 0.97
        window.actions_by_name["commit"].trigger()
        np.testing.assert_array_equal(doc.selection, refined)
        out = tmp_path / f"cut{index}.png"
        save_now(qtbot, window, out, cutout=True)
        qtbot.waitUntil(lambda: "Saved" in window.status.message_label.text())
        cut = np.asarray(Image.open(out))
        np.testing.assert_array_equal(cut[..., 3], refined)
        np.testing.assert_array_equal(cut[..., :3], load_image(path).rgb)
    assert np.mean(scores) > 0.35, scores
    assert np.mean(scores) > np.mean(controls) + 0.2, (scores, controls)


def grab_rgb(canvas) -> np.ndarray:
    """The canvas as drawn: ``int16 H x W x 3`` (device-independent pixels, offscreen scale 1)."""
    from samcut.gui.qimage import qimage_to_rgba

    return qimage_to_rgba(canvas.grab().toImage())[..., :3].astype(np.int16)


def test_proposal_overlay_tints_what_the_mask_covers(qtbot, synthetic_window) -> None:
    window = synthetic_window
    path = synthetic_dir() / "composite_0.png"
    truth = np.asarray(Image.open(synthetic_dir() / "composite_0_mask.png").convert("L")) > 127
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    canvas = window.canvas
    canvas.zoom_about(QPointF(canvas.width() / 2, canvas.height() / 2), 1.2)
    before = grab_rgb(canvas)
    drag(canvas, object_stroke(truth))
    wait_for_proposal(qtbot, window)
    after = grab_rgb(canvas)
    # Each widget pixel whose centre lies on the image: is the proposal's mask set there?
    mask = window.editor.proposal.full()
    h, w = mask.shape
    ys, xs = np.mgrid[0:after.shape[0], 0:after.shape[1]]
    ix = np.floor((xs + 0.5 - canvas.offset.x()) / canvas.scale).astype(int)
    iy = np.floor((ys + 0.5 - canvas.offset.y()) / canvas.scale).astype(int)
    on_image = (ix >= 1) & (iy >= 1) & (ix < w - 1) & (iy < h - 1)
    covered = np.zeros(after.shape[:2], bool)
    covered[on_image] = mask[iy[on_image], ix[on_image]]
    assert covered.sum() > 1000
    tint = np.array(canvas.proposal_tint)  # blue, or the colour chosen to stand out on a blue object
    # Inside: the photo blended towards the proposal's colour (alpha 110/255), or the opaque outline.
    blended = before + (tint - before) * 110 / 255
    inside = covered & (np.abs(after - blended).max(-1) <= 3)
    outline = np.abs(after - tint).max(-1) <= 1
    changed = np.abs(after - before).max(-1) > 3
    assert (inside | outline)[covered].mean() > 0.97
    # Outside the mask nothing changes, apart from the outline's pixel where sampling rounds.
    assert changed[on_image & ~covered].mean() < 0.01
    assert outline.sum() > 100
