"""SAM prompt encoder: points, box corners and a low-res mask -> sparse and dense embeddings.

Coordinates given to this module are in the resized 1024 frame (x = column, y = row),
*without* the +0.5 pixel-centre shift, which is added here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from samcut.models.mobile_sam.layers import LayerNorm2d


class RandomFourierEncoding(nn.Module):
    """Positional encoding ``[sin(2 pi p G), cos(2 pi p G)]`` of points ``p`` in [-1, 1]^2."""

    def __init__(self, num_feats: int = 128) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_feats))

    def encode(self, unit_coords: torch.Tensor) -> torch.Tensor:
        """``... x 2`` coordinates in [0, 1] -> ``... x 2*num_feats``."""
        proj = (2 * unit_coords - 1) @ self.positional_encoding_gaussian_matrix
        proj = 2 * math.pi * proj
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)

    def grid(self, size: int) -> torch.Tensor:
        """Dense encoding of a ``size x size`` grid of cell centres: ``C x size x size``."""
        centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        return self.encode(torch.stack([xs, ys], dim=-1)).permute(2, 0, 1)


class PromptEncoder(nn.Module):
    """Embeds prompts for the mask decoder.

    Labels: -1 padding ("not a point"), 0 negative, 1 positive, 2 box top-left,
    3 box bottom-right. Dense output: ``B x 256 x 64 x 64``.
    """

    def __init__(self, embed_dim: int = 256, grid_size: int = 64, image_size: int = 1024,
                 mask_chans: int = 16) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.grid_size = grid_size
        self.image_size = image_size
        self.pe_layer = RandomFourierEncoding(embed_dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_chans // 4, mask_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_chans),
            nn.GELU(),
            nn.Conv2d(mask_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def dense_positional_encoding(self) -> torch.Tensor:
        """``1 x 256 x 64 x 64`` encoding of the image-embedding grid (prompt independent)."""
        return self.pe_layer.grid(self.grid_size).unsqueeze(0)

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``B x N x 2`` coords (1024 frame) and ``B x N`` float labels -> ``B x N x 256``.

        The caller supplies padding points / box corners as tokens with labels -1 / 2 / 3.
        """
        unit = (coords + 0.5) / self.image_size
        emb = self.pe_layer.encode(unit)
        lab = labels.unsqueeze(-1)
        emb = emb * (lab != -1).to(emb.dtype)
        emb = emb + self.not_a_point_embed.weight * (lab == -1).to(emb.dtype)
        for i, table in enumerate(self.point_embeddings):
            emb = emb + table.weight * (lab == i).to(emb.dtype)
        return emb

    def embed_mask(self, mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> torch.Tensor:
        """``B x 1 x 256 x 256`` logits blended by ``has_mask_input`` (a multiplier) -> dense embedding."""
        h = has_mask_input.reshape(-1, 1, 1, 1)
        no_mask = self.no_mask_embed.weight.reshape(1, -1, 1, 1)
        return h * self.mask_downscaling(mask_input) + (1 - h) * no_mask
