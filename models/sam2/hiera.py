"""SAM 2.1 image encoder: the Hiera trunk and the FPN neck, for the four official sizes.

Feature maps inside the trunk are channels-last (``B x H x W x C``); the stage outputs handed to
the neck are channels-first. For a ``1 x 3 x 1024 x 1024`` input the four stages give
``256² x C``, ``128² x 2C``, ``64² x 4C`` and ``32² x 8C``; the neck returns the three
highest-resolution levels with 256 channels each (``256²``, ``128²``, ``64²``; ``scalp = 1``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NECK_DIM = 256


@dataclass(frozen=True)
class HieraConfig:
    """One SAM 2.1 trunk size (the ``image_encoder.trunk`` block of the official configs)."""

    embed_dim: int
    num_heads: int
    stages: tuple[int, int, int, int]
    global_att_blocks: tuple[int, ...]
    window_spec: tuple[int, int, int, int] = (8, 4, 14, 7)
    pos_embed_size: int = 7

    @property
    def stage_ends(self) -> list[int]:
        """Index of the last block of each stage."""
        return [sum(self.stages[:i + 1]) - 1 for i in range(len(self.stages))]

    @property
    def channels(self) -> list[int]:
        """Stage output channels, highest resolution first."""
        return [self.embed_dim * 2 ** i for i in range(len(self.stages))]

    def blocks(self) -> list[tuple[int, int, int, int, bool]]:
        """Per block ``(dim, dim_out, heads, window, q_pool)``; window 0 is global attention.

        The first block of a stage still uses the previous stage's window size; it pools its query
        2 x 2 and doubles the width and the heads.
        """
        out = []
        stage_of = [s for s, n in enumerate(self.stages) for _ in range(n)]
        dim, heads = self.embed_dim, self.num_heads
        for i, stage in enumerate(stage_of):
            window = 0 if i in self.global_att_blocks else self.window_spec[stage_of[max(i - 1, 0)]]
            pool = i > 0 and stage != stage_of[i - 1]
            dim_out, heads = (2 * dim, 2 * heads) if pool else (dim, heads)
            out.append((dim, dim_out, heads, window, pool))
            dim = dim_out
        return out


SAM2_CONFIGS: dict[str, HieraConfig] = {
    "tiny": HieraConfig(96, 1, (1, 2, 7, 2), (5, 7, 9)),
    "small": HieraConfig(96, 1, (1, 2, 11, 2), (7, 10, 13)),
    "base_plus": HieraConfig(112, 2, (2, 3, 16, 3), (12, 16, 20), pos_embed_size=14),
    "large": HieraConfig(144, 2, (2, 6, 36, 4), (23, 33, 43), window_spec=(8, 4, 16, 8)),
}


def pool2x2(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 stride-2 max pooling of a channels-last ``B x H x W x C`` map (H, W even)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).amax(dim=(2, 4))


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, int, int]:
    """``B x H x W x C`` -> windows ``(B * nh * nw) x window x window x C``, zero-padded bottom/right;
    also returns ``nh`` and ``nw``."""
    b, h, w, c = x.shape
    pad_h, pad_w = -h % window, -w % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    nh, nw = (h + pad_h) // window, (w + pad_w) // window
    x = x.view(b, nh, window, nw, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window, window, c), nh, nw


def window_unpartition(windows: torch.Tensor, nh: int, nw: int, h: int, w: int) -> torch.Tensor:
    """Inverse of ``window_partition`` (window size read off ``windows``), cropped to ``h x w``."""
    window, c = windows.shape[1], windows.shape[-1]
    x = windows.view(-1, nh, nw, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, nh * window, nw * window, c)[:, :h, :w]


class GeluMlp(nn.Module):
    """Linear, exact GELU, Linear (keys ``layers.0``, ``layers.1``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, hidden), nn.Linear(hidden, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers[1](F.gelu(self.layers[0](x)))


class PooledAttention(nn.Module):
    """Multi-head self-attention on ``B x h x w x dim`` maps, optionally with a 2 x 2 max-pooled query
    (then the output is ``B x h/2 x w/2 x dim_out``). No relative position terms.

    ``query_chunks`` > 1 runs the queries in that many chunks against all keys: the same numbers with
    score matrices that many times smaller (the export's choice for global attention, where one
    ``heads x 4096 x 4096`` matrix is 268 MB for tiny).
    """

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_pool: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_pool = q_pool
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)
        self.query_chunks = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).view(b, h, w, 3, self.num_heads, -1)
        q, k, v = qkv.unbind(3)  # each B x h x w x heads x d
        if self.q_pool:
            h, w = h // 2, w // 2
            q = q.reshape(b, h, 2, w, 2, self.num_heads, -1).amax(dim=(2, 4))
        q, k, v = (t.flatten(1, 2).transpose(1, 2) for t in (q, k, v))  # B x heads x tokens x d
        if self.query_chunks > 1:
            out = torch.cat([F.scaled_dot_product_attention(part, k, v)
                             for part in q.chunk(self.query_chunks, dim=2)], dim=2)
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


