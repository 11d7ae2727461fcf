"""SAM 2.1's encoder input (``stretch.stretched_input``) against the official goldens and torch."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest

from samcut.models.engine import stretch
from samcut.models.engine.stretch import IMAGE_SIZE, PIXEL_MEAN, PIXEL_STD, axis_taps, stretched_input

from reference import generated_goldens

# (H, W): enlarging, shrinking, one axis only, odd sizes, extreme aspect ratios
TORCH_SIZES = [(173, 512), (400, 600), (7, 13), (1, 1), (1025, 1023), (2049, 2047), (1024, 333), (4100, 1024),
               (1, 5000), (5000, 1), (3000, 2), (2, 3000), (4000, 3000), (3000, 4000), (999, 1777), (9000, 150)]


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed * 7919 + height * 31 + width).integers(0, 256, (height, width, 3), np.uint8)


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()


def _golden(name: str) -> np.lib.npyio.NpzFile:
    (path,) = [p for p in generated_goldens("sam2.1_hiera_tiny") if p.stem == name]
    return np.load(path)


def test_matches_the_official_encoder_input() -> None:
    golden = _golden("astronaut_crop_512x173")
    got = stretched_input(golden["image"])
    assert got.shape == golden["input_image"].shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert got.dtype == np.float32
    assert float(np.abs(got - golden["input_image"]).max()) <= 1e-5
    np.testing.assert_array_equal(got, golden["input_image"])  # bit for bit: same rounding steps as torch


@pytest.mark.parametrize("name", ["astronaut_crop_512x173", "camera_gray_512x512", "coffee_600x400"])
def test_bit_exact_with_the_goldens_sha256(name) -> None:
    golden = _golden(name)
    assert _sha256(stretched_input(golden["image"])) == str(golden["input_image_sha256"])


def _torch_input(image: np.ndarray) -> np.ndarray:
    """The official chain (torchvision's ToTensor, Resize((1024, 1024)) with antialias, Normalize)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(image.transpose(2, 0, 1)).contiguous().to(torch.float32).div(255)
    if tuple(x.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
        x = F.interpolate(x[None], (IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False, antialias=True)[0]
    mean = torch.tensor((0.485, 0.456, 0.406)).view(-1, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(-1, 1, 1)
    return x.clone().sub_(mean).div_(std)[None].numpy()


@pytest.mark.parametrize("size", TORCH_SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_matches_torch(size) -> None:
    pytest.importorskip("torch")
    image = _image(*size)
    got, want = stretched_input(image), _torch_input(image)
    assert got.shape == want.shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)
    # bit for bit on x86-64 (torch 2.13, AVX-512 kernel); other torch builds may round an ulp differently
    assert float(np.abs(got - want).max()) <= 1e-5


def test_square_1024_is_only_normalised() -> None:
    image = _image(IMAGE_SIZE, IMAGE_SIZE)
    unit = image.astype(np.float32) / np.float32(255)
    want = ((unit - PIXEL_MEAN) / PIXEL_STD).transpose(2, 0, 1)[None]
    np.testing.assert_array_equal(stretched_input(image), want)


@pytest.mark.parametrize("size", [(3000, 2000), (173, 512), (2, 30000), (5000, 3), (1024, 700)], ids=str)
def test_bands_do_not_change_the_result(size, monkeypatch) -> None:
    """Tiny bands (many rolling-buffer steps, one output row at a time) give the same bytes."""
    image = _image(*size, seed=3)
    whole = stretched_input(image)
    monkeypatch.setattr(stretch, "BAND_VALUES", 1 << 12)
    monkeypatch.setattr(stretch, "OUT_ROWS", 5)
    np.testing.assert_array_equal(stretched_input(image), whole)


def test_non_contiguous_input() -> None:
    image = _image(600, 800)
    view = image[::2, ::-1]
    np.testing.assert_array_equal(stretched_input(view), stretched_input(np.ascontiguousarray(view)))


def test_axis_weights_sum_to_one_and_stay_sparse() -> None:
    for size in (1, 2, 173, 1023, 1025, 3000, 300000):
        taps = axis_taps(size)
        assert taps.weights.shape[0] == IMAGE_SIZE
        assert taps.weights.shape[1] == 2 * int(np.ceil(max(size / IMAGE_SIZE, 1.0))) + 1
        assert np.allclose(taps.weights.sum(axis=1), 1.0, atol=1e-5)
        assert (taps.first >= 0).all() and (taps.end <= size).all() and (np.diff(taps.end) >= 0).all()


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8),
                                 np.zeros((4, 4, 4), np.uint8), np.zeros((0, 4, 3), np.uint8)], ids=str)
def test_rejects_what_is_not_a_uint8_rgb_image(bad) -> None:
    with pytest.raises(ValueError, match="uint8 H x W x 3|size must be positive"):
        stretched_input(bad)


FIXED_OVERHEAD = 80 << 20  # output (12.6 MB), bands, weights and temporaries, whatever the photo


@pytest.mark.parametrize("size", [(2, 300000), (6000, 8000)], ids=lambda s: f"{s[1]}x{s[0]}")
def test_memory_is_bounded(size) -> None:
    image = _image(*size)
    stretched_input(image[:3, :3])  # numpy's own first-use allocations
    axis_taps.cache_clear()
    tracemalloc.start()
    try:
        out = stretched_input(image)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)
    # never a float copy of the photo (4 bytes a value): a tenth of it is room for the weights of a long side
    bound = image.nbytes // 10 + FIXED_OVERHEAD
    assert peak < bound, f"peak {peak / 1e6:.1f} MB for a {image.nbytes / 1e6:.1f} MB photo"
