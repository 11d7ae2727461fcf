"""Plain data passed across the engine's boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

XYXY = tuple[int, int, int, int]
"""A rectangle of image pixels as ``(x0, y0, x1, y1)``: columns x0..x1-1, rows y0..y1-1 (boxes,
zoomed regions, a frame's extent)."""

RowSpans = tuple[int, int, int, int]
"""A rectangle of image pixels in numpy's slicing order, ``(y0, y1, x0, x1)``: ``a[y0:y1, x0:x1]``
(the pixels an edit changed, kept by the undo history)."""


class InputFrame(NamedTuple):
    """Where the image lies in the encoder's ``1024 x 1024`` input, and so how the decoder's
    ``256 x 256`` low-res grid maps back onto the image.

    ``(height, width)``: the image's size in the 1024 frame. ``stretched`` False (SAM v1,
    MobileSAM): the image was resized keeping its aspect ratio, placed top-left and padded; the
    low-res grid covers the padded square (upsample to 1024, crop ``height x width``, resize to
    the image). True (SAM 2.1): the image was stretched over the whole square (``1024 x 1024``);
    the low-res grid covers exactly the image and is resized straight to it.
    """

    height: int
    width: int
    stretched: bool = False


def input_frame(size: tuple[int, int] | InputFrame) -> InputFrame:
    """``size`` as an ``InputFrame`` (a plain ``(height, width)`` is a padded frame)."""
    return size if isinstance(size, InputFrame) else InputFrame(int(size[0]), int(size[1]))


@dataclass(frozen=True)
class ImageEmbedding:
    """What the encoder makes of one image.

    ``features``: float32 ``(1, 256, 64, 64)``. ``original_size``: ``(H, W)`` of the image in
    pixels. ``input_size``: the image's frame in the encoder input (``InputFrame``; a plain
    ``(new_h, new_w)`` is a padded frame). ``high_res``: SAM 2.1's two high-resolution feature
    maps, float32 ``(1, 32, 256, 256)`` and ``(1, 64, 128, 128)``, which the decoder takes beside
    ``features``; empty for SAM v1 and MobileSAM.
    """

    features: np.ndarray
    original_size: tuple[int, int]
    input_size: InputFrame | tuple[int, int]
    high_res: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class Prompt:
    """One object's prompt, in original image pixels (x = column, y = row, floats allowed).

    ``points``: ``[(x, y), ...]``; ``labels``: ``[1 positive | 0 negative, ...]``;
    ``box``: ``(x0, y0, x1, y1)`` or None; ``mask_input``: float32 ``(256, 256)`` low-res logits
    of an earlier prediction (padded 1024 frame), or None.
    """

    points: Sequence[tuple[float, float]] = ()
    labels: Sequence[int] = ()
    box: tuple[float, float, float, float] | None = None
    mask_input: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Prediction:
    """Decoder result for one prompt.

    ``masks``: bool ``(C, H, W)`` at the original size; ``scores``: float32 ``(C,)`` raw IoU
    predictions (not probabilities; may be negative); ``low_res_logits``: float32
    ``(C, 256, 256)`` over the padded 1024 frame. ``C`` is 3 (tokens 1-3) for multimask
    output, 1 (token 0) otherwise.
    """

    masks: np.ndarray
    scores: np.ndarray
    low_res_logits: np.ndarray

    @property
    def best(self) -> int:
        """Index of the candidate with the highest predicted IoU."""
        return int(np.argmax(self.scores))
