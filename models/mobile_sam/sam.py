"""MobileSAM ``vit_t``: TinyViT encoder + SAM prompt encoder + SAM mask decoder, and strict loading.

Only the export step uses this module (torch is a build-time dependency of samcut).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from samcut.models.mobile_sam.mask_decoder import MaskDecoder
from samcut.models.mobile_sam.prompt_encoder import PromptEncoder
from samcut.models.mobile_sam.tiny_vit import TinyViT
from samcut.models.store.checkpoint import CheckpointError as NumpyCheckpointError
from samcut.models.store.checkpoint import read_checkpoint

IMAGE_SIZE = 1024
EMBED_GRID = 64
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


class CheckpointError(RuntimeError):
    """A checkpoint file is not a MobileSAM ``vit_t`` state dict."""


class MobileSam(nn.Module):
    """The three parts of MobileSAM under the official state-dict prefixes."""

    def __init__(self) -> None:
        super().__init__()
        self.image_encoder = TinyViT(img_size=IMAGE_SIZE)
        self.prompt_encoder = PromptEncoder(grid_size=EMBED_GRID, image_size=IMAGE_SIZE)
        self.mask_decoder = MaskDecoder()


def build_mobile_sam() -> MobileSam:
    """An untrained MobileSAM in eval mode."""
    return MobileSam().eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors, read by samcut's own allow-listed reader (the one installs use, so the
    torch export and the torch-free conversion see the same numbers); a bare state dict or
    ``{"model": ...}``."""
    try:
        return {key: torch.from_numpy(array) for key, array in read_checkpoint(path).items()}
    except NumpyCheckpointError as exc:
        raise CheckpointError(str(exc)) from exc


def state_mismatch(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str:
    """How ``state`` differs from a model's ``expected`` state dict, in words ("" where every key and
    shape matches): missing keys, unexpected keys, shape mismatches, each with its first example."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
    if wrong:
        k = wrong[0]
        parts.append(f"{len(wrong)} shape mismatches (first: {k} {tuple(state[k].shape)} "
                     f"!= {tuple(expected[k].shape)})")
    return "; ".join(parts)


def load_mobile_sam(path: Path) -> MobileSam:
    """Build MobileSAM and load ``path`` strictly (every key, every shape), then switch to eval mode.

    The second ``eval()`` after loading matters: TinyViT caches its gathered attention biases
    when switched to eval mode, and that cache must be rebuilt from the loaded weights.
    """
    model = MobileSam()
    state = read_state_dict(Path(path))
    differences = state_mismatch(model.state_dict(), state)
    if differences:
        raise CheckpointError(f"{path}: not a MobileSAM vit_t checkpoint: {differences}")
    model.load_state_dict(state, strict=True)
    return model.eval()
