"""A small, honest stand-in for ``SamEngine``: masks made from the prompt's geometry, no model.

For editor and GUI logic tests that need no real segmentation: deterministic, instant, and it
speaks the engine's real interface (``encode``, ``decode_low_res``) in the real frames, so every
layer above it (service, editor, window) runs unchanged. Tokens 1-3 are discs of growing radius
around the positive points (part, object, group), token 0 their union around every positive
point minus a disc around every negative one, intersected with the box if there is one; a box
alone is its rectangle. Predicted IoUs favour token 2 among the multimask candidates.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from samcut.models.engine.candidates import default_token
from samcut.models.engine.errors import EncodeCancelled
from samcut.models.engine.family import family_rules
from samcut.models.engine.preprocess import resized_size
from samcut.models.engine.types import ImageEmbedding, Prompt

LOW_RES = 256
RADII = {1: 0.02, 2: 0.05, 3: 0.09}  # of the 1024 frame's side, per multimask token
SCORES = np.array([0.9, 0.5, 0.8, 0.6], np.float32)


class FakeEngine:
    """Duck-types ``SamEngine`` for ``SegmentationService``; counts its calls.

    Two fakes are two models: ``name`` is its folder (what handles and results name), ``scale``
    multiplies its discs' radii (another model answers the same prompt with other masks), and an
    encode waits for ``gate`` (set it to let the encode end; cancellable meanwhile)."""

    manifest: dict = {}
    rules = family_rules("sam")

    def __init__(self, name: str = "fake", scale: float = 1.0, gate: threading.Event | None = None) -> None:
        self.model_dir = Path(name)
        self.scale = scale
        self.gate = gate
        self.encodes = 0
        self.decodes = 0
        self.cancelled_encodes = 0
        self.encoding = threading.Event()  # set while an encode waits for its gate

    def encoder_runtime(self) -> str:
        return "fake"

    def encode(self, image: np.ndarray, cancel: object = None) -> ImageEmbedding:
        self.encodes += 1
        if self.gate is not None:
            self.encoding.set()
            try:
                while not self.gate.wait(0.01):
                    if cancel is not None and cancel.cancelled:
                        self.cancelled_encodes += 1
                        raise EncodeCancelled("encode cancelled")
            finally:
                self.encoding.clear()
        h, w = image.shape[:2]
        return ImageEmbedding(np.zeros((1, 256, 64, 64), np.float32), (h, w), resized_size(h, w))

    def default_token(self, logits: np.ndarray, scores: np.ndarray, prompt: Prompt) -> int:
        return default_token(scores, len(prompt.points), prompt.box is not None)

    def decode_low_res(self, embedding: ImageEmbedding, prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
        self.decodes += 1
        (h, w), (nh, nw) = embedding.original_size, embedding.input_size
        to_grid = np.array([nw / w, nh / h]) * LOW_RES / 1024  # image pixels -> 256 grid cells
        gy, gx = np.mgrid[0:LOW_RES, 0:LOW_RES] + 0.5
        points = [np.asarray(p, float) * to_grid for p in prompt.points]
        labels = list(prompt.labels)

        def discs(radius: float, positive: bool) -> np.ndarray:
            out = np.zeros((LOW_RES, LOW_RES), bool)
            for p, label in zip(points, labels, strict=True):
                if bool(label) == positive:
                    out |= np.hypot(gx - p[0], gy - p[1]) <= radius * self.scale * LOW_RES
            return out

        masks = np.zeros((4, LOW_RES, LOW_RES), bool)
        for token, radius in RADII.items():
            masks[token] = discs(radius, True)
        masks[0] = discs(RADII[2], True) & ~discs(RADII[1], False)
        if prompt.box is not None:
            x0, y0 = np.asarray(prompt.box[:2]) * to_grid
            x1, y1 = np.asarray(prompt.box[2:]) * to_grid
            rect = (gx >= x0) & (gx <= x1) & (gy >= y0) & (gy <= y1)
            masks[:] = rect if not points else masks & rect
        return np.where(masks, 10.0, -10.0).astype(np.float32), SCORES.copy()

    def load_encoder(self) -> None:
        """(A fake has no session to make.)"""
