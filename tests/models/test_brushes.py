"""Pixel brushes on the selection: paint / erase geometry, the refine brush, one undo step each."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from samcut.models.document.imageio import LoadedImage
from samcut.models.document.selection import edges, paint, stroke_coverage
from samcut.models.editor import Editor
from samcut.models.engine.postprocess import full_mask

from reference import synthetic_dir

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))  # (last: bench/ must shadow no package)

from refine_data import make_cases  # noqa: E402


def test_paint_covers_the_swept_disc_and_nothing_else() -> None:
    mask = np.zeros((100, 200), np.uint8)
    out = paint(mask, np.array([[20.0, 50.0], [150.0, 50.0]]), radius=10, add=True)
    y, x = np.mgrid[0:100, 0:200] + 0.5
    dist = np.where(x < 20, np.hypot(x - 20, y - 50), np.where(x > 150, np.hypot(x - 150, y - 50), abs(y - 50)))
    assert (out[dist <= 9.5] == 255).all()
    assert (out[dist >= 10.5] == 0).all()
    rim = (dist > 9.5) & (dist < 10.5)
    assert ((out[rim] > 0) & (out[rim] < 255)).any()  # anti-aliased rim
    assert mask.max() == 0  # the input is left alone


def test_erase_and_clicks_and_strokes_off_the_image() -> None:
    mask = np.full((50, 50), 255, np.uint8)
    out = paint(mask, np.array([[25.0, 25.0]]), radius=5, add=False)  # a click
    assert out[25, 25] == 0 and out[25, 35] == 255
    assert (out == 0).sum() == disc_pixels(5)
    assert stroke_coverage((50, 50), np.array([[-100.0, -100.0], [-60.0, -90.0]]), 5) is None
    np.testing.assert_array_equal(paint(mask, np.array([[-100.0, -100.0]]), 5, False), mask)


def disc_pixels(radius: float) -> int:
    """Pixels of a 50 x 50 image fully inside a brush click of ``radius`` at (25, 25)."""
    y, x = np.mgrid[0:50, 0:50] + 0.5
    dist = np.hypot(x - 25, y - 25)
    return int((dist <= radius - 0.5).sum())


def test_paint_and_erase_are_one_undo_step_each() -> None:
    doc = Editor(LoadedImage.from_rgba(np.zeros((60, 80, 4), np.uint8) + 255))
    assert doc.paint(np.array([[10.0, 10.0], [70.0, 50.0]]), 4, add=True)
    painted = doc.selection.copy()
    assert doc.paint(np.array([[40.0, 0.0], [40.0, 60.0]]), 3, add=False)
    assert doc.selection[30, 40] == 0 and painted[30, 40] == 255
    assert doc.undo().label == "erase"
    np.testing.assert_array_equal(doc.selection, painted)
    assert doc.undo().label == "paint" and doc.selection.max() == 0
    assert doc.redo().label == "paint"
    np.testing.assert_array_equal(doc.selection, painted)


def test_refine_brush_brings_the_alpha_closer_to_the_truth_where_it_went() -> None:
    for case in make_cases(synthetic_dir(), size=(768, 1152), count=2):  # one sharp, one soft edge
        plain = full_mask(case.low_res, case.input_size, case.alpha.shape).astype(np.uint8) * 255
        doc = Editor(LoadedImage.from_rgba(np.dstack([case.rgb, np.full(case.alpha.shape, 255, np.uint8)])))
        doc.load_selection(plain)
        ys, xs = np.nonzero(edges(plain > 127))
        order = np.argsort(np.arctan2(ys - ys.mean(), xs - xs.mean()))
        path = np.stack([xs[order], ys[order]], 1)[::20].astype(float)
        assert doc.refine_brush(path, radius=12)
        (y0, y1, x0, x1), weight = stroke_coverage(plain.shape, path, 12)
        brushed = np.zeros(plain.shape, bool)
        brushed[y0:y1, x0:x1] = weight > 0
        before = ((plain[brushed] / 255 - case.alpha[brushed]) ** 2).mean()
        after = ((doc.selection[brushed] / 255 - case.alpha[brushed]) ** 2).mean()
        assert after < before * 0.6, (case.name, before, after)
        np.testing.assert_array_equal(doc.selection[~brushed], plain[~brushed])
        assert doc.undo().label == "refine edge"
        np.testing.assert_array_equal(doc.selection, plain)
