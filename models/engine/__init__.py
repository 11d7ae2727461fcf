"""MobileSAM runtime: numpy + onnxruntime + Pillow only (no torch, no Qt)."""

from samcut.models.engine.postprocess import upsample_logits, upsample_masks
from samcut.models.engine.preprocess import encoder_input, resized_size
from samcut.models.engine.sam_engine import (
    Cancellation,
    EncodeCancelled,
    ModelError,
    SamEngine,
    verify_model_dir,
)
from samcut.models.engine.types import ImageEmbedding, Prediction, Prompt

__all__ = [
    "Cancellation", "EncodeCancelled", "ImageEmbedding", "ModelError", "Prediction", "Prompt", "SamEngine",
    "encoder_input", "resized_size", "upsample_logits", "upsample_masks", "verify_model_dir",
]
