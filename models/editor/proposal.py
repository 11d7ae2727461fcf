"""A decoder result shown to the user: the candidate masks of one prompt, one of them chosen."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from samcut.models.engine.finder import FoundObject
from samcut.models.engine.postprocess import full_mask, sampled_mask
from samcut.models.engine.refine import refine_alpha


class DecoderOutput(Protocol):
    """What a proposal is made from: a decoder result (``service.DecodeResult`` is one)."""

    low_res_logits: np.ndarray   # 4 x 256 x 256, tokens 0-3
    scores: np.ndarray           # (4,)
    default: int                 # the candidate rule's token
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    origin: tuple[int, int]
    model: str                   # the model that answered


@dataclass(frozen=True)
class Proposal:
    """Candidate masks for the current prompt: ``C x 256 x 256`` logits, ``(C,)`` scores, the chosen one.

    The logits belong to a frame: the whole image, or a zoomed region of it whose top-left is
    ``origin`` ``(x, y)`` and whose size is ``original_size``; ``image_size`` is the whole image's
    ``(H, W)``. Every mask method answers in whole-image pixels (zero outside the frame).
    ``model`` names the model that decoded it; ``default`` is the candidate rule's token.
    """

    low_res_logits: np.ndarray
    scores: np.ndarray
    chosen: int
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    origin: tuple[int, int] = (0, 0)
    image_size: tuple[int, int] | None = None
    model: str = ""
    default: int = 0

    @property
    def whole_image(self) -> bool:
        return self.origin == (0, 0) and self.image_size in (None, self.original_size)

    @property
    def frame(self) -> tuple[slice, slice]:
        """Rows and columns of the image that the frame covers."""
        (x0, y0), (h, w) = self.origin, self.original_size
        return slice(y0, y0 + h), slice(x0, x0 + w)

    def _place(self, frame_values: np.ndarray) -> np.ndarray:
        """A whole-image array holding ``frame_values`` in the frame, zero elsewhere."""
        if self.whole_image:
            return frame_values
        out = np.zeros(self.image_size, frame_values.dtype)
        out[self.frame] = frame_values
        return out

    @classmethod
    def from_result(cls, result: DecoderOutput, image_size: tuple[int, int]) -> Proposal:
        """``result`` shown in an image of ``image_size`` ``(H, W)``, the candidate rule's token chosen."""
        return cls(result.low_res_logits, result.scores, result.default, result.input_size,
                   result.original_size, result.origin, image_size, result.model, result.default)

    @classmethod
    def from_object(cls, found: FoundObject, image_size: tuple[int, int], model: str = "") -> Proposal:
        """A found object as the proposal: the decoder's own logits for it as the one candidate, with
        its predicted IoU, in an image of ``image_size`` ``(H, W)``, found by ``model``."""
        return cls(found.logits()[None], np.array([found.predicted_iou], np.float32), 0, found.input_frame(image_size),
                   tuple(image_size), (0, 0), tuple(image_size), model)

    def with_chosen(self, chosen: int) -> Proposal:
        return replace(self, chosen=chosen % self.count)

    @property
    def count(self) -> int:
        return int(self.scores.shape[0])

    @property
    def score(self) -> float:
        return float(self.scores[self.chosen])

    def mask(self, rows: slice | np.ndarray = slice(None), cols: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The chosen candidate as bool, for a rectangle or ascending sampled rows/columns of the image
        (only the samples inside its positive region are upsampled)."""
        logits = self.low_res_logits[self.chosen]
        (x0, y0), (h, w) = self.origin, self.original_size
        height, width = self.image_size or self.original_size
        r = np.arange(height)[rows] - y0
        c = np.arange(width)[cols] - x0
        r_in, c_in = (r >= 0) & (r < h), (c >= 0) & (c < w)
        if r_in.all() and c_in.all():
            return sampled_mask(logits, self.input_size, self.original_size, r, c)
        out = np.zeros((r.size, c.size), bool)
        if r_in.any() and c_in.any():
            out[np.ix_(r_in, c_in)] = sampled_mask(logits, self.input_size, self.original_size, r[r_in], c[c_in])
        return out

    def full(self) -> np.ndarray:
        """The chosen candidate as a bool whole-image mask (computed on its bounding region only)."""
        return self._place(full_mask(self.low_res_logits[self.chosen], self.input_size, self.original_size))

    def refined(self, rgb: np.ndarray) -> np.ndarray:
        """The chosen candidate as ``uint8`` alpha with its edge refined against ``rgb`` (whole image)."""
        return self._place(refine_alpha(rgb[self.frame], self.low_res_logits[self.chosen], self.input_size,
                                        self.original_size))
