"""SAM 2.1 in image mode: Hiera image encoder + SAM prompt encoder + SAM 2 mask decoder, and strict loading.

Only the export step uses this module (torch is a build-time dependency of samcut).

Video-only modules. The official checkpoints also hold the video tracker's tensors (memory encoder,
memory attention, object-pointer projections, ...). The model defines none of them: ``load_sam2``
skips exactly the keys under ``VIDEO_ONLY_PREFIXES`` (present or not) and is strict about every other
key, so every tensor of ``Sam2`` is one the image path computes with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from samcut.models.mobile_sam.prompt_encoder import PromptEncoder
from samcut.models.mobile_sam.sam import CheckpointError as MobileSamCheckpointError
from samcut.models.mobile_sam.sam import read_state_dict, state_mismatch
from samcut.models.sam2.hiera import NECK_DIM, SAM2_CONFIGS, ImageEncoder
from samcut.models.sam2.mask_decoder import Sam2MaskDecoder

IMAGE_SIZE = 1024
EMBED_GRID = 64
PIXEL_MEAN = (0.485, 0.456, 0.406)  # on the 0-1 scale (the predictor divides by 255 first)
PIXEL_STD = (0.229, 0.224, 0.225)
# Checkpoint keys of the video tracker (``SAM2Base`` / ``SAM2VideoPredictor`` only); image mode never reads them.
VIDEO_ONLY_PREFIXES = (
    "maskmem_tpos_enc", "no_mem_pos_enc", "no_obj_ptr", "no_obj_embed_spatial", "mask_downsample.",
    "memory_attention.", "memory_encoder.", "obj_ptr_proj.", "obj_ptr_tpos_proj.",
)


class CheckpointError(RuntimeError):
    """A checkpoint file is not a SAM 2.1 state dict of the requested size."""


def is_video_only(key: str) -> bool:
    """Whether ``key`` belongs to the video tracker (``VIDEO_ONLY_PREFIXES``)."""
    return key.startswith(VIDEO_ONLY_PREFIXES)


def image_features(image_encoder: ImageEncoder, mask_decoder: Sam2MaskDecoder, no_mem_embed: torch.Tensor,
                   image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What ``SAM2ImagePredictor.set_image`` keeps: ``1 x 3 x 1024 x 1024`` normalised image ->
    ``(image_embeddings 1 x 256 x 64 x 64`` including ``no_mem_embed``, ``high_res_feats_0 1 x 32 x 256²``
    after ``conv_s0``, ``high_res_feats_1 1 x 64 x 128²`` after ``conv_s1)``."""
    level0, level1, level2 = image_encoder(image)
    embedding = level2 + no_mem_embed.reshape(1, -1, 1, 1)
    return embedding, mask_decoder.conv_s0(level0), mask_decoder.conv_s1(level1)


def decode_prompts(prompt_encoder: PromptEncoder, mask_decoder: Sam2MaskDecoder, image_embeddings: torch.Tensor,
                   feats_0: torch.Tensor, feats_1: torch.Tensor, point_coords: torch.Tensor,
                   point_labels: torch.Tensor, mask_input: torch.Tensor,
                   has_mask_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``B`` prompts on one image (``image_features``' three outputs, batch 1).

    ``point_coords`` ``B x N x 2`` in the 1024 frame (no +0.5), tokens ordered box corners (labels 2, 3),
    clicks (1 / 0), then the padding point ``(0, 0)`` with label -1 (always, as the predictor does);
    ``point_labels`` ``B x N``; ``mask_input`` ``B x 1 x 256 x 256`` logits; ``has_mask_input`` ``(B,)``
    (0 or 1). Returns ``(low_res_logits B x 4 x 256 x 256`` (all four tokens, unclamped),
    ``iou_predictions B x 4`` (after the sigmoid), ``object_score_logits B x 1)``.
    """
    sparse = prompt_encoder.embed_points(point_coords, point_labels)
    dense = prompt_encoder.embed_mask(mask_input, has_mask_input)
    return mask_decoder(image_embeddings, prompt_encoder.dense_positional_encoding(), sparse, dense, feats_0, feats_1)


class Sam2(nn.Module):
    """The image-mode parts of SAM 2.1 under the official state-dict names."""

    def __init__(self, size: str) -> None:
        super().__init__()
        if size not in SAM2_CONFIGS:
            raise ValueError(f"unknown SAM 2.1 size {size!r} (one of {', '.join(SAM2_CONFIGS)})")
        self.size = size
        self.image_encoder = ImageEncoder(SAM2_CONFIGS[size])
        self.sam_prompt_encoder = PromptEncoder(embed_dim=NECK_DIM, grid_size=EMBED_GRID, image_size=IMAGE_SIZE)
        self.sam_mask_decoder = Sam2MaskDecoder(NECK_DIM)
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, NECK_DIM))

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``1 x 3 x 1024 x 1024`` (resized to the square and normalised) -> ``(image_embeddings,
        high_res_feats_0, high_res_feats_1)``, see ``image_features``."""
        return image_features(self.image_encoder, self.sam_mask_decoder, self.no_mem_embed, image)

    def decode(self, image_embeddings: torch.Tensor, feats_0: torch.Tensor, feats_1: torch.Tensor,
               point_coords: torch.Tensor, point_labels: torch.Tensor, mask_input: torch.Tensor,
               has_mask_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``B`` prompts on one image, see ``decode_prompts``."""
        return decode_prompts(self.sam_prompt_encoder, self.sam_mask_decoder, image_embeddings, feats_0, feats_1,
                              point_coords, point_labels, mask_input, has_mask_input)


def build_sam2(size: str) -> Sam2:
    """An untrained SAM 2.1 image model of ``size`` (``SAM2_CONFIGS``) in eval mode."""
    return Sam2(size).eval()


def load_sam2(path: Path, size: str) -> Sam2:
    """Build SAM 2.1 ``size`` and load ``path`` strictly (every image-mode key and shape; the
    ``VIDEO_ONLY_PREFIXES`` keys are skipped), in eval mode. Raises a one-line ``CheckpointError``."""
    model = Sam2(size)
    try:
        state = {k: v for k, v in read_state_dict(Path(path)).items() if not is_video_only(k)}
    except MobileSamCheckpointError as exc:
        raise CheckpointError(str(exc)) from exc
    differences = state_mismatch(model.state_dict(), state)
    if differences:
        raise CheckpointError(f"{path}: not a SAM 2.1 hiera {size} checkpoint: {differences}")
    model.load_state_dict(state, strict=True)
    return model.eval()
