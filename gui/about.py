"""Text of the About box."""

from __future__ import annotations

import html

from samcut.models.store.catalogue import MOBILE_SAM, REGISTRY
from samcut.models.store.registry import official_spec, weights_origin
from samcut.models.version import version_string


def model_line(manifest: dict | None) -> str:
    """Which model is loaded: none, the official weights, or custom weights with their file and hash."""
    if not manifest:
        return "No model loaded."
    origin = html.escape(weights_origin(manifest))
    official = official_spec(manifest)
    architecture = REGISTRY.get(str(manifest.get("architecture")))
    title = official.title if official else (architecture.title if architecture else "")
    return f"Model: {title}, {origin}." if title else f"Model: {origin}."


def _credit(manifest: dict | None) -> str:
    """The loaded model's credit (its weights' licence), MobileSAM's when none is loaded."""
    spec = (official_spec(manifest) or REGISTRY.get(str(manifest.get("architecture")))) if manifest else None
    return (spec or MOBILE_SAM).credit


def about_text(manifest: dict | None = None) -> str:
    import onnxruntime
    from PySide6 import __version__ as pyside_version

    return (f"<h3>samcut {version_string()}</h3>"
            "<p>Cut objects out of images with a brush, powered by Segment Anything models.</p>"
            f"<p>{model_line(manifest)}</p>"
            f"<p>ONNX Runtime {onnxruntime.__version__} · PySide6 {pyside_version}</p>"
            f"<p><small>{_credit(manifest)}.<br>samcut is licensed under the Apache License 2.0.</small></p>")
