"""Noise and surprises (issue 25 item 9): Pillow's log lines, readers that run other programs,
read-only outputs, model names with line breaks, and what a full disk is said to leave free."""

from __future__ import annotations

import errno
import io
import logging
import os
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from samcut.models.document.cutout import save_cutout, save_mask
from samcut.models.document.imageio import ImageError, load_image
from samcut.models.store import convert
from samcut.models.store import download as download_module
from samcut.models.store.download import DownloadError, download
from samcut.models.store.install import install_custom

from hostile import EPS, tiff_with_samples
from loopback_server import Server as LoopbackServer
from reference import reference_dir


@pytest.mark.parametrize("samples", [7, 65535])
def test_pillow_logs_nothing_while_an_image_loads(tmp_path, caplog, samples) -> None:
    """Pillow logs "More samples per pixel than can be decoded" before it raises; with no logging
    set up, Python printed that line to stderr before samcut's own."""
    path = tmp_path / "many.tif"
    path.write_bytes(tiff_with_samples(samples))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert "\n" not in str(caught.value)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("PIL") and r.levelno >= logging.WARNING] == []
    assert logging.getLogger("PIL").propagate  # as it was


@pytest.fixture()
def fake_ghostscript(tmp_path, monkeypatch) -> Path:
    """A ``gs`` first on PATH that leaves a marker if anything runs it; returns the marker."""
    from PIL import EpsImagePlugin

    folder = tmp_path / "bin"
    folder.mkdir()
    marker = tmp_path / "ghostscript-ran"
    script = folder / "gs"
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # look for it again
    monkeypatch.setattr(EpsImagePlugin, "gs_windows_binary", None)
    return marker


def test_eps_is_refused_without_running_ghostscript(tmp_path, fake_ghostscript) -> None:
    for name, data in (("drawing.eps", EPS), ("dos.eps", struct.pack("<I", 0xC6D3D0C5) + b"\0" * 28 + EPS)):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError, match="samcut does not open EPS files .Pillow reads PostScript by running "
                                             "Ghostscript") as caught:
            load_image(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    assert not fake_ghostscript.exists()


def test_the_usual_formats_still_open(tmp_path) -> None:
    rgb = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    for fmt in ("PNG", "TIFF", "BMP", "WEBP", "GIF", "PPM", "TGA", "JPEG", "SGI", "PCX"):
        path = tmp_path / f"x.{fmt.lower()}"
        Image.fromarray(rgb).save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        assert load_image(path).size == (6, 8), fmt


def test_a_read_only_output_is_not_replaced(tmp_path) -> None:
    mask = np.zeros((4, 5), np.uint8)
    rgb = np.zeros((4, 5, 3), np.uint8)
    for name, save in (("m.png", lambda p: save_mask(p, mask)), ("c.png", lambda p: save_cutout(p, rgb, mask))):
        path = tmp_path / name
        path.write_bytes(b"the user's file")
        path.chmod(0o444)  # (root may write anything: the mode bits say read-only all the same)
        with pytest.raises(PermissionError, match=f"{path} is read-only: samcut does not replace it"):
            save(path)
        assert path.read_bytes() == b"the user's file" and path.stat().st_mode & 0o777 == 0o444
        path.chmod(0o644)
        save(path)
        assert Image.open(path).size == (5, 4)


@pytest.mark.parametrize("name", ["k\nx", ".hidden", "a" * 65, "../k", "k/x", "", " k", "k\x00", "ké", "-\r"])
def test_custom_model_names_are_checked_before_anything_is_read(tmp_path, monkeypatch, name) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "root"))
    with pytest.raises(ValueError, match="cannot name custom weights: give a name of 1 to 64 letters") as caught:
        install_custom(reference_dir() / "mobile_sam_test.pt", name)
    assert "\n" not in str(caught.value) and not (tmp_path / "root").exists()


def test_a_long_file_name_gives_a_name_that_fits(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "root"))
    checkpoint = tmp_path / f"{'x' * 63}.-{'y' * 30}.pt"
    os.symlink(reference_dir() / "mobile_sam_test.pt", checkpoint)
    assert install_custom(checkpoint).name == "x" * 63
    assert install_custom(checkpoint, "my.model-2_b").name == "my.model-2_b"


def test_a_full_disk_tells_the_space_free_once_the_partial_files_are_gone(tmp_path, monkeypatch,
                                                                         test_model_dir) -> None:
    out = tmp_path / "model"
    real_fill = convert.fill_template

    def fills_the_disk(template, state, fh) -> None:
        real_fill(template, state, fh)
        raise OSError(errno.ENOSPC, "No space left on device")

    def usage(_path) -> SimpleNamespace:
        partial = list(tmp_path.rglob("*.onnx"))  # this conversion's files, wherever it keeps them
        return SimpleNamespace(total=10**9, used=10**9, free=0 if partial else 30 * 10**6)

    monkeypatch.setattr(convert, "fill_template", fills_the_disk)
    monkeypatch.setattr(convert.shutil, "disk_usage", usage)
    with pytest.raises(convert.ConversionError) as caught:
        convert.convert_checkpoint(reference_dir() / "mobile_sam_test.pt", out)
    need = sum((test_model_dir / name).stat().st_size for name in ("encoder.onnx", "decoder.onnx"))  # its files
    assert f"not enough space in {out}: the model needs about {need / 1e6:.0f} MB, 30 MB are free" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_during_a_download_says_what_is_kept_and_what_more_it_needs(tmp_path, monkeypatch) -> None:
    blob = os.urandom(3 * 10**6)
    real_fdopen = os.fdopen

    class FillsUp(io.RawIOBase):
        def __init__(self, fh) -> None:
            self.fh, self.written = fh, 0

        def write(self, data) -> int:
            if self.written + len(data) > 10**6:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.fh.write(data)

        def close(self) -> None:
            self.fh.close()

    class OsWhoseDiskFills:  # the download module's ``os``, its files filling up after 1 MB
        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        @staticmethod
        def fdopen(fd: int, mode: str) -> FillsUp:
            return FillsUp(real_fdopen(fd, mode))

    monkeypatch.setattr(download_module, "os", OsWhoseDiskFills())
    with LoopbackServer(blob) as server, pytest.raises(DownloadError) as caught:
        download(server.url, tmp_path / "m.pt", "0" * 40)
    message = str(caught.value)
    assert "it needs 2 MB more (1 MB are downloaded and kept to resume)" in message, message
    assert (tmp_path / "m.pt.part").stat().st_size == 10**6 - 10**6 % 65536
