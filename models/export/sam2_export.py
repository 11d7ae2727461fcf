"""Export SAM 2.1 (image mode) to an encoder and a decoder ONNX graph and check them against torch.

Graph contracts (all float32):

- encoder: ``image`` ``1 x 3 x 1024 x 1024`` (resized to the square, aspect ratio not kept, and
  normalised by the caller) -> ``image_embeddings`` ``1 x 256 x 64 x 64`` (``no_mem_embed`` added),
  ``high_res_feats_0`` ``1 x 32 x 256 x 256`` (after ``conv_s0``), ``high_res_feats_1``
  ``1 x 64 x 128 x 128`` (after ``conv_s1``).
- decoder: ``image_embeddings``, ``high_res_feats_0``, ``high_res_feats_1`` as above; a batch of ``B``
  prompts of ``N`` tokens each: ``point_coords`` ``B x N x 2`` (x, y) in the 1024 frame without the +0.5
  shift, ordered box corners (labels 2, 3), clicks (1 / 0), then always the padding point (0, 0) with
  label -1; ``point_labels`` ``B x N``; ``mask_input`` ``B x 1 x 256 x 256`` logits; ``has_mask_input``
  ``(B,)`` (0 or 1: ``has * mask_embed + (1 - has) * no_mask_embed``) -> ``low_res_logits``
  ``B x 4 x 256 x 256`` (all four mask tokens, unclamped), ``iou_predictions`` ``B x 4`` (after the
  sigmoid), ``object_score_logits`` ``B x 1``. Token selection (multimask tokens 1-3, the stability rule
  for a single mask) and the +-32 clamp are the engine's job.

Both graphs are exported without constant folding and their initializers carry the checkpoint's key
names, each a byte-for-byte copy of its checkpoint tensor (derived constants such as the
bicubic-resized ``pos_embed`` are computed in the graph), so weightless templates can be cut from them.

The encoder runs the trunk's global attention with its queries in ``GLOBAL_QUERY_CHUNKS`` parts (same
numbers; one ``heads x 4096 x 4096`` score matrix is 268 MB for tiny). Measured, tiny, ONNX Runtime 1.32
CPU provider, ``intra_op_num_threads=2``, one 1024 x 1024 encode per fresh process (``ru_maxrss``), on a
2-vCPU x86 KVM guest shared with other jobs (load average 4-5, so times varied 2.2-6.8 s between runs;
the fastest warm encodes were 2.2 s): peak RSS 650-750 MB with the engine's lean encoder options
(``session_options(2, lean_memory=True)``; 757 MB without the chunks) and 1.06-1.13 GB with ONNX Runtime's
default memory planning (1.23-1.31 GB without); about 390 MB of either is the process with the session
loaded. The decoder takes about 0.1 s for one prompt (B = 1) on the same machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from samcut.models.export.onnx_export import DECODER_TOL, ENCODER_TOL, OPSET, compare_outputs, cpu_session
from samcut.models.sam2 import Sam2, decode_prompts, image_features

ENCODER_OUTPUTS = ["image_embeddings", "high_res_feats_0", "high_res_feats_1"]
DECODER_INPUTS = ["image_embeddings", "high_res_feats_0", "high_res_feats_1", "point_coords", "point_labels",
                  "mask_input", "has_mask_input"]
DECODER_OUTPUTS = ["low_res_logits", "iou_predictions", "object_score_logits"]
GLOBAL_QUERY_CHUNKS = 4


class EncoderGraph(nn.Module):
    """``image_features`` as a module whose parameters have the checkpoint's names."""

    def __init__(self, model: Sam2) -> None:
        super().__init__()
        self.image_encoder = model.image_encoder
        self.sam_mask_decoder = model.sam_mask_decoder
        self.no_mem_embed = model.no_mem_embed

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return image_features(self.image_encoder, self.sam_mask_decoder, self.no_mem_embed, image)


