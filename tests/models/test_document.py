"""Document layer: stroke -> prompt invariances, selection operations, the undo timeline's bounds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samcut.models.document.selection import Mode, combine, feather, grow, shrink, smooth
from samcut.models.document.strokes import MAX_POINTS_PER_STROKE, MAX_PROMPT_POINTS, Stroke, StrokePrompt, resample_path
from samcut.models.editor.history import Step, Timeline, changed_box


def curve(n: int) -> list[tuple[float, float]]:
    """A smooth S-curve sampled with ``n`` events at uneven (speed-varying) parameter steps."""
    t = np.linspace(0, 1, n) ** 1.7  # the hand slows down, then speeds up
    return [(100 + 400 * float(u), 300 + 120 * float(np.sin(u * 2 * np.pi))) for u in t]


def test_same_path_at_different_event_rates_gives_the_same_points() -> None:
    sparse = resample_path(curve(400), spacing=80)
    dense = resample_path(curve(4000), spacing=80)
    assert sparse.shape == dense.shape
    assert np.abs(sparse - dense).max() < 1.0


def test_repeated_and_collinear_events_change_nothing() -> None:
    path = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)]
    slow = [(0.0, 0.0), (0.0, 0.0), (50.0, 0.0), (100.0, 0.0), (100.0, 0.0), (100.0, 30.0), (100.0, 100.0)]
    np.testing.assert_allclose(resample_path(path, 40), resample_path(slow, 40))


def test_points_are_evenly_spaced_along_the_stroke() -> None:
    pts = resample_path([(0.0, 0.0), (300.0, 0.0)], spacing=100)
    np.testing.assert_allclose(pts, [[50, 0], [150, 0], [250, 0]])


def test_point_count_is_bounded() -> None:
    long = [(float(x), 0.0) for x in range(0, 100_000, 7)]
    assert len(resample_path(long, spacing=10)) == MAX_POINTS_PER_STROKE
    prompt = StrokePrompt((1000, 1000), [Stroke(tuple(long), True)] * 10)
    points, labels = prompt.points_and_labels()
    assert len(points) == len(labels) == MAX_PROMPT_POINTS


def test_click_is_one_point_at_the_press() -> None:
    np.testing.assert_allclose(resample_path([(10.0, 20.0), (11.0, 20.5)], spacing=80), [[10, 20]])


def test_negative_strokes_give_label_0() -> None:
    prompt = StrokePrompt((500, 500), [Stroke(((10.0, 10.0),), True), Stroke(((50.0, 50.0),), False)])
    assert prompt.points_and_labels()[1] == [1, 0]


@pytest.mark.parametrize("mode,expected", [
    (Mode.REPLACE, [0, 255, 255, 0]), (Mode.ADD, [255, 255, 255, 0]),
    (Mode.SUBTRACT, [255, 0, 0, 0]), (Mode.INTERSECT, [0, 255, 0, 0])])
def test_selection_modes(mode, expected) -> None:
    sel = np.array([[255, 255, 0, 0]], np.uint8)
    prop = np.array([[False, True, True, False]])
    np.testing.assert_array_equal(combine(sel, prop, mode)[0], expected)


def test_grow_shrink_feather_smooth() -> None:
    m = np.zeros((60, 60), np.uint8)
    m[20:40, 20:40] = 255
    g = grow(m, 5)
    assert g[15, 30] == 255 and g[14, 30] == 0 and g[20, 30] == 255
    s = shrink(m, 5)
    assert s[25, 30] == 255 and s[24, 30] == 0
    np.testing.assert_array_equal(shrink(grow(m, 3), 3)[20:40, 20:40], 255)
    f = feather(m, 3)
    assert 0 < f[20, 30] < 255 and f[30, 30] == 255
    speck = m.copy()
    speck[5, 5] = 255
    assert smooth(speck, 3)[5, 5] == 0 and smooth(speck, 3)[30, 30] == 255


def test_changed_box_is_the_rectangle_of_differing_pixels() -> None:
    old = np.zeros((1000, 1000), np.uint8)
    new = old.copy()
    new[100:110, 200:230] = 255
    assert changed_box(old, new) == (100, 110, 200, 230)
    assert changed_box(new, new.copy()) is None


def test_timeline_is_bounded_by_steps_and_bytes() -> None:
    timeline = Timeline(max_steps=3)
    for i in range(5):
        timeline.push(Step(f"step {i}"))
    labels = []
    while (step := timeline.step_back()) is not None:
        labels.append(step.label)
    assert labels == ["step 4", "step 3", "step 2"]
    pixels = np.zeros((100, 100), np.uint8)
    timeline = Timeline(max_bytes=3 * 2 * pixels.nbytes)
    for i in range(5):
        timeline.push(Step(f"big {i}", (0, 100, 0, 100), pixels, pixels, selection_before=i, selection_after=i + 1))
    assert len(timeline) == 3 and timeline.nbytes == 3 * 2 * pixels.nbytes
    timeline.push(Step("huge", (0, 100, 0, 100), np.zeros((1000, 1000), np.uint8), np.zeros((1000, 1000), np.uint8)))
    assert len(timeline) == 1 and timeline.undo_label() == "huge"  # the newest step is always kept


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff", ".webp", ".bmp"])
def test_masks_and_cutouts_are_written_losslessly_in_the_format_their_name_says(tmp_path, ext) -> None:
    from samcut.models.document.cutout import output_extensions, save_cutout, save_mask

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    mask = rng.integers(0, 256, (40, 50), dtype=np.uint8)  # soft values too
    save_mask(tmp_path / f"m{ext}", mask)
    with Image.open(tmp_path / f"m{ext}") as written:
        assert written.format == {".tif": "TIFF", ".tiff": "TIFF"}.get(ext, ext[1:].upper())
        np.testing.assert_array_equal(np.asarray(written.convert("L")), mask)
    if ext not in output_extensions(cutout=True):
        with pytest.raises(ValueError, match="cannot write a cutout as .bmp"):
            save_cutout(tmp_path / f"c{ext}", rgb, mask)
        assert not (tmp_path / f"c{ext}").exists()
        return
    save_cutout(tmp_path / f"c{ext}", rgb, mask)
    with Image.open(tmp_path / f"c{ext}") as written:
        back = np.asarray(written.convert("RGBA"))
    np.testing.assert_array_equal(back[..., 3], mask)
    np.testing.assert_array_equal(back[..., :3], rgb)  # colour kept even where fully transparent
