"""Export MobileSAM to ``encoder.onnx`` + ``decoder.onnx`` and check them against torch.

Graph contracts (all float32):

- encoder: ``image`` ``1 x 3 x 1024 x 1024`` (normalised, zero-padded bottom/right)
  -> ``image_embeddings`` ``1 x 256 x 64 x 64``.
- decoder: ``image_embeddings`` ``1 x 256 x 64 x 64``; a batch of ``B`` prompts of ``N`` points each:
  ``point_coords`` ``B x N x 2`` (x, y) in the resized 1024 frame without the +0.5 shift;
  ``point_labels`` ``B x N`` (-1, 0, 1, 2, 3); ``mask_input`` ``B x 1 x 256 x 256`` logits;
  ``has_mask_input`` ``(B,)`` multiplier -> ``low_res_logits`` ``B x 4 x 256 x 256`` (all four mask
  tokens, padded 1024 frame) and ``iou_predictions`` ``B x 4`` (raw). ``B = 1`` is one stroke's
  decode; the Object Finder sends many grid points at once. Upsampling to the photo is the
  engine's job.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from samcut.models.io.hashing import file_sha256, git_blob_sha1
from samcut.models.mobile_sam import MobileSam, load_mobile_sam

OPSET = 17
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
ENCODER_TOL = 1e-3
DECODER_TOL = 1e-3


class ExportError(RuntimeError):
    """The export failed or its ONNX files disagree with the torch model."""


STEM_BANDS = 4
STEM_HALO = 16
STEM_STRIDE = 8


class EncoderGraph(nn.Module):
    """The image encoder for export, its convolutional stem run in horizontal bands.

    The stem (patch embedding and the MBConv stage with its patch merging, all convolutions) holds
    the encoder's largest activations: ``1 x 256 x 256 x 256`` floats (64 MB) each at 1024 x 1024,
    two or three alive at once. Run on ``STEM_BANDS`` bands of input rows, each widened by
    ``STEM_HALO`` rows on each side (the stem's receptive field reaches 15 input rows; the halo
    rows' outputs are dropped), the peak of an encode falls by about 170 MB at no cost in time
    (measured). Every kept output sees exactly the inputs and zero padding of the whole-image run,
    so the embedding is the same (3e-6 in torch). The bands are unrolled in the graph; ONNX
    Runtime runs them one after the other (its node order follows the graph's).
    """

    def __init__(self, model: MobileSam, bands: int = STEM_BANDS) -> None:
        super().__init__()
        self.encoder = model.image_encoder
        self.bands = bands

    def _stem(self, image: torch.Tensor) -> torch.Tensor:
        """``1 x 3 x 1024 x 1024`` -> stage-1 tokens ``1 x (128*128) x 128``, band by band."""
        encoder = self.encoder
        size = image.shape[2]
        step = size // self.bands
        parts = []
        for band in range(self.bands):
            top, bottom = band * step, (band + 1) * step
            low, high = max(0, top - STEM_HALO), min(size, bottom + STEM_HALO)
            tokens = encoder.layers[0](encoder.patch_embed(image[:, :, low:high]))
            rows = tokens.view(1, (high - low) // STEM_STRIDE, size // STEM_STRIDE, tokens.shape[-1])
            first = (top - low) // STEM_STRIDE
            parts.append(rows[:, first:first + step // STEM_STRIDE])
        return torch.cat(parts, 1).flatten(1, 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        tokens = self._stem(image)
        for stage in self.encoder.layers[1:]:
            tokens = stage(tokens)
        side = self.encoder.out_resolution
        return self.encoder.neck(tokens.view(1, side, side, tokens.shape[-1]).permute(0, 3, 1, 2))


class DecoderGraph(nn.Module):
    """Prompt encoder + mask decoder, its upscaling written as matrix products on image tokens.

    SAM upscales the transformer's 64 x 64 image tokens with two 2 x 2 stride-2 transposed
    convolutions (256 -> 64 -> 32 channels) and a LayerNorm over channels between them. A 2 x 2
    stride-2 transposed convolution gives each input pixel its own 2 x 2 output block, so it is a
    matrix product per token whose columns are (sub-row, sub-column, channel); the LayerNorm is
    then a plain LayerNormalization over the last 64 numbers and the hypernetwork product runs on
    the tokens in that sub-pixel order; one transpose of the four finished masks puts their pixels
    in place. Same arithmetic (logits within 1e-5 of the convolutions), the decoder 1.1x faster
    (measured): ONNX Runtime's transposed convolutions ran at half its matmul speed here.

    The graphs are exported without constant folding: derived constants (the image's 64 x 64
    positional encoding, gathered attention biases, transposed weights) are computed by ONNX
    Runtime's own constant folding when a session loads, so the files hold only the weights.
    """

    def __init__(self, model: MobileSam, token_major: bool = True) -> None:
        super().__init__()
        self.prompt_encoder = model.prompt_encoder
        self.mask_decoder = model.mask_decoder
        self.token_major = token_major  # False: SAM's own convolutions (the parity reference)

    def forward(self, image_embeddings: torch.Tensor, point_coords: torch.Tensor, point_labels: torch.Tensor,
                mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        decoder = self.mask_decoder
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels)
        dense = self.prompt_encoder.embed_mask(mask_input, has_mask_input)
        image_pe = self.prompt_encoder.dense_positional_encoding()
        if not self.token_major:
            return decoder(image_embeddings, image_pe, sparse, dense)
        hs, tokens = decoder.attend(image_embeddings, image_pe, sparse, dense)
        masks = self._masks(tokens, decoder.hypernetwork_weights(hs), image_embeddings.shape[-1])
        return masks, decoder.iou_prediction_head(hs[:, 0, :])

    def _masks(self, tokens: torch.Tensor, hyper: torch.Tensor, side: int) -> torch.Tensor:
        """Image tokens ``B x side^2 x 256`` (row-major) and hypernetwork weights ``B x 4 x 32`` ->
        logits ``B x 4 x 4side x 4side``."""
        up1, norm, _, up2, _ = self.mask_decoder.output_upscaling
        mid, out = up1.out_channels, up2.out_channels
        # Rows: input channels; columns: (sub-row, sub-column, output channel).
        w1 = up1.weight.permute(0, 2, 3, 1).reshape(up1.in_channels, 4 * mid)
        w2 = up2.weight.permute(0, 2, 3, 1).reshape(mid, 4 * out)
        batch = tokens.shape[0]
        x = tokens @ w1 + up1.bias.repeat(4)  # B x side^2 x (2 x 2 x mid)
        x = F.gelu(F.layer_norm(x.reshape(batch, -1, mid), (mid,), norm.weight, norm.bias, norm.eps))
        x = F.gelu(x @ w2 + up2.bias.repeat(4))  # B x (side^2 x 2 x 2) x (2 x 2 x out)
        masks = hyper @ x.reshape(batch, -1, out).transpose(1, 2)  # B x 4 x pixels, (i, j, di, dj, ei, ej) order
        # Pixel (4i + 2di + ei, 4j + 2dj + ej).
        masks = masks.view(batch, -1, side, side, 2, 2, 2, 2).permute(0, 1, 2, 4, 6, 3, 5, 7)
        return masks.reshape(batch, -1, 4 * side, 4 * side)


def sample_image() -> np.ndarray:
    """A deterministic, textured, normalised and padded ``1 x 3 x 1024 x 1024`` encoder input."""
    rng = np.random.default_rng(1234)
    x = np.zeros((1, 3, 1024, 1024), np.float32)
    yy, xx = np.mgrid[0:700, 0:1024].astype(np.float32)
    for c in range(3):
        x[0, c, :700] = np.sin(xx / (17 + 5 * c)) + np.cos(yy / (23 + 3 * c)) + 0.3 * rng.standard_normal((700, 1024))
    return x


def _decoder_samples(embedding: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Prompt sets that exercise points, padding, boxes and a mask input."""
    rng = np.random.default_rng(99)
    zeros = np.zeros((1, 1, 256, 256), np.float32)
    cases = [
        ([[300.0, 200.0], [0.0, 0.0]], [1, -1], zeros, 0.0),
        ([[120.5, 640.0], [800.0, 300.0], [512.0, 512.0], [0.0, 0.0]], [1, 1, 0, -1], zeros, 0.0),
        ([[400.0, 100.0], [100.0, 50.0], [700.0, 650.0]], [1, 2, 3], zeros, 0.0),
        ([[250.0, 250.0], [0.0, 0.0]], [1, -1], 4 * rng.standard_normal((1, 1, 256, 256)).astype(np.float32), 1.0),
    ]
    singles = [
        {
            "image_embeddings": embedding,
            "point_coords": np.asarray([c], np.float32),
            "point_labels": np.asarray([lab], np.float32),
            "mask_input": mask,
            "has_mask_input": np.asarray([h], np.float32),
        }
        for c, lab, mask, h in cases
    ]
    batch = {  # three prompts of two points at once, one with a mask input (the Object Finder's call)
        "image_embeddings": embedding,
        "point_coords": np.asarray([[[300.0, 200.0], [0.0, 0.0]], [[900.0, 50.0], [0.0, 0.0]],
                                    [[250.0, 250.0], [600.0, 700.0]]], np.float32),
        "point_labels": np.asarray([[1, -1], [1, -1], [1, 0]], np.float32),
        "mask_input": np.concatenate([zeros, zeros, cases[3][2]]),
        "has_mask_input": np.asarray([0.0, 0.0, 1.0], np.float32),
    }
    return [*singles, batch]


def compare_outputs(name: str, got: np.ndarray, want: np.ndarray, tol: float) -> float:
    """The largest difference of an ONNX Runtime output from torch's; ``ExportError`` beyond ``tol``."""
    if got.shape != want.shape:
        raise ExportError(f"{name}: ONNX Runtime output has shape {got.shape}, torch {want.shape}")
    diff = float(np.max(np.abs(got - want)))
    if not np.isfinite(diff) or diff > tol:
        raise ExportError(f"{name}: ONNX Runtime output differs from torch by {diff:.3g} (tolerance {tol:g})")
    return diff


def cpu_session(path: Path) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU provider, for parity checks."""
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def export_encoder(model: MobileSam, path: Path) -> None:
    """Write the encoder graph to ``path`` with the legacy TorchScript exporter."""
    torch.onnx.export(EncoderGraph(model).eval(), (torch.from_numpy(sample_image()),), str(path),
                      input_names=["image"], output_names=["image_embeddings"], opset_version=OPSET,
                      do_constant_folding=False, dynamo=False)


def export_decoder(model: MobileSam, path: Path) -> None:
    """Write the decoder graph to ``path``; the batch of prompts and their number of points are dynamic."""
    sample = _decoder_samples(np.zeros((1, 256, 64, 64), np.float32))[1]
    args = tuple(torch.from_numpy(sample[k]) for k in
                 ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input"))
    torch.onnx.export(DecoderGraph(model).eval(), args, str(path),
                      input_names=list(sample), output_names=["low_res_logits", "iou_predictions"],
                      dynamic_axes={"point_coords": {0: "prompts", 1: "num_points"},
                                    "point_labels": {0: "prompts", 1: "num_points"},
                                    "mask_input": {0: "prompts"}, "has_mask_input": {0: "prompts"},
                                    "low_res_logits": {0: "prompts"}, "iou_predictions": {0: "prompts"}},
                      opset_version=OPSET, do_constant_folding=False, dynamo=False)


def check_parity(model: MobileSam, encoder_path: Path, decoder_path: Path) -> dict[str, float]:
    """Run both files in ONNX Runtime and compare with torch; raise ``ExportError`` on a mismatch."""
    image = sample_image()
    with torch.no_grad():
        want_emb = model.image_encoder(torch.from_numpy(image)).numpy()
    got_emb = cpu_session(encoder_path).run(None, {"image": image})[0]
    report = {"encoder_max_abs_diff": compare_outputs("encoder", got_emb, want_emb, ENCODER_TOL)}
    decoder = DecoderGraph(model, token_major=False).eval()  # SAM's own upscaling
    session = cpu_session(decoder_path)
    worst_logits = worst_iou = 0.0
    for i, feeds in enumerate(_decoder_samples(want_emb)):
        with torch.no_grad():
            logits, iou = decoder(*(torch.from_numpy(v) for v in feeds.values()))
        got_logits, got_iou = session.run(None, feeds)
        worst_logits = max(worst_logits, compare_outputs(f"decoder case {i} logits", got_logits, logits.numpy(),
                                                         DECODER_TOL))
        worst_iou = max(worst_iou, compare_outputs(f"decoder case {i} iou", got_iou, iou.numpy(), DECODER_TOL))
    report["decoder_logits_max_abs_diff"] = worst_logits
    report["decoder_iou_max_abs_diff"] = worst_iou
    return report


def export_model(checkpoint: Path, out_dir: Path, model_name: str = "mobile_sam_vit_t",
                 progress: Callable[[str], None] | None = None) -> dict:
    """Export ``checkpoint`` into ``out_dir`` (``encoder.onnx``, ``decoder.onnx``, ``manifest.json``).

    Files are written in a private temporary folder next to ``out_dir``, verified against
    torch, then moved in; the manifest goes last, so a folder with a manifest is complete.
    Returns the manifest.
    """
    say = progress or (lambda _msg: None)
    checkpoint = Path(checkpoint)
    out_dir = Path(out_dir)
    say(f"loading {checkpoint}")
    model = load_mobile_sam(checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        with torch.no_grad():
            say("exporting encoder.onnx")
            export_encoder(model, work / "encoder.onnx")
            say("exporting decoder.onnx")
            export_decoder(model, work / "decoder.onnx")
        say("checking ONNX Runtime against torch")
        parity = check_parity(model, work / "encoder.onnx", work / "decoder.onnx")
        manifest = {
            "format": MANIFEST_FORMAT,
            "model": model_name,
            "input_size": 1024,
            "embedding_shape": [1, 256, 64, 64],
            "opset": OPSET,
            "torch_version": torch.__version__,
            "checkpoint": {
                "name": checkpoint.name,
                "bytes": checkpoint.stat().st_size,
                "sha256": file_sha256(checkpoint),
                "git_blob_sha1": git_blob_sha1(checkpoint),
            },
            "files": {
                name: {"bytes": (work / name).stat().st_size, "sha256": file_sha256(work / name)}
                for name in ("encoder.onnx", "decoder.onnx")
            },
            "parity": parity,
        }
        (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
        for name in manifest["files"]:
            os.replace(work / name, out_dir / name)
        (work / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(work / MANIFEST_NAME, out_dir / MANIFEST_NAME)
        say(f"wrote {out_dir}")
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)
