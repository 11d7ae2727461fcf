"""What differs between model families, written once per family.

A *family* is a set of models that share pre- and postprocessing and the decoder's contract:

- ``sam``: SAM v1 (ViT-B/L/H) and MobileSAM. The image is resized keeping its aspect ratio
  (Pillow bilinear on uint8), normalised on the 0-255 scale and padded bottom/right to
  ``1024 x 1024``; prompt tokens are the clicks, then the box corners or, without a box, one
  padding point; the single-mask answer is token 0.
- ``sam2``: SAM 2.1 (Hiera). The image is stretched over the whole square (float bilinear with
  antialiasing, no padding); the encoder also gives two high-resolution feature maps that the
  decoder takes; prompt tokens are the box corners first, then the clicks, then always one
  padding point; coordinates scale by ``1024 / W`` and ``1024 / H`` in float32; the single-mask
  answer is token 0 only where it is stable, else the best multimask token; low-res logits are
  clamped to +-32 (as the official predictor returns them).

Everything else (the editor, app, CLI, hosts, finder and caches) is the same for every family:
the engine asks its ``FamilyRules`` and nothing above it knows which family it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samcut.models.engine.candidates import SINGLE_MASK_TOKEN, stable_single_token
from samcut.models.engine.preprocess import IMAGE_SIZE, decoder_prompt, encoder_input, prompt_points
from samcut.models.engine.stretch import stretched_input
from samcut.models.engine.types import InputFrame, Prompt

SAM, SAM2 = "sam", "sam2"
FAMILIES = (SAM, SAM2)
LOGIT_CLAMP = 32.0  # SAM 2.1's predictor returns its low-res logits clamped to this


@dataclass(frozen=True)
class FamilyRules:
    """One family's rules (see the module docstring); ``name`` is ``sam`` or ``sam2``."""

    name: str

    @property
    def high_res_outputs(self) -> tuple[str, ...]:
        """Encoder outputs besides ``image_embeddings`` that travel with the embedding to the decoder."""
        return ("high_res_feats_0", "high_res_feats_1") if self.name == SAM2 else ()

    def encoder_input(self, image: np.ndarray) -> tuple[np.ndarray, InputFrame]:
        """``uint8 H x W x 3`` RGB -> (float32 ``1 x 3 x 1024 x 1024``, the image's frame in it)."""
        if self.name == SAM2:
            return stretched_input(image), InputFrame(IMAGE_SIZE, IMAGE_SIZE, stretched=True)
        batch, (new_h, new_w) = encoder_input(image)
        return batch, InputFrame(new_h, new_w)

    def decoder_points(self, prompt: Prompt, original_size: tuple[int, int],
                       frame: InputFrame | tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Prompt (original pixels) -> (``point_coords`` float32 ``1 x N x 2`` in the 1024 frame,
        ``point_labels`` float32 ``1 x N``) in the family's token order. No clicks and no box: ``N = 0``."""
        if self.name != SAM2:
            return decoder_prompt(prompt, original_size, (int(frame[0]), int(frame[1])))
        points, labels, box = prompt_points(prompt)
        if box is not None:
            points = np.concatenate([box, points])
            labels = np.concatenate([[2.0, 3.0], labels])
        if len(points):
            points = np.concatenate([points, [[0.0, 0.0]]])
            labels = np.concatenate([labels, [-1.0]])
        h, w = original_size
        coords = points.astype(np.float32)  # as the official predictor: float32 / size * 1024
        coords[:, 0] = coords[:, 0] / np.float32(w) * np.float32(IMAGE_SIZE)
        coords[:, 1] = coords[:, 1] / np.float32(h) * np.float32(IMAGE_SIZE)
        return coords[None], labels.astype(np.float32)[None]

    def single_mask_token(self, logits: np.ndarray, scores: np.ndarray) -> int:
        """The single-mask answer among the four tokens (``logits`` ``4 x 256 x 256``, ``scores`` ``(4,)``)."""
        return stable_single_token(logits, scores) if self.name == SAM2 else SINGLE_MASK_TOKEN

    def low_res(self, logits: np.ndarray) -> np.ndarray:
        """The decoder's low-res logits as the family's predictor returns them (SAM 2.1: clamped to +-32)."""
        return np.clip(logits, -LOGIT_CLAMP, LOGIT_CLAMP, out=logits) if self.name == SAM2 else logits


def family_rules(name: str | None) -> FamilyRules:
    """The rules of family ``name`` (None, a model folder from before families: ``sam``)."""
    name = name or SAM
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r} (this samcut knows {', '.join(FAMILIES)})")
    return FamilyRules(name)
