"""The model store under faults: two installs at once, an endless download, a killed conversion,
a folder without its manifest, a full disk."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time

import pytest

from samcut.models.engine.sam_engine import ModelError, verify_model_dir
from samcut.models.store import convert
from samcut.models.store.download import DownloadError, download
from samcut.models.store.lock import InstallBusy, install_lock

from loopback_server import Server as LoopbackServer
from reference import reference_dir


def test_a_second_install_waits_for_the_first(tmp_path) -> None:
    order: list[str] = []
    said: list[str] = []
    with install_lock(tmp_path):
        def second() -> None:
            with install_lock(tmp_path, say=said.append):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"] and "waiting" in said[0]
    with install_lock(tmp_path), pytest.raises(InstallBusy, match="another samcut is installing"):
        # another process holds it: flock is per open file, so a second open in this process counts
        with install_lock(tmp_path, wait=False):
            pass


def test_a_download_larger_than_the_model_can_be_is_stopped_and_removed(tmp_path) -> None:
    blob = os.urandom(3 * 2**20)
    with LoopbackServer(blob, send_length=False) as server:
        with pytest.raises(DownloadError, match="sent more than"):
            download(server.url, tmp_path / "m.pt", "0" * 40, max_bytes=2**20)
    assert list(tmp_path.iterdir()) == []
    with LoopbackServer(blob) as server, pytest.raises(DownloadError, match="more than the 1 MB"):
        download(server.url, tmp_path / "m.pt", "0" * 40, max_bytes=2**20)


def test_a_killed_conversion_leaves_nothing_the_next_one_does_not_remove(tmp_path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    stale = out / f"{convert.WORK_PREFIX}{dead}-abcd"
    stale.mkdir()
    (stale / "encoder.onnx").write_bytes(b"x" * 1000)
    old_style = out / f"{convert.WORK_PREFIX}old"
    old_style.mkdir()
    convert.convert_checkpoint(reference_dir() / "mobile_sam_test.pt", out)
    assert not stale.exists() and not old_style.exists()
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "manifest.json"]


def test_a_model_folder_without_its_manifest_is_refused(test_model_dir, tmp_path) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(test_model_dir, folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ModelError, match="no manifest.json"):
        verify_model_dir(folder)


def test_a_full_disk_names_the_folder_and_the_space_needed(tmp_path, monkeypatch) -> None:
    real_fill = convert.fill_template

    def full(template, state, out) -> None:
        real_fill(template, state, out)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convert, "fill_template", full)
    out = tmp_path / "model"
    with pytest.raises(convert.ConversionError) as caught:
        convert.convert_checkpoint(reference_dir() / "mobile_sam_test.pt", out)
    assert f"not enough space in {out}" in str(caught.value) and "MB are free" in str(caught.value)
    assert not out.exists()
