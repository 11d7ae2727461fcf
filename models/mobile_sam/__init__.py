"""Our own PyTorch definition of MobileSAM (build-time only: used by ``samcut.models.export``)."""

from samcut.models.mobile_sam.sam import CheckpointError, MobileSam, build_mobile_sam, load_mobile_sam

__all__ = ["CheckpointError", "MobileSam", "build_mobile_sam", "load_mobile_sam"]
