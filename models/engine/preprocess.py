"""Image and prompt preprocessing, exactly as the official MobileSAM predictor does it.

Frames: *original* pixels of the ``H x W`` image; the *resized* frame where the longest
side is 1024 (``new_h x new_w``, rounded half up); the *padded* 1024 x 1024 square that the
encoder sees (the resized image at the top-left, zeros elsewhere after normalising).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from samcut.models.engine.types import Prompt

IMAGE_SIZE = 1024
LOW_RES = 256
PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)


def resized_size(height: int, width: int, target: int = IMAGE_SIZE) -> tuple[int, int]:
    """``(new_h, new_w)`` with the longest side ``target``; scale in double precision, round half up.

    A side that would round to 0 (strips thinner than 1:2048) is kept at 1 pixel, where the
    official predictor would fail.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    scale = target * 1.0 / max(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


BAND_BY_BAND_PIXELS = 4_000_000  # above this, resize channel by channel (same result, a third of the copy)


def resize_image(image: np.ndarray) -> np.ndarray:
    """``uint8 H x W x 3`` -> ``uint8 new_h x new_w x 3`` with Pillow's bilinear filter.

    Pillow's bilinear antialiases when shrinking; using Pillow itself keeps us bit-identical
    to the official predictor (which resizes through a PIL image).
    """
    new_h, new_w = resized_size(*image.shape[:2])
    if (new_h, new_w) == image.shape[:2]:
        return image
    if image.shape[0] * image.shape[1] <= BAND_BY_BAND_PIXELS:
        return np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    # Large images one channel at a time: Pillow resamples each band with the same weights, so the
    # result is the same bytes, and the copy Pillow needs is one channel (100 MB at 100 MP), not three.
    out = np.empty((new_h, new_w, 3), np.uint8)
    for c in range(3):
        band = Image.fromarray(np.ascontiguousarray(image[..., c]))
        out[..., c] = np.asarray(band.resize((new_w, new_h), Image.BILINEAR))
    return out


def encoder_input(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """``uint8 H x W x 3`` RGB -> (float32 ``1 x 3 x 1024 x 1024``, ``(new_h, new_w)``).

    Resize, normalise per channel, then pad bottom/right with 0 (the mean colour).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 RGB image, got {image.dtype} {image.shape}")
    resized = resize_image(image)
    new_h, new_w = resized.shape[:2]
    batch = np.zeros((1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    normalised = (resized.astype(np.float32) - PIXEL_MEAN) / PIXEL_STD
    batch[0, :, :new_h, :new_w] = normalised.transpose(2, 0, 1)
    return batch, (new_h, new_w)


def prompt_points(prompt: Prompt) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The prompt's clicks float64 ``N x 2`` (x, y), labels ``(N,)`` and box ``2 x 2`` (corners) or None,
    checked: as many labels as points, labels 0 or 1, finite coordinates (``ValueError`` otherwise)."""
    points = np.asarray(prompt.points, np.float64).reshape(-1, 2)
    labels = np.asarray(prompt.labels, np.float64).reshape(-1)
    if len(points) != len(labels):
        raise ValueError(f"{len(points)} points but {len(labels)} labels")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("point labels must be 1 (positive) or 0 (negative)")
    if not np.isfinite(points).all():
        raise ValueError("point coordinates must be finite numbers")
    box = None
    if prompt.box is not None:
        box = np.asarray(prompt.box, np.float64).reshape(2, 2)
        if not np.isfinite(box).all():
            raise ValueError("box coordinates must be finite numbers")
    return points, labels, box


def decoder_prompt(prompt: Prompt, original_size: tuple[int, int],
                   input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Prompt -> (``point_coords`` float32 ``1 x N x 2`` in the resized frame, ``point_labels`` ``1 x N``).

    Like the predictor: points first, then either the box corners (labels 2, 3) or, without
    a box, one padding point ``(0, 0)`` with label -1. x and y scale separately, with the
    rounded resized size. A prompt with neither points nor box gives ``N = 0``.
    """
    points, labels, box = prompt_points(prompt)
    if box is not None:
        points = np.concatenate([points, box])
        labels = np.concatenate([labels, [2.0, 3.0]])
    elif len(points):
        points = np.concatenate([points, [[0.0, 0.0]]])
        labels = np.concatenate([labels, [-1.0]])
    (h, w), (new_h, new_w) = original_size, input_size
    scaled = points * np.array([new_w / w, new_h / h])
    return scaled.astype(np.float32)[None], labels.astype(np.float32)[None]


def mask_input_array(mask_input: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Optional ``256 x 256`` logits -> (``1 x 1 x 256 x 256`` float32, ``has_mask_input`` ``(1,)``)."""
    if mask_input is None:
        return np.zeros((1, 1, LOW_RES, LOW_RES), np.float32), np.zeros(1, np.float32)
    array = np.asarray(mask_input, np.float32)
    if array.size != LOW_RES * LOW_RES:
        raise ValueError(f"mask_input must be {LOW_RES} x {LOW_RES} logits, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("mask_input holds NaN or infinite values")
    return array.reshape(1, 1, LOW_RES, LOW_RES), np.ones(1, np.float32)
