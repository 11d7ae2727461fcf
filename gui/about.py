"""Text of the About box."""

from __future__ import annotations

from samcut.models.store.registry import MOBILE_SAM
from samcut.models.version import version_string


def about_text() -> str:
    import onnxruntime
    from PySide6 import __version__ as pyside_version

    return (f"<h3>samcut {version_string()}</h3>"
            "<p>Cut objects out of images with a brush, powered by MobileSAM.</p>"
            f"<p>ONNX Runtime {onnxruntime.__version__} · PySide6 {pyside_version}</p>"
            f"<p><small>{MOBILE_SAM.credit}.<br>samcut is licensed under the Apache License 2.0.</small></p>")
