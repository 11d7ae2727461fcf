"""SAM v1 (``vit_b``, ``vit_l``, ``vit_h``): ViT image encoder + SAM prompt encoder + SAM mask decoder.

The prompt encoder and mask decoder are MobileSAM's own classes: SAM v1's are the same code with the
same state-dict keys and shapes. Only the export step uses this module (torch is build-time only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from samcut.models.mobile_sam.mask_decoder import MaskDecoder
from samcut.models.mobile_sam.prompt_encoder import PromptEncoder
from samcut.models.mobile_sam.sam import CheckpointError as MobileSamCheckpointError
from samcut.models.mobile_sam.sam import read_state_dict, state_mismatch
from samcut.models.sam_vit.image_encoder import GRID, ImageEncoderViT

IMAGE_SIZE = 1024


@dataclass(frozen=True)
class SamViTConfig:
    """Image-encoder hyper-parameters of one SAM v1 size."""

    width: int
    depth: int
    heads: int
    global_blocks: tuple[int, ...]


SAM_VIT_CONFIGS: dict[str, SamViTConfig] = {
    "vit_b": SamViTConfig(width=768, depth=12, heads=12, global_blocks=(2, 5, 8, 11)),
    "vit_l": SamViTConfig(width=1024, depth=24, heads=16, global_blocks=(5, 11, 17, 23)),
    "vit_h": SamViTConfig(width=1280, depth=32, heads=16, global_blocks=(7, 15, 23, 31)),
}


class CheckpointError(MobileSamCheckpointError):
    """A checkpoint file is not a SAM v1 state dict of the requested size."""


class SamViT(nn.Module):
    """The three parts of SAM v1 under the official state-dict prefixes."""

    def __init__(self, size: str) -> None:
        super().__init__()
        if size not in SAM_VIT_CONFIGS:
            raise ValueError(f"unknown SAM ViT size {size!r} (known: {', '.join(SAM_VIT_CONFIGS)})")
        config = SAM_VIT_CONFIGS[size]
        self.size = size
        self.image_encoder = ImageEncoderViT(config.width, config.depth, config.heads, config.global_blocks)
        self.prompt_encoder = PromptEncoder(grid_size=GRID, image_size=IMAGE_SIZE)
        self.mask_decoder = MaskDecoder()


def build_sam_vit(size: str) -> SamViT:
    """An untrained SAM v1 of ``size`` (``vit_b``, ``vit_l``, ``vit_h``) in eval mode."""
    return SamViT(size).eval()


def load_sam_vit(path: Path, size: str) -> SamViT:
    """Build SAM v1 ``size`` and load ``path`` strictly (every key, every shape); eval mode.

    The model is built without storage (``meta`` device) and takes the checkpoint's tensors as its
    own, so loading holds the weights once (vit_h: 2.6 GB, not twice that) and skips the random
    initialisation. Raises ``CheckpointError`` (one line) for an unreadable file, missing or
    unexpected keys, or a tensor of the wrong shape (a checkpoint of another size says so at its
    first weight).
    """
    path = Path(path)
    with torch.device("meta"):
        model = SamViT(size)
    try:
        state = read_state_dict(path)
    except MobileSamCheckpointError as exc:
        raise CheckpointError(str(exc)) from exc
    differences = state_mismatch(model.state_dict(), state)
    if differences:
        raise CheckpointError(f"{path}: not a SAM {size} checkpoint: {differences}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True, assign=True)
    return model.eval()
