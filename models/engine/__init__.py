"""MobileSAM runtime: numpy + onnxruntime + Pillow only (no torch, no Qt).

The names below load on first use, so that importing a part of the engine (its errors, the
service's types, the postprocessing) does not import ONNX Runtime: the window paints first.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Cancellation": "cancellation", "EncodeCancelled": "errors", "ModelError": "errors",
    "SamEngine": "sam_engine", "verify_model_dir": "sam_engine", "encoder_input": "preprocess",
    "resized_size": "preprocess", "upsample_logits": "postprocess", "upsample_masks": "postprocess",
    "ImageEmbedding": "types", "Prediction": "types", "Prompt": "types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
