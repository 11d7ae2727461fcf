"""SAM mask decoder: a two-way transformer over prompt tokens and the image embedding.

Outputs per image: low-res mask logits ``B x 4 x 256 x 256`` covering the padded
1024 x 1024 frame (token 0 = single-mask output, tokens 1-3 = multimask outputs) and
raw IoU predictions ``B x 4``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from samcut.models.mobile_sam.layers import MLP, LayerNorm2d


class TokenAttention(nn.Module):
    """Multi-head attention with an optional internal width reduction (``downsample_rate``)."""

    def __init__(self, dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        inner = dim // downsample_rate
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q = self._heads(self.q_proj(q))
        k = self._heads(self.k_proj(k))
        v = self._heads(self.v_proj(v))
        head_dim = q.shape[-1]
        attn = (q @ k.transpose(-2, -1)) / (head_dim ** 0.5)
        out = attn.softmax(dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).flatten(2))


class FeedForward(nn.Module):
    """Linear, ``activation`` (ReLU in SAM's decoder, exact GELU in SAM v1's image encoder), Linear
    (keys ``lin1``, ``lin2``)."""

    def __init__(self, dim: int, hidden: int, activation: Callable[[torch.Tensor], torch.Tensor] = torch.relu) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(self.activation(self.lin1(x)))


class TwoWayBlock(nn.Module):
    """Token self-attention, token->image, MLP, image->token; post-norm residuals."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, skip_first_pe: bool) -> None:
        super().__init__()
        self.skip_first_pe = skip_first_pe
        self.self_attn = TokenAttention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = TokenAttention(dim, num_heads, 2)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = TokenAttention(dim, num_heads, 2)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor,
                key_pe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.skip_first_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, k, keys))
        queries = self.norm3(queries + self.mlp(queries))
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, queries + query_pe, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """Depth-2 two-way transformer plus a final token->image attention."""

    def __init__(self, depth: int = 2, dim: int = 256, num_heads: int = 8, mlp_dim: int = 2048) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TwoWayBlock(dim, num_heads, mlp_dim, i == 0) for i in range(depth))
        self.final_attn_token_to_image = TokenAttention(dim, num_heads, 2)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor, image_pe: torch.Tensor,
                tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``image``/``image_pe`` ``B x C x h x w``, ``tokens`` ``B x T x C`` -> (tokens, image tokens)."""
        keys = image.flatten(2).permute(0, 2, 1)
        key_pe = image_pe.flatten(2).permute(0, 2, 1)
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        q = queries + tokens
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, keys + key_pe, keys))
        return queries, keys


def output_upscaling(dim: int) -> nn.Sequential:
    """SAM's upscaling of the ``dim``-channel 64 x 64 image tokens to 32 channels at 256 x 256: two 2 x 2
    stride-2 transposed convolutions with a LayerNorm2d and GELUs (keys ``0``, ``1``, ``3``)."""
    return nn.Sequential(
        nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
        LayerNorm2d(dim // 4),
        nn.GELU(),
        nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
        nn.GELU(),
    )


class MaskDecoder(nn.Module):
    """Predicts all four mask tokens' low-res logits and their IoU predictions."""

    def __init__(self, dim: int = 256, num_mask_tokens: int = 4) -> None:
        super().__init__()
        self.num_mask_tokens = num_mask_tokens
        self.transformer = TwoWayTransformer(dim=dim)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(num_mask_tokens, dim)
        self.output_upscaling = output_upscaling(dim)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(num_mask_tokens))
        self.iou_prediction_head = MLP(dim, 256, num_mask_tokens, 3)

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor,
                dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedding ``1 x 256 x 64 x 64``, sparse ``B x T x 256``, dense ``B x 256 x 64 x 64`` (``B``
        prompts on one image).

        Returns ``(low_res_logits B x 4 x 256 x 256, iou_predictions B x 4)``.
        """
        _, c, h, w = image_embeddings.shape
        hs, src = self.attend(image_embeddings, image_pe, sparse, dense)
        upscaled = self.output_upscaling(src.transpose(1, 2).reshape(src.shape[0], c, h, w))
        hyper = self.hypernetwork_weights(hs)
        b, c, h, w = upscaled.shape
        masks = (hyper @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return masks, self.iou_prediction_head(hs[:, 0, :])

    def attend(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor,
               dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two-way transformer: (output tokens ``B x (5+T) x 256``, image tokens ``B x 4096 x 256``
        in row-major order of the 64 x 64 grid)."""
        out_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = torch.cat([out_tokens.unsqueeze(0).expand(sparse.shape[0], -1, -1), sparse], dim=1)
        return self.transformer(image_embeddings + dense, image_pe, tokens)

    def hypernetwork_weights(self, hs: torch.Tensor) -> torch.Tensor:
        """Per mask token, the weights of its mask over the upscaled features: ``B x 4 x 32``."""
        mask_out = hs[:, 1:1 + self.num_mask_tokens, :]
        return torch.stack([mlp(mask_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1)
