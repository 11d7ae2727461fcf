"""samcut's version (from the installed package metadata)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def version_string() -> str:
    try:
        return version("samcut")
    except PackageNotFoundError:
        return "unknown"
