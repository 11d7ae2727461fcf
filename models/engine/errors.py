"""The engine's errors (importing this module loads no ONNX Runtime)."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model directory is missing, incomplete, corrupt or does not match its manifest."""


class EncodeCancelled(RuntimeError):
    """``encode`` was stopped through its ``Cancellation``."""
