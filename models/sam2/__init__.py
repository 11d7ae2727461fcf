"""Our own PyTorch definition of SAM 2.1 in image mode (build-time only: used by ``samcut.models.export``)."""

from samcut.models.sam2.hiera import SAM2_CONFIGS, HieraConfig
from samcut.models.sam2.sam import (
    VIDEO_ONLY_PREFIXES,
    CheckpointError,
    Sam2,
    build_sam2,
    decode_prompts,
    image_features,
    load_sam2,
)

__all__ = ["SAM2_CONFIGS", "VIDEO_ONLY_PREFIXES", "CheckpointError", "HieraConfig", "Sam2", "build_sam2",
           "decode_prompts", "image_features", "load_sam2"]
