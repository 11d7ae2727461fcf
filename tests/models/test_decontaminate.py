"""Colour decontamination: the background's colour leaves the cutout's soft edge."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from samcut.models.document.cutout import cutout_rgba
from samcut.models.document.decontaminate import decontaminate

from reference import synthetic_dir

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))  # (last: bench/ must shadow no package)

from refine_data import blob_alpha  # noqa: E402


def composite(seed: int, h: int = 512, w: int = 768) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo object over a green-tinted photo background through a soft blob mask: (rgb, alpha, F)."""
    photos = sorted(synthetic_dir().glob("composite_[0-9].png"))
    fg = np.asarray(Image.open(photos[seed]).convert("RGB").resize((w, h)), np.float32)
    bg = np.asarray(Image.open(photos[seed + 1]).convert("RGB").resize((w, h)), np.float32)[::-1, ::-1]
    bg = 0.5 * bg + 0.5 * np.array([0, 180, 0], np.float32)
    a = blob_alpha(h, w, 5.0, seed=seed)
    rgb = (a[..., None] * fg + (1 - a[..., None]) * bg + 0.5).astype(np.uint8)
    return rgb, (a * 255 + 0.5).astype(np.uint8), fg


def test_edge_colours_move_towards_the_object_colour() -> None:
    for seed in (0, 2):
        rgb, alpha, fg = composite(seed)
        out = decontaminate(rgb, alpha)
        soft = (alpha > 0) & (alpha < 255)
        before = np.abs(rgb[soft] - fg[soft]).mean()
        after = np.abs(out[soft] - fg[soft]).mean()
        assert after < 0.5 * before, (seed, before, after)
        green_before = (rgb[soft, 1] - fg[soft, 1]).mean()
        green_after = (out[soft, 1] - fg[soft, 1]).mean()
        assert abs(green_after) < 0.5 * green_before  # the green fringe is mostly gone
        np.testing.assert_array_equal(out[~soft], rgb[~soft])  # opaque and transparent pixels untouched


def test_hard_masks_and_cutouts() -> None:
    rgb, alpha, _ = composite(1, 128, 192)
    hard = np.where(alpha >= 128, 255, 0).astype(np.uint8)
    np.testing.assert_array_equal(decontaminate(rgb, hard), rgb)
    plain = cutout_rgba(rgb, alpha)
    clean = cutout_rgba(rgb, alpha, decontaminate=True)
    np.testing.assert_array_equal(plain[..., 3], clean[..., 3])
    assert (plain[..., :3] != clean[..., :3]).any()
    only_soft = np.full_like(alpha, 128)  # no opaque or transparent pixel anywhere: colours stay
    np.testing.assert_array_equal(decontaminate(rgb, only_soft), rgb)
