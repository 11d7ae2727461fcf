"""SAM 2.1 mask decoder: SAM's two-way transformer plus an object-score token and high-res skips.

Output tokens are ``[obj_score, iou, mask0..3]`` followed by the prompt tokens. The upscaling adds
the encoder's high-resolution features (already projected by ``conv_s1`` / ``conv_s0``):
``u1 = GELU(LN2d(ConvT1(src) + feats_1))``, ``u = GELU(ConvT2(u1) + feats_0)``. The IoU head ends
in a sigmoid. The selection of the returned tokens (multimask / stability rule) is not done here.
"""

from __future__ import annotations

import torch
from torch import nn

from samcut.models.mobile_sam.layers import MLP
from samcut.models.mobile_sam.mask_decoder import TwoWayTransformer, output_upscaling

NUM_MASK_TOKENS = 4


def two_way_transformer(dim: int = 256, mlp_dim: int = 2048) -> TwoWayTransformer:
    """SAM's depth-2 two-way transformer with SAM 2's key names: each block's MLP is ``mlp.layers.0/1``
    (Linear, ReLU, Linear: the same arithmetic as v1's ``lin1``/``lin2``)."""
    transformer = TwoWayTransformer(dim=dim, mlp_dim=mlp_dim)
    for block in transformer.layers:
        block.mlp = MLP(dim, mlp_dim, dim, 2)
    return transformer


class Sam2MaskDecoder(nn.Module):
    """Predicts all four mask tokens' low-res logits, their IoU (after the sigmoid) and the object score."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.transformer = two_way_transformer(dim)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(NUM_MASK_TOKENS, dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.output_upscaling = output_upscaling(dim)
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(MLP(dim, dim, dim // 8, 3) for _ in range(NUM_MASK_TOKENS))
        self.iou_prediction_head = MLP(dim, 256, NUM_MASK_TOKENS, 3)
        self.pred_obj_score_head = MLP(dim, dim, 1, 3)

    def attend(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor,
               dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two-way transformer: (output tokens ``B x (6+T) x 256``, image tokens ``B x 4096 x 256``
        in row-major order of the 64 x 64 grid). ``image_embeddings`` ``1 x 256 x 64 x 64`` is shared by
        the ``B`` prompts; ``dense`` is ``B x 256 x 64 x 64``."""
        out_tokens = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = torch.cat([out_tokens.unsqueeze(0).expand(sparse.shape[0], -1, -1), sparse], dim=1)
        return self.transformer(image_embeddings + dense, image_pe, tokens)

    def hypernetwork_weights(self, hs: torch.Tensor) -> torch.Tensor:
        """Per mask token, the weights of its mask over the upscaled features: ``B x 4 x 32``."""
        mask_out = hs[:, 2:2 + NUM_MASK_TOKENS, :]
        return torch.stack([mlp(mask_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1)

    def heads(self, hs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(iou_predictions B x 4`` after the sigmoid, ``object_score_logits B x 1)``."""
        return torch.sigmoid(self.iou_prediction_head(hs[:, 1, :])), self.pred_obj_score_head(hs[:, 0, :])

    def upscale(self, image_tokens: torch.Tensor, feats_0: torch.Tensor, feats_1: torch.Tensor) -> torch.Tensor:
        """Image tokens ``B x 4096 x 256`` + high-res features ``1 x 32 x 256²`` and ``1 x 64 x 128²``
        -> ``B x 32 x 256 x 256``."""
        up1, norm, act1, up2, act2 = self.output_upscaling
        side = feats_1.shape[-1] // 2
        src = image_tokens.transpose(1, 2).reshape(image_tokens.shape[0], -1, side, side)
        x = act1(norm(up1(src) + feats_1))
        return act2(up2(x) + feats_0)

    def forward(self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor,
                dense: torch.Tensor, feats_0: torch.Tensor,
                feats_1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(low_res_logits B x 4 x 256 x 256, iou_predictions B x 4, object_score_logits B x 1)``."""
        hs, image_tokens = self.attend(image_embeddings, image_pe, sparse, dense)
        upscaled = self.upscale(image_tokens, feats_0, feats_1)
        hyper = self.hypernetwork_weights(hs)
        b, c, h, w = upscaled.shape
        masks = (hyper @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return (masks, *self.heads(hs))
