"""Plain data passed across the engine's boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

XYXY = tuple[int, int, int, int]
"""A rectangle of image pixels as ``(x0, y0, x1, y1)``: columns x0..x1-1, rows y0..y1-1 (boxes,
zoomed regions, a frame's extent)."""

RowSpans = tuple[int, int, int, int]
"""A rectangle of image pixels in numpy's slicing order, ``(y0, y1, x0, x1)``: ``a[y0:y1, x0:x1]``
(the pixels an edit changed, kept by the undo history)."""


@dataclass(frozen=True)
class ImageEmbedding:
    """What the encoder makes of one image.

    ``features``: float32 ``(1, 256, 64, 64)``. ``original_size``: ``(H, W)`` of the image in
    pixels. ``input_size``: ``(new_h, new_w)``, the image's size in the 1024 frame before padding.
    """

    features: np.ndarray
    original_size: tuple[int, int]
    input_size: tuple[int, int]


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
