"""Stopping a running encode from another thread (ONNX Runtime is imported only when one is made)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime as ort


def encoder_run_options() -> ort.RunOptions:
    """Run options of an encode: the memory arena gives back what the run took (about 100 MB of
    activations at 1024 x 1024) when it ends; an encode happens once per image, and measured
    alongside, returning the memory costs no time that the run's own noise does not hide."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


class Cancellation:
    """Lets another thread stop a running ``SamEngine.encode`` (ONNX Runtime ``RunOptions.terminate``)."""

    def __init__(self) -> None:
        self.run_options = encoder_run_options()
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Ask the encode to stop as soon as it can; safe from any thread."""
        self._cancelled.set()
        self.run_options.terminate = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()
