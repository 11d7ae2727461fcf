"""Fuzzing the image-loading gate: mutants of valid PNG, JPEG, TIFF, WebP, GIF and BMP files
(flipped bytes, truncations, spliced lengths), TIFFs with odd header values, and files that
begin like a format samcut refuses (EPS, IPTC, WMF) either load as a sane image or give one
``ImageError``; nothing else escapes, nothing hangs, no library warning or log record reaches
stderr, no other program runs.

Bounded for CI: a fixed seed, ``MUTANTS`` per format, a time budget per file.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import time

import numpy as np
import pytest
from PIL import Image

from samcut.models.document.imageio import ImageError, load_image

MUTANTS = 40
FORMATS = {"PNG": {}, "JPEG": {"quality": 80}, "TIFF": {"compression": "tiff_lzw"}, "WEBP": {"quality": 70},
           "GIF": {}, "BMP": {}}
SECONDS_PER_FILE = 3.0


def sample(fmt: str) -> bytes:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.dstack([x * 4, y * 5, (x + y) * 2]).astype(np.uint8) ^ rng.integers(0, 16, (48, 64, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    if fmt == "GIF":
        image = image.convert("P")
    out = io.BytesIO()
    image.save(out, fmt, **FORMATS[fmt])
    return out.getvalue()


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    raw = bytearray(data)
    kind = rng.integers(0, 4)
    if kind == 0:  # flip a few bytes, headers included
        for _ in range(int(rng.integers(1, 8))):
            raw[int(rng.integers(0, len(raw)))] = int(rng.integers(0, 256))
    elif kind == 1:  # cut it short
        raw = raw[: int(rng.integers(8, len(raw)))]
    elif kind == 2:  # a huge number where a length or size may be
        at = int(rng.integers(8, max(9, min(len(raw) - 4, 64))))
        raw[at:at + 4] = b"\x7f\xff\xff\xff"
    else:  # duplicate a slice (repeated chunks)
        a = int(rng.integers(0, len(raw) - 1))
        b = int(rng.integers(a + 1, len(raw)))
        raw = raw[:b] + raw[a:b] + raw[b:]
    return bytes(raw)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_mutants_load_or_give_one_clear_error(tmp_path, capfd, caplog, fmt) -> None:
    caplog.set_level(logging.WARNING)
    rng = np.random.default_rng(list(FORMATS).index(fmt))
    original = sample(fmt)
    outcomes = {"loaded": 0, "refused": 0}
    for i in range(MUTANTS):
        path = tmp_path / f"m{i}.{fmt.lower()}"
        path.write_bytes(mutate(original, rng))
        started = time.perf_counter()
        try:
            image = load_image(path, max_pixels=4_000_000)
        except ImageError as exc:
            message = str(exc)
            assert message and "\n" not in message and "Traceback" not in message
            outcomes["refused"] += 1
        else:
            h, w = image.size
            assert image.rgb.shape == (h, w, 3) and image.rgb.dtype == np.uint8 and h * w <= 4_000_000
            assert image.alpha is None or image.alpha.shape == (h, w)
            outcomes["loaded"] += 1
        assert time.perf_counter() - started < SECONDS_PER_FILE, f"{path.name} took too long"
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == "", captured.err[-500:]
    assert pillow_log(caplog) == []
    assert outcomes["refused"] > 0  # the mutants really are damaged


def pillow_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Pillow's log records of warnings and worse (a user without logging set up sees them on stderr)."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("PIL") and r.levelno >= logging.WARNING]


def load_or_refuse(path, started: float) -> None:
    """``load_image`` gives a sane image or one ``ImageError`` line, in time."""
    try:
        image = load_image(path, max_pixels=4_000_000)
    except ImageError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert image.rgb.dtype == np.uint8 and image.rgb.shape[2] == 3
    assert time.perf_counter() - started < SECONDS_PER_FILE, f"{path.name} took too long"


TIFF_TAGS = {258: "BitsPerSample", 259: "Compression", 262: "Photometric", 277: "SamplesPerPixel",
             284: "PlanarConfiguration", 338: "ExtraSamples"}


@pytest.mark.parametrize("tag", list(TIFF_TAGS))
def test_odd_tiff_header_values_log_nothing(tmp_path, capfd, caplog, tag) -> None:
    """Each header value set to edge and random numbers (Pillow logs some, "More samples per
    pixel than can be decoded" among them, before it raises)."""
    caplog.set_level(logging.WARNING)
    rng = np.random.default_rng(tag)
    original = bytearray(sample("TIFF"))
    ifd = struct.unpack("<I", original[4:8])[0]
    values = [0, 1, 2, 5, 6, 7, 8, 16, 255, 65535, *(int(v) for v in rng.integers(0, 65536, 6))]
    for i, value in enumerate(values):
        data = bytearray(original)
        count = struct.unpack("<H", data[ifd:ifd + 2])[0]
        entries = [ifd + 2 + 12 * k for k in range(count)]
        found = [e for e in entries if struct.unpack("<H", data[e:e + 2])[0] == tag]
        entry = found[0] if found else entries[-1]  # absent (ExtraSamples): the last entry becomes it
        data[entry:entry + 12] = struct.pack("<HHII", tag, 4, 1, value)
        path = tmp_path / f"t{i}.tif"
        path.write_bytes(bytes(data))
        load_or_refuse(path, time.perf_counter())
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == "", captured.err[-500:]
    assert pillow_log(caplog) == []


REFUSED_MAGIC = {"EPS": b"%!PS-Adobe-3.0 EPSF-3.0\n", "DOS-EPS": struct.pack("<I", 0xC6D3D0C5),
                 "IPTC": b"\x1c\x02\x00\x00\x02", "WMF": b"\xd7\xcd\xc6\x9a\x00\x00"}


@pytest.mark.parametrize("kind", list(REFUSED_MAGIC))
def test_files_that_begin_like_a_refused_format_run_nothing(tmp_path, monkeypatch, capfd, kind) -> None:
    """The magic bytes of EPS, IPTC or WMF before random or image bytes: one ``ImageError`` naming
    the format, and the ``gs`` first on PATH never runs."""
    from PIL import EpsImagePlugin

    folder, marker = tmp_path / "bin", tmp_path / "ghostscript-ran"
    folder.mkdir()
    (folder / "gs").write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    (folder / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)
    rng = np.random.default_rng(len(kind))
    bodies = [sample("PNG"), b"%%BoundingBox: 0 0 10 10\nshowpage\n", *(rng.bytes(int(n)) for n in (0, 40, 4000))]
    for i, body in enumerate(bodies * 3):
        path = tmp_path / f"r{i}.bin"
        path.write_bytes(REFUSED_MAGIC[kind] + (mutate(body, rng) if len(body) > 16 and i >= len(bodies) else body))
        started = time.perf_counter()
        with pytest.raises(ImageError) as caught:
            load_image(path)
        assert f"samcut does not open {kind.replace('DOS-', '')} files" in str(caught.value)
        assert time.perf_counter() - started < SECONDS_PER_FILE
    assert not marker.exists()
    assert capfd.readouterr().err == ""
