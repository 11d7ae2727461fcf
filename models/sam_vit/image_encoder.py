"""SAM v1 ViT image encoder (``vit_b``, ``vit_l``, ``vit_h``), written for samcut.

Module and parameter names follow the official checkpoints' state-dict keys (``image_encoder.*``),
so official checkpoints load strictly. Input ``1 x 3 x 1024 x 1024`` (normalised, zero-padded
bottom/right); tokens are kept channels-last, ``B x 64 x 64 x D``; output ``1 x 256 x 64 x 64``.

Attention adds SAM's *decomposed relative position* terms: for a query at grid cell (i, j) and a
key at (k, l), ``logit = scale * q.k + q.Rh[i - k] + q.Rw[j - l]`` with the unscaled ``q``.
Windowed blocks attend within 14 x 14 windows of the map zero-padded to 70 x 70 (padding after
``norm1``: the padded tokens join the softmax with keys/values equal to the qkv bias); global
blocks attend over all 4096 tokens.

Global attention runs in chunks of ``GLOBAL_CHUNK_ROWS`` query rows (the loop is unrolled in an
exported graph), so no ``heads x 4096 x 4096`` logit tensor (805 MB for vit_b) is ever whole; the
relative terms are added by broadcasting. Measured on vit_b's exported encoder: ONNX Runtime 1.32 CPU
provider, samcut's encoder session options (2 threads, lean memory), a fresh process per variant,
2-vCPU Xeon KVM guest, load average about 2 (the run's own threads); RSS includes the loaded session
(about 0.9 GB: 358 MB of weights plus ONNX Runtime's copies):

==================================  ===============  ==========================================
global attention                    encode (s)       peak RSS (MB; rise over the loaded session)
==================================  ===============  ==========================================
whole (64 rows, as the official)    7.3 - 8.0        2590 - 2614 (+1654 - +1686)
8-row chunks                        6.6 - 7.1        1231 - 1232 (+310)
4-row chunks (kept)                 6.5 - 7.4        952 - 1055 (+60 - +121)
==================================  ===============  ==========================================

One global block alone: +1705 MB (whole), +301 MB (8 rows), +167 MB (4 rows), +155 MB (2 rows),
same speed within noise; outputs bit-identical. vit_h (16 heads of 80): 41 s, peak 3.3 GB (+212 MB)
under load 4-5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from samcut.models.mobile_sam.layers import LayerNorm2d
from samcut.models.mobile_sam.mask_decoder import FeedForward

GRID = 64  # tokens per side at 1024 x 1024 with 16 x 16 patches
PATCH = 16
WINDOW = 14
NECK_DIM = 256
GLOBAL_CHUNK_ROWS = 4  # query rows of the 64 x 64 grid per chunk of global attention


def relative_index(size: int) -> torch.Tensor:
    """``size x size`` row indices into a ``(2 size - 1)``-row table: ``[i, k] = i - k + size - 1``."""
    pos = torch.arange(size)
    return pos[:, None] - pos[None, :] + (size - 1)


class RelPosAttention(nn.Module):
    """Multi-head self-attention with qkv bias and decomposed relative position terms.

    ``x`` ``B x size x size x D`` -> same; the tables ``rel_pos_h``/``rel_pos_w`` have ``2 size - 1``
    rows (27 in windowed blocks, 127 in global ones) of ``head_dim`` numbers. ``chunk_rows``
    (None: all) bounds the logits to ``B x heads x (chunk_rows * size) x size^2``. Shapes are
    static (fixed by ``size``), so an exported graph computes none.
    """

    def __init__(self, dim: int, num_heads: int, size: int, chunk_rows: int | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.size = size
        self.chunk_rows = chunk_rows
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * size - 1, self.head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * size - 1, self.head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, heads, hd = self.size, self.num_heads, self.head_dim
        qkv = self.qkv(x).reshape(-1, s * s, 3, heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each B x heads x s^2 x hd
        k_t = k.transpose(-2, -1)
        index = relative_index(s)
        rel_h = self.rel_pos_h[index].transpose(-2, -1)  # query row x hd x key row
        rel_w = self.rel_pos_w[index].transpose(-2, -1)  # query column x hd x key column
        rows = self.chunk_rows or s
        parts = [self._attend(q[:, :, top * s:(top + r) * s], k_t, v, rel_h[top:top + r], rel_w, r)
                 for top in range(0, s, rows) for r in [min(rows, s - top)]]
        out = parts[0] if len(parts) == 1 else torch.cat(parts, 2)
        return self.proj(out.view(-1, heads, s, s, hd).permute(0, 2, 3, 1, 4).reshape(-1, s, s, self.dim))

    def _attend(self, q: torch.Tensor, k_t: torch.Tensor, v: torch.Tensor, rel_h: torch.Tensor,
                rel_w: torch.Tensor, r: int) -> torch.Tensor:
        """Queries of ``r`` grid rows ``B x heads x (r s) x hd`` against all keys -> ``B x heads x (r s) x hd``.

        ``rel_h`` ``r x hd x s`` (these rows' part of the height table), ``rel_w`` ``s x hd x s``.
        The two relative terms, ``B x heads x r x s x s`` each, are added to the logits by
        broadcasting, never expanded to the logits' size.
        """
        s, heads, hd = self.size, self.num_heads, self.head_dim
        logits = (q * self.scale) @ k_t  # B x heads x rs x s^2
        grid_q = q.view(-1, heads, r, s, hd)
        term_h = grid_q @ rel_h  # batched over query rows: B x heads x r x s x s (key row)
        term_w = (grid_q.transpose(2, 3) @ rel_w).transpose(2, 3)  # over query columns: ... x s (key column)
        logits = logits.view(-1, heads, r, s, s, s) + term_h.unsqueeze(-1) + term_w.unsqueeze(-2)
        return logits.view(-1, heads, r * s, s * s).softmax(-1) @ v


class Block(nn.Module):
    """Pre-norm transformer block on ``B x grid x grid x D``: windowed (``window`` > 0) or global attention.

    Windowed: the normalised map is zero-padded bottom/right to a multiple of ``window``, cut into
    ``window x window`` windows (batched), attended, put back and cropped.
    """

    def __init__(self, dim: int, num_heads: int, window: int, grid: int = GRID) -> None:
        super().__init__()
        self.window = window
        self.grid = grid
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = RelPosAttention(dim, num_heads, window or grid, None if window else GLOBAL_CHUNK_ROWS)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = FeedForward(dim, 4 * dim, F.gelu)  # (exact GELU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        y = self._windowed(y) if self.window else self.attn(y)
        x = x + y
        return x + self.mlp(self.norm2(x))

    def _windowed(self, x: torch.Tensor) -> torch.Tensor:
        win, grid, dim = self.window, self.grid, self.attn.dim
        n = -(-grid // win)  # windows per side
        pad = n * win - grid
        if pad:
            x = F.pad(x, (0, 0, 0, pad, 0, pad))
        x = x.view(-1, n, win, n, win, dim).permute(0, 1, 3, 2, 4, 5).reshape(-1, win, win, dim)
        x = self.attn(x)  # (B n n) x win x win x D
        x = x.view(-1, n, n, win, win, dim).permute(0, 1, 3, 2, 4, 5).reshape(-1, n * win, n * win, dim)
        return x[:, :grid, :grid] if pad else x


class PatchEmbed(nn.Module):
    """16 x 16 stride-16 convolution: ``B x 3 x 1024 x 1024`` -> channels-last ``B x 64 x 64 x D``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ImageEncoderViT(nn.Module):
    """Patch embedding + absolute position embedding, ``depth`` blocks, convolutional neck.

    ``global_blocks``: indices of the blocks with global attention; the others use 14 x 14 windows.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, global_blocks: tuple[int, ...]) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, GRID, GRID, dim))
        self.blocks = nn.ModuleList(Block(dim, num_heads, 0 if i in global_blocks else WINDOW) for i in range(depth))
        self.neck = nn.Sequential(
            nn.Conv2d(dim, NECK_DIM, 1, bias=False),
            LayerNorm2d(NECK_DIM),
            nn.Conv2d(NECK_DIM, NECK_DIM, 3, padding=1, bias=False),
            LayerNorm2d(NECK_DIM),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``B x 3 x 1024 x 1024`` -> ``B x 256 x 64 x 64``."""
        x = self.patch_embed(image) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.neck(x.permute(0, 3, 1, 2))
