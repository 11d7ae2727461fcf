"""A guard against a Qt for Python build that would abort the app after a few thousand calls.

PySide6 6.12.0 on Python 3.11 drops one reference to ``None`` each time a method that returns
nothing (``update``, ``setText``, ``processEvents``...) is called. Python before 3.12 counts
references to ``None`` like any object's, so after a few thousand such calls (seconds of
painting with the brush) the process dies with "none_dealloc: deallocating None". Python 3.12
made ``None`` immortal, where the defect is harmless.
"""

from __future__ import annotations

import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject

FIX = "Install another version: pip install \"PySide6-Essentials>=6.6,<6.12\" (samcut is tested with 6.11.3)."


def binding_defect() -> str | None:
    """A user-facing message if this PySide6 build loses references to ``None``, else None."""
    if sys.version_info >= (3, 12):
        return None
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(16):
        probe.setObjectName("probe")
    if sys.getrefcount(None) > before - 8:
        return None
    return (f"PySide6 {pyside_version} on Python {sys.version_info.major}.{sys.version_info.minor} has a "
            f"reference-counting defect that would crash samcut within minutes. {FIX}")
