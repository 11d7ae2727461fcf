"""A plain-text progress bar for the terminal (stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``progress(done, total)`` callback that redraws one line at most 10 times a second."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30, unit: str = "MB") -> None:
        """``unit`` "MB": ``done``/``total`` are bytes; any other unit: counts of it (e.g. "points")."""
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._last = 0.0
        self._live = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last < (0.1 if self._live else 5.0):
            return  # a log file or pipe gets a line every few seconds, a terminal a live bar
        self._last = now
        if total:
            filled = int(self.width * done / total)
            bar = "#" * filled + "-" * (self.width - filled)
            amount = f"{done / 1e6:6.1f}/{total / 1e6:.1f} MB" if self.unit == "MB" else f"{done}/{total} {self.unit}"
            text = f"\r{self.label} [{bar}] {amount} {100 * done / total:3.0f}%"
        else:
            text = f"\r{self.label} {done / 1e6:6.1f} MB"
        self.stream.write(text if self._live else text.lstrip("\r") + "\n")
        if final and self._live:
            self.stream.write("\n")
        self.stream.flush()
