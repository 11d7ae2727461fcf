"""Export the SAM v1 (``vit_b``/``vit_l``/``vit_h``) image encoder to ONNX.

Same graph contract as MobileSAM's encoder (``onnx_export``): ``image`` ``1 x 3 x 1024 x 1024``
float32 (normalised, zero-padded bottom/right) -> ``image_embeddings`` ``1 x 256 x 64 x 64``. The
decoder needs nothing of its own: ``onnx_export.export_decoder`` and ``check_parity`` take a
``SamViT`` as they take a ``MobileSam`` (same prompt encoder and mask decoder classes and keys).

Exported with the legacy TorchScript exporter and without constant folding, so every initializer
is a byte-for-byte copy of a checkpoint tensor (the weightless templates cut them out); the
relative-position gathers and weight transposes are folded by ONNX Runtime when a session loads.
Global attention is unrolled in query-row chunks (``image_encoder.GLOBAL_CHUNK_ROWS``), which keeps
ONNX Runtime's peak memory bounded; see ``samcut.models.sam_vit.image_encoder`` for the figures.

Over 2 GB (``vit_h``: 2.56 GB of encoder weights; a protobuf cannot exceed 2 GB), torch 2.13's legacy
exporter switches to ONNX external data by itself (checked with the generated ``vit_h`` checkpoint):
next to ``encoder.onnx`` (1.2 MB, graph only) it writes one file per initializer larger than 1 KB,
named after the initializer (``encoder.blocks.0.attn.qkv.weight`` ...; 453 files), holding exactly
the tensor's little-endian bytes; each such ``TensorProto`` has ``data_location = EXTERNAL`` and one
``external_data`` entry, ``location`` = that file name (no ``offset``/``length``). Initializers of
1 KB or less stay inline as ``raw_data`` (the neck's four 256-float LayerNorm2d tensors), and a large
``Constant`` node attribute goes out too (``Constant_3213_attr__value``: the 64 x 64 int64 relative
index table). ONNX Runtime 1.32 loads the folder as is (ORT vs torch 6.4e-6). The files land in the
output file's folder, so export into a folder of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from samcut.models.export.onnx_export import OPSET, sample_image
from samcut.models.sam_vit import SamViT


class SamViTEncoderGraph(nn.Module):
    """The image encoder under the attribute ``encoder``, so that its initializers are named
    ``encoder.X`` for checkpoint tensor ``image_encoder.X`` (``templates.encoder_key``)."""

    def __init__(self, model: SamViT) -> None:
        super().__init__()
        self.encoder = model.image_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(image)


def export_sam_vit_encoder(model: SamViT, path: Path, sample: np.ndarray | None = None) -> None:
    """Write ``model``'s image encoder to ``path`` (legacy exporter, opset ``OPSET``, no constant folding).

    ``sample``: the ``1 x 3 x 1024 x 1024`` float32 input to trace with (default: a textured image).
    """
    image = torch.from_numpy(sample_image() if sample is None else sample)
    with torch.no_grad():
        torch.onnx.export(SamViTEncoderGraph(model).eval(), (image,), str(path),
                          input_names=["image"], output_names=["image_embeddings"], opset_version=OPSET,
                          do_constant_folding=False, dynamo=False)
