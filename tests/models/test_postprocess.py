"""Our folded numpy upsampling against torch's two-step F.interpolate (the official predictor's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from samcut.models.engine import resized_size, upsample_logits, upsample_masks

SIZES = [(1, 1), (2, 3), (5, 1024), (1024, 3), (173, 512), (300, 451), (1024, 1024), (683, 1024),
         (1500, 1000), (3000, 4000), (4001, 2999)]


def torch_postprocess(low: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    new_h, new_w = resized_size(*size)
    t = torch.from_numpy(low)[None]
    t = F.interpolate(t, (1024, 1024), mode="bilinear", align_corners=False)
    t = t[..., :new_h, :new_w]
    t = F.interpolate(t, size, mode="bilinear", align_corners=False)
    return t[0].numpy()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_upsampling_matches_torch(size) -> None:
    rng = np.random.default_rng(size[0] * 7 + size[1])
    low = (rng.standard_normal((2, 256, 256)) * 4).astype(np.float32)
    want = torch_postprocess(low, size)
    got = upsample_logits(low, resized_size(*size), size)
    assert got.shape == want.shape == (2, *size)
    assert float(np.abs(got - want).max()) < 5e-4  # float32 rounding of |logits| up to ~20
    disagree = (got > 0) != (want > 0)
    assert disagree.mean() < 1e-5


def test_region_equals_slice_of_full() -> None:
    rng = np.random.default_rng(5)
    low = rng.standard_normal((3, 256, 256)).astype(np.float32)
    size = (1200, 1600)
    full = upsample_masks(low, resized_size(*size), size)
    region = upsample_masks(low, resized_size(*size), size, rows=slice(100, 333), cols=slice(1500, 1600))
    np.testing.assert_array_equal(region, full[:, 100:333, 1500:1600])


def test_resized_size_rounds_half_up_and_keeps_one_pixel() -> None:
    assert resized_size(300, 451) == (681, 1024)
    assert resized_size(400, 600) == (683, 1024)
    assert resized_size(1, 5000) == (1, 1024)
    with pytest.raises(ValueError):
        resized_size(0, 10)


@pytest.mark.parametrize("size", [(300, 451), (1024, 1024), (3000, 4000), (7, 9)], ids=str)
def test_full_mask_by_region_equals_whole_frame(size) -> None:
    from samcut.models.engine.postprocess import full_mask

    rng = np.random.default_rng(11)
    low = np.full((256, 256), -5.0, np.float32)
    low[40:90, 100:180] = rng.uniform(-1, 6, (50, 80))
    low[200, 10] = 3.0
    expected = upsample_masks(low[None], resized_size(*size), size)[0]
    np.testing.assert_array_equal(full_mask(low, resized_size(*size), size), expected)
    assert not full_mask(np.full((256, 256), -1.0, np.float32), resized_size(*size), size).any()


@pytest.mark.parametrize("size", [(300, 451), (3000, 4000), (7, 9)], ids=str)
def test_sampled_mask_equals_the_whole_frame_at_its_samples(size) -> None:
    from samcut.models.engine.postprocess import sampled_mask

    def sample_grid(start: float, stop: float, scale: float, limit: int) -> np.ndarray:  # one per screen pixel
        lo, hi = int(start), min(limit, int(np.ceil(stop)))
        return np.unique(np.linspace(lo, hi - 1, max(1, int((hi - lo) * scale))).astype(np.int64))

    rng = np.random.default_rng(5)
    low = np.full((256, 256), -4.0, np.float32)
    low[60:140, 30:90] = rng.uniform(-1, 5, (80, 60))
    whole = upsample_masks(low[None], resized_size(*size), size)[0]
    h, w = size
    for y0, y1, x0, x1, scale in ((0, h, 0, w, 0.3), (h * 0.2, h * 0.7, w * 0.1, w * 0.5, 1.7), (0, h, w / 2, w, 1.0)):
        rows, cols = sample_grid(y0, y1, scale, h), sample_grid(x0, x1, scale, w)
        np.testing.assert_array_equal(sampled_mask(low, resized_size(*size), size, rows, cols),
                                      whole[np.ix_(rows, cols)])
    assert not sampled_mask(np.full((256, 256), -1.0, np.float32), resized_size(*size), size,
                            np.arange(h), np.arange(w)).any()


def test_large_images_resize_band_by_band_to_the_same_bytes() -> None:
    """Above ``BAND_BY_BAND_PIXELS`` the encoder's resize runs one channel at a time (a third of
    the memory); the result must be the bytes Pillow's RGB resize gives (the official predictor's)."""
    from PIL import Image

    from samcut.models.engine import preprocess

    rng = np.random.default_rng(0)
    for shape in [(3000, 2000), (1030, 5000)]:
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        img[: shape[0] // 2] = (np.arange(shape[1]) % 256)[None, :, None]
        assert shape[0] * shape[1] > preprocess.BAND_BY_BAND_PIXELS
        nh, nw = preprocess.resized_size(*shape)
        expected = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BILINEAR))
        np.testing.assert_array_equal(preprocess.resize_image(img), expected)


@pytest.mark.parametrize("size", [(16, 400000), (400000, 16), (64, 200000), (1, 70000)], ids=lambda s: f"{s[1]}x{s[0]}")
def test_thin_strips_match_torch(size) -> None:
    """Long thin images (issue 25): the sparse per-axis taps give torch's values on a 400000-pixel side."""
    rng = np.random.default_rng(size[0] + size[1])
    low = (rng.standard_normal((1, 256, 256)) * 4).astype(np.float32)
    want = torch_postprocess(low, size)
    got = upsample_logits(low, resized_size(*size), size)
    assert got.shape == want.shape == (1, *size)
    assert float(np.abs(got - want).max()) < 5e-4
    np.testing.assert_array_equal(upsample_masks(low, resized_size(*size), size), got > 0)


@pytest.mark.parametrize("resized,original", [(1024, 1024), (683, 1500), (1, 16), (3, 64), (1024, 400000), (681, 300),
                                              (1024, 5)])
def test_axis_taps_are_the_dense_weights_of_each_axis(resized, original) -> None:
    """Each photo row's weights on the 256 cells, as torch's two 1-D resizes give them (one impulse per
    cell), are non-zero on at most ``TAPS`` cells, all inside the row's taps."""
    from samcut.models.engine.postprocess import TAPS, axis_taps

    impulses = torch.eye(256)[None]  # 1 x 256 cells x 256 samples
    t = F.interpolate(impulses, 1024, mode="linear", align_corners=False)[..., :resized]
    want = F.interpolate(t, original, mode="linear", align_corners=False)[0].T.numpy()  # original x 256
    taps = axis_taps(resized, original)
    got = taps.at(np.arange(original)[:, None], np.arange(256)[None, :])
    assert got.shape == (original, 256) and got.dtype == np.float32
    assert float(np.abs(got - want).max()) < 3e-5  # torch folds in float32, we in float64
    assert int((want > 1e-7).sum(axis=1).max()) <= TAPS
