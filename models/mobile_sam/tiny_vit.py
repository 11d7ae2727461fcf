"""TinyViT-5M image encoder of MobileSAM (``vit_t``), written for samcut.

Module and parameter names follow the official checkpoint's state-dict keys
(``image_encoder.*``) so that official checkpoints load strictly. Tensor layouts:
convolutional stages use ``B x C x H x W``; attention stages use tokens
``B x (H*W) x C`` in row-major order. Input ``1 x 3 x 1024 x 1024`` (normalised,
padded), output ``1 x 256 x 64 x 64``.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from samcut.models.mobile_sam.layers import LayerNorm2d


class ConvBN(nn.Sequential):
    """Conv2d without bias followed by BatchNorm2d (keys ``c`` and ``bn``)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1,
                 padding: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_ch))


class PatchEmbed(nn.Module):
    """Two stride-2 3x3 ConvBN with GELU between: ``B x 3 x 1024 x 1024`` -> ``B x 64 x 256 x 256``."""

    def __init__(self, in_ch: int, dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(ConvBN(in_ch, dim // 2, 3, 2, 1), nn.GELU(), ConvBN(dim // 2, dim, 3, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual block (1x1 expand, 3x3 depthwise, 1x1 project) on ``B x C x H x W``."""

    def __init__(self, dim: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = ConvBN(dim, hidden, 1)
        self.conv2 = ConvBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.conv3 = ConvBN(hidden, dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv1(x))
        y = self.act(self.conv2(y))
        y = self.conv3(y)
        return self.act(x + y)


class PatchMerging(nn.Module):
    """Downsampling between stages; output tokens ``B x (H'*W') x out_dim``.

    The depthwise conv has stride 2, except stride 1 when ``out_dim`` is 320
    (the last merge of vit_t keeps 64 x 64).
    """

    def __init__(self, resolution: int, dim: int, out_dim: int) -> None:
        super().__init__()
        self.resolution = resolution
        stride = 1 if out_dim in (320, 448, 576) else 2
        self.conv1 = ConvBN(dim, out_dim, 1)
        self.conv2 = ConvBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = ConvBN(out_dim, out_dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            b, _, c = x.shape
            x = x.view(b, self.resolution, self.resolution, c).permute(0, 3, 1, 2)
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)


class ConvStage(nn.Module):
    """Stage 0: MBConv blocks then patch merging."""

    def __init__(self, dim: int, resolution: int, depth: int, out_dim: int, expand_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = PatchMerging(resolution, dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x)


class WindowAttention(nn.Module):
    """Multi-head attention inside one window of ``w x w`` tokens with learned relative biases.

    Biases are indexed by the absolute row and column offset between two tokens. The
    gathered ``num_heads x N x N`` bias table is cached for inference and rebuilt on every
    ``train(False)`` (so call ``eval()`` after loading weights). The qkv projection is laid
    out per head: ``[q_h, k_h, v_h]`` for head 0, then head 1, ...
    """

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = dim // num_heads
        self.scale = self.key_dim ** -0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        cells = list(itertools.product(range(window), range(window)))
        offsets: dict[tuple[int, int], int] = {}
        index = []
        for a in cells:
            for b in cells:
                key = (abs(a[0] - b[0]), abs(a[1] - b[1]))
                index.append(offsets.setdefault(key, len(offsets)))
        n = len(cells)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
        self.register_buffer("attention_bias_idxs", torch.tensor(index, dtype=torch.long).view(n, n),
                             persistent=False)
        self.register_buffer("ab", torch.zeros(num_heads, n, n), persistent=False)

    def train(self, mode: bool = True) -> WindowAttention:
        super().train(mode)
        if not mode:
            self.ab = self.attention_biases[:, self.attention_bias_idxs].detach().clone()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, 3 * self.key_dim)
        q, k, v = qkv.split(self.key_dim, dim=3)
        q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))
        # Exports gather from the 4 x 49 / 5 x 196 learned table (small on disk) instead of the cache.
        live = self.training or torch.onnx.is_in_onnx_export()
        bias = self.attention_biases[:, self.attention_bias_idxs] if live else self.ab
        attn = (q @ k.transpose(-2, -1)) * self.scale + bias
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """LayerNorm, Linear, GELU, Linear on tokens."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Windowed attention (zero-padded windows), depthwise local conv, MLP; all residual."""

    def __init__(self, dim: int, resolution: int, num_heads: int, window: int, mlp_ratio: float) -> None:
        super().__init__()
        self.resolution = resolution
        self.window = window
        self.attn = WindowAttention(dim, num_heads, window)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = ConvBN(dim, dim, 3, 1, 1, groups=dim)

    def _windowed_attention(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        h = w = self.resolution
        ws = self.window
        if h == ws and w == ws:
            return self.attn(x)
        pad = (ws - h % ws) % ws
        grid = x.view(b, h, w, c)
        if pad:
            # Padded tokens are zeros before the attention's LayerNorm and do take part in the softmax.
            grid = F.pad(grid, (0, 0, 0, pad, 0, pad))
        hp = h + pad
        nw = hp // ws
        windows = grid.view(b, nw, ws, nw, ws, c).transpose(2, 3).reshape(b * nw * nw, ws * ws, c)
        windows = self.attn(windows)
        grid = windows.view(b, nw, nw, ws, ws, c).transpose(2, 3).reshape(b, hp, hp, c)
        if pad:
            grid = grid[:, :h, :w].contiguous()
        return grid.view(b, h * w, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        x = x + self._windowed_attention(x)
        spatial = x.transpose(1, 2).reshape(b, c, self.resolution, self.resolution)
        x = self.local_conv(spatial).view(b, c, n).transpose(1, 2)
        return x + self.mlp(x)


class AttentionStage(nn.Module):
    """Stages 1-3: TinyViT blocks, then patch merging except after the last stage."""

    def __init__(self, dim: int, resolution: int, depth: int, num_heads: int, window: int,
                 mlp_ratio: float, out_dim: int | None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, resolution, num_heads, window, mlp_ratio) for _ in range(depth))
        self.downsample = PatchMerging(resolution, dim, out_dim) if out_dim is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class TinyViT(nn.Module):
    """TinyViT-5M as configured for MobileSAM, with the SAM neck.

    ``forward``: ``B x 3 x 1024 x 1024`` -> ``B x 256 x 64 x 64``. ``norm_head``/``head``
    exist only so that official checkpoints load strictly; they are never run.
    """

    def __init__(self, img_size: int = 1024, embed_dims: tuple[int, ...] = (64, 128, 160, 320),
                 depths: tuple[int, ...] = (2, 2, 6, 2), num_heads: tuple[int, ...] = (2, 4, 5, 10),
                 windows: tuple[int, ...] = (7, 7, 14, 7), mlp_ratio: float = 4.0,
                 expand_ratio: float = 4.0, out_chans: int = 256) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(3, embed_dims[0])
        base = img_size // 4
        self.out_resolution = base // 4
        stages: list[nn.Module] = [ConvStage(embed_dims[0], base, depths[0], embed_dims[1], expand_ratio)]
        for i in range(1, len(depths)):
            resolution = base // (2 ** min(i, len(depths) - 2))
            out_dim = embed_dims[i + 1] if i + 1 < len(depths) else None
            stages.append(AttentionStage(embed_dims[i], resolution, depths[i], num_heads[i], windows[i],
                                         mlp_ratio, out_dim))
        self.layers = nn.ModuleList(stages)
        self.norm_head = nn.LayerNorm(embed_dims[-1])
        self.head = nn.Linear(embed_dims[-1], 1000)
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], out_chans, 1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for stage in self.layers:
            x = stage(x)
        b, _, c = x.shape
        r = self.out_resolution
        return self.neck(x.view(b, r, r, c).permute(0, 3, 1, 2))
