"""Text of the About box."""

from __future__ import annotations

import html

from samcut.models.store.registry import MOBILE_SAM, is_official, weights_origin
from samcut.models.version import version_string


def model_line(manifest: dict | None) -> str:
    """Which model is loaded: none, the official weights, or custom weights with their file and hash."""
    if not manifest:
        return "No model loaded."
    origin = html.escape(weights_origin(manifest))
    return f"Model: {MOBILE_SAM.title}, {origin}." if is_official(MOBILE_SAM, manifest) else f"Model: {origin}."


def about_text(manifest: dict | None = None) -> str:
    import onnxruntime
    from PySide6 import __version__ as pyside_version

    return (f"<h3>samcut {version_string()}</h3>"
            "<p>Cut objects out of images with a brush, powered by MobileSAM.</p>"
            f"<p>{model_line(manifest)}</p>"
            f"<p>ONNX Runtime {onnxruntime.__version__} · PySide6 {pyside_version}</p>"
            f"<p><small>{MOBILE_SAM.credit}.<br>samcut is licensed under the Apache License 2.0.</small></p>")