class DecoderGraph(nn.Module):
    """Prompt encoder + mask decoder (``Sam2.decode``) with the checkpoint's parameter names.

    The upscaling stays SAM 2's own transposed convolutions: MobileSAM's token-major rewrite
    (``onnx_export.DecoderGraph``) needs the high-res features transposed into token order on every
    decode, and measured no faster here (0-13 % slower, ONNX Runtime 1.32, 2 threads, B = 1 and 3).
    """

    def __init__(self, model: Sam2) -> None:
        super().__init__()
        self.sam_prompt_encoder = model.sam_prompt_encoder
        self.sam_mask_decoder = model.sam_mask_decoder

    def forward(self, image_embeddings: torch.Tensor, feats_0: torch.Tensor, feats_1: torch.Tensor,
                point_coords: torch.Tensor, point_labels: torch.Tensor, mask_input: torch.Tensor,
                has_mask_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return decode_prompts(self.sam_prompt_encoder, self.sam_mask_decoder, image_embeddings, feats_0, feats_1,
                              point_coords, point_labels, mask_input, has_mask_input)


def sample_image() -> np.ndarray:
    """A deterministic, textured, normalised-looking ``1 x 3 x 1024 x 1024`` encoder input."""
    rng = np.random.default_rng(2101)
    yy, xx = np.mgrid[0:1024, 0:1024].astype(np.float32)
    x = np.stack([np.sin(xx / (17 + 5 * c)) + np.cos(yy / (23 + 3 * c)) for c in range(3)])[None]
    return (x + 0.3 * rng.standard_normal(x.shape)).astype(np.float32)


def decoder_samples(features: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Prompt sets in the predictor's token order (box corners, clicks, padding point), a mask input,
    and a batch of three prompts."""
    rng = np.random.default_rng(99)
    zeros = np.zeros((1, 1, 256, 256), np.float32)
    logits = 4 * rng.standard_normal((1, 1, 256, 256)).astype(np.float32)
    cases = [
        ([[300.0, 200.0], [0.0, 0.0]], [1, -1], zeros, 0.0),
        ([[120.5, 640.0], [800.0, 300.0], [512.0, 512.0], [0.0, 0.0]], [1, 1, 0, -1], zeros, 0.0),
        ([[100.0, 50.0], [700.0, 650.0], [400.0, 100.0], [0.0, 0.0]], [2, 3, 1, -1], zeros, 0.0),
        ([[250.0, 250.0], [0.0, 0.0]], [1, -1], logits, 1.0),
    ]
    fixed = dict(zip(ENCODER_OUTPUTS, features, strict=True))
    singles = [{**fixed, "point_coords": np.asarray([c], np.float32), "point_labels": np.asarray([lab], np.float32),
                "mask_input": mask, "has_mask_input": np.asarray([h], np.float32)} for c, lab, mask, h in cases]
    batch = {**fixed,
             "point_coords": np.asarray([[[300.0, 200.0], [0.0, 0.0]], [[900.0, 50.0], [0.0, 0.0]],
                                         [[250.0, 250.0], [600.0, 700.0]]], np.float32),
             "point_labels": np.asarray([[1, -1], [1, -1], [1, 0]], np.float32),
             "mask_input": np.concatenate([zeros, zeros, logits]),
             "has_mask_input": np.asarray([0.0, 0.0, 1.0], np.float32)}
    return [*singles, batch]


@contextmanager
def _global_attention_in_chunks(model: Sam2, chunks: int = GLOBAL_QUERY_CHUNKS) -> Iterator[None]:
    """Run the trunk's global-attention blocks with their queries in ``chunks`` parts (same numbers,
    lower peak memory in ONNX Runtime, which frees each part's score matrix before the next)."""
    attentions = [block.attn for block in model.image_encoder.trunk.blocks if block.window == 0]
    for attn in attentions:
        attn.query_chunks = chunks
    try:
        yield
    finally:
        for attn in attentions:
            attn.query_chunks = 1


def export_sam2_encoder(model: Sam2, path: Path) -> None:
    """Write the encoder graph to ``path`` (legacy TorchScript exporter, no constant folding)."""
    with torch.no_grad(), _global_attention_in_chunks(model):
        torch.onnx.export(EncoderGraph(model).eval(), (torch.from_numpy(sample_image()),), str(path),
                          input_names=["image"], output_names=ENCODER_OUTPUTS, opset_version=OPSET,
                          do_constant_folding=False, dynamo=False)


def export_sam2_decoder(model: Sam2, path: Path) -> None:
    """Write the decoder graph to ``path``; the batch of prompts and their number of points are dynamic."""
    features = [np.zeros((1, 256, 64, 64), np.float32), np.zeros((1, 32, 256, 256), np.float32),
                np.zeros((1, 64, 128, 128), np.float32)]
    sample = decoder_samples(features)[1]
    prompts = {0: "prompts", 1: "num_points"}
    with torch.no_grad():
        torch.onnx.export(DecoderGraph(model).eval(), tuple(torch.from_numpy(sample[k]) for k in DECODER_INPUTS),
                          str(path), input_names=DECODER_INPUTS, output_names=DECODER_OUTPUTS,
                          dynamic_axes={"point_coords": prompts, "point_labels": prompts,
                                        "mask_input": {0: "prompts"}, "has_mask_input": {0: "prompts"},
                                        **{name: {0: "prompts"} for name in DECODER_OUTPUTS}},
                          opset_version=OPSET, do_constant_folding=False, dynamo=False)


def check_sam2_parity(model: Sam2, encoder_path: Path, decoder_path: Path) -> dict[str, float]:
    """Run both files in ONNX Runtime and compare with torch (every output within 1e-3); raise
    ``ExportError`` on a mismatch. Returns the largest differences."""
    image = sample_image()
    with torch.no_grad():
        want = [t.numpy() for t in model.encode(torch.from_numpy(image))]
    got = cpu_session(encoder_path).run(ENCODER_OUTPUTS, {"image": image})
    report = {f"encoder_{name}_max_abs_diff": compare_outputs(f"encoder {name}", g, w, ENCODER_TOL)
              for name, g, w in zip(ENCODER_OUTPUTS, got, want, strict=True)}
    session = cpu_session(decoder_path)
    worst = dict.fromkeys(DECODER_OUTPUTS, 0.0)
    for i, feeds in enumerate(decoder_samples(want)):
        with torch.no_grad():
            expected = model.decode(*(torch.from_numpy(feeds[k]) for k in DECODER_INPUTS))
        for name, g, w in zip(DECODER_OUTPUTS, session.run(DECODER_OUTPUTS, feeds), expected, strict=True):
            worst[name] = max(worst[name], compare_outputs(f"decoder case {i} {name}", g, w.numpy(), DECODER_TOL))
    report.update({f"decoder_{name}_max_abs_diff": diff for name, diff in worst.items()})
    return report
