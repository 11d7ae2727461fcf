"""Building samcut's wheel prints no warnings of our own making (package data, licence, layout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What setuptools says about a wrong package declaration or metadata (the notes it always prints
# with -v about byte-compiling are not about us).
OUR_WARNINGS = ("is absent from the `packages`", "would be ignored", "SetuptoolsDeprecationWarning",
                "_BetaConfiguration", "configuration error", "License classifiers are deprecated")


def test_the_wheel_builds_without_warnings_and_holds_every_package(tmp_path) -> None:
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                             "--disable-pip-version-check", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    said = result.stdout + result.stderr
    assert [line for line in said.splitlines() if any(w in line for w in OUR_WARNINGS)] == []
    wheel = next(tmp_path.glob("samcut-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("samcut/models/store/templates/encoder.onnx-template.xz", "samcut/plugin/gimp/samcut.py",
                     "samcut/plugin/krita/samcut_krita/__init__.py", "samcut/models/document/memory.py"):
        assert required in names, required
    sources = {p.relative_to(ROOT).with_suffix("").parts for p in ROOT.glob("*/**/*.py")
               if p.parts[len(ROOT.parts)] in ("models", "cli", "gui", "plugin") and "__pycache__" not in p.parts}
    packaged = {tuple(Path(n).with_suffix("").parts[1:]) for n in names if n.endswith(".py")}
    assert sources - packaged == set(), "modules left out of the wheel"
