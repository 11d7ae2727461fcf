"""samcut's version and, where known, the git commit it was built from."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BUILD_INFO = "build_info.json"  # written into the bundle by packaging/build.sh


def _bundle_dir() -> Path | None:
    return Path(getattr(sys, "_MEIPASS", "")) if getattr(sys, "frozen", False) else None


def build_info() -> dict:
    """``{"version": ..., "commit": ...}`` of this build."""
    bundle = _bundle_dir()
    if bundle is not None:
        try:
            return json.loads((bundle / BUILD_INFO).read_text())
        except (OSError, ValueError):
            pass
    try:
        ver = version("samcut")
    except PackageNotFoundError:
        ver = "unknown"
    commit = ""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / ".git").exists():
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True,
                                    text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
    return {"version": ver, "commit": commit}


def version_string() -> str:
    """``0.1.0`` or ``0.1.0 (abc1234)``."""
    info = build_info()
    return f"{info['version']} ({info['commit']})" if info.get("commit") else info["version"]
