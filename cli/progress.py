"""A plain-text progress bar for the terminal (stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``progress(done, total)`` callback that redraws one line at most 10 times a second."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last < 0.1:
            return
        self._last = now
        if total:
            filled = int(self.width * done / total)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"\r{self.label} [{bar}] {done / 1e6:6.1f}/{total / 1e6:.1f} MB {100 * done / total:3.0f}%"
        else:
            text = f"\r{self.label} {done / 1e6:6.1f} MB"
        self.stream.write(text)
        if final:
            self.stream.write("\n")
        self.stream.flush()
