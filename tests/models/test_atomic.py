"""Atomic writes: the old file survives any failure, keeps its mode, and no temp file outlives its writer."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from samcut.models.io.atomic import atomic_write


def test_an_overwrite_keeps_the_files_mode(tmp_path) -> None:
    target = tmp_path / "private.png"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    atomic_write(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_temp_files_of_dead_writers_are_removed_but_not_a_live_ones(tmp_path) -> None:
    target = tmp_path / "cut.png"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".cut.png.{dead_pid}.abc123.part"
    live = tmp_path / f".cut.png.{os.getppid()}.def456.part"  # our parent is alive
    other = tmp_path / f".other.png.{dead_pid}.abc123.part"
    for f in (stale, live, other):
        f.write_bytes(b"x" * 100)
    atomic_write(target, lambda fh: fh.write(b"data"))
    assert not stale.exists() and live.exists() and other.exists() and target.read_bytes() == b"data"


def test_a_failed_write_names_the_users_path_and_leaves_the_old_file(tmp_path) -> None:
    target = tmp_path / "cut.png"
    target.write_bytes(b"old")

    def fails(fh) -> None:
        fh.write(b"half")
        raise OSError(28, "No space left on device", fh.name)

    with pytest.raises(OSError) as caught:
        atomic_write(target, fails)
    assert caught.value.filename == str(target) and "No space left" in str(caught.value)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["cut.png"]
    with pytest.raises(OSError) as missing:
        atomic_write(tmp_path / "no such folder" / "x.png", lambda fh: fh.write(b""))
    assert missing.value.filename == str(tmp_path / "no such folder" / "x.png")
