"""torch -> ONNX export of MobileSAM (build-time only; needs the ``export`` extra)."""

from samcut.models.export.onnx_export import ExportError, export_model

__all__ = ["ExportError", "export_model"]