class HieraBlock(nn.Module):
    """Pre-norm block: (windowed) attention, then the MLP; a pooling block also pools and projects
    its shortcut (``maxpool(proj(norm1(x)))``)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, window: int, q_pool: bool) -> None:
        super().__init__()
        self.window = window
        self.q_pool = q_pool
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = PooledAttention(dim, dim_out, num_heads, q_pool)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = GeluMlp(dim_out, 4 * dim_out)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if hasattr(self, "proj"):
            shortcut = self.proj(x)
            if self.q_pool:
                shortcut = pool2x2(shortcut)
        if self.window:
            windows, nh, nw = window_partition(x, self.window)
            x = window_unpartition(self.attn(windows), nh, nw, shortcut.shape[1], shortcut.shape[2])
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Conv 7 x 7, stride 4, padding 3: ``B x 3 x H x W`` -> channels-last ``B x H/4 x W/4 x C``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Hiera(nn.Module):
    """The trunk: patch embedding, position embedding, blocks; returns the four stage outputs
    (channels-first, highest resolution first)."""

    def __init__(self, config: HieraConfig) -> None:
        super().__init__()
        self.stage_ends = config.stage_ends
        dim, size = config.embed_dim, config.pos_embed_size
        self.patch_embed = PatchEmbed(dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, dim, size, size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, dim, config.window_spec[0], config.window_spec[0]))
        self.blocks = nn.ModuleList(HieraBlock(*spec) for spec in config.blocks())

    def position_embedding(self, h: int, w: int) -> torch.Tensor:
        """``1 x h x w x C``: ``pos_embed`` bicubic-resized to ``h x w`` plus ``pos_embed_window`` tiled."""
        window = self.pos_embed_window
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic", align_corners=False)
        pos = pos + window.repeat(1, 1, h // window.shape[2], w // window.shape[3])
        return pos.permute(0, 2, 3, 1)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(image)
        x = x + self.position_embedding(x.shape[1], x.shape[2])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs


class FpnNeck(nn.Module):
    """1 x 1 lateral convolutions to 256 channels; the 64² level also gets the nearest-upsampled 32²
    level; levels 256² and 128² are lateral only; the 32² level is dropped (``scalp = 1``).

    ``convs.0`` is the lowest-resolution (widest) level, as in the checkpoint.
    """

    def __init__(self, channels: list[int], dim: int = NECK_DIM) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(OrderedDict(conv=nn.Conv2d(c, dim, kernel_size=1))) for c in reversed(channels))

    def forward(self, stages: list[torch.Tensor]) -> list[torch.Tensor]:
        """Four stage outputs (highest resolution first) -> ``[256², 128², 64²]`` levels, ``B x 256 x h x w``."""
        top = self.convs[0](stages[3])
        level2 = self.convs[1](stages[2]) + F.interpolate(top, scale_factor=2.0, mode="nearest")
        return [self.convs[3](stages[0]), self.convs[2](stages[1]), level2]


class ImageEncoder(nn.Module):
    """Trunk + neck (keys ``image_encoder.trunk.*``, ``image_encoder.neck.*``)."""

    def __init__(self, config: HieraConfig) -> None:
        super().__init__()
        self.trunk = Hiera(config)
        self.neck = FpnNeck(config.channels)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """``B x 3 x 1024 x 1024`` -> ``[B x 256 x 256², B x 256 x 128², B x 256 x 64²]``."""
        return self.neck(self.trunk(image))
