"""The CLI refuses hostile input in exactly one line (issue 25 item 9), run as a user runs it:
a separate process with no logging set up, so nothing a library prints can hide."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from hostile import EPS, tiff_with_samples
from reference import reference_dir


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "samcut.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def one_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2 and run.stdout == "", (run.returncode, run.stdout, run.stderr)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("samcut: "), run.stderr
    return lines[0]


@pytest.mark.parametrize("samples", [7, 65535])
def test_a_tiff_pillow_logs_about_gives_one_line(tmp_path, samples) -> None:
    path = tmp_path / "many.tif"
    path.write_bytes(tiff_with_samples(samples))
    line = one_line(run_cli("segment", str(path), "--point", "1,1", "--mask", str(tmp_path / "m.png")))
    assert str(path) in line and "More samples" not in line


def test_eps_gives_one_line_naming_the_format_and_runs_nothing(tmp_path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    marker = tmp_path / "ghostscript-ran"
    (folder / "gs").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (folder / "gs").chmod(0o755)
    path = tmp_path / "drawing.eps"
    path.write_bytes(EPS)
    run = run_cli("segment", str(path), "--point", "1,1", "--mask", str(tmp_path / "m.png"),
                  env={"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"})
    assert "samcut does not open EPS files" in one_line(run) and not marker.exists()


def test_a_read_only_output_gives_one_line_before_any_work(tmp_path) -> None:
    image = tmp_path / "i.png"
    Image.new("RGB", (20, 10), "white").save(image)
    out = tmp_path / "m.png"
    out.write_bytes(b"keep")
    out.chmod(0o444)
    line = one_line(run_cli("segment", str(image), "--point", "1,1", "--mask", str(out),
                            "--models", str(tmp_path / "no-model")))  # refused before the model is looked at
    assert line == f"samcut: --mask {out} is read-only: samcut does not replace it (give another name, or make it " \
                   "writable)"
    assert out.read_bytes() == b"keep"


def test_a_model_name_with_a_line_break_gives_one_line(tmp_path) -> None:
    root = tmp_path / "root"
    run = run_cli("models", "export", str(reference_dir() / "mobile_sam_test.pt"), "--name", "k\nx",
                  env={"SAMCUT_MODELS_ROOT": str(root)})
    assert "'k\\nx' cannot name custom weights" in one_line(run) and not root.exists()
