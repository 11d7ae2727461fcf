"""Our own PyTorch definition of SAM v1 ``vit_b``/``vit_l``/``vit_h`` (build-time only: used by
``samcut.models.export``)."""

from samcut.models.sam_vit.sam import SAM_VIT_CONFIGS, CheckpointError, SamViT, build_sam_vit, load_sam_vit

__all__ = ["SAM_VIT_CONFIGS", "CheckpointError", "SamViT", "build_sam_vit", "load_sam_vit"]
