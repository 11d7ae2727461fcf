"""Fuzzing the image-loading gate: mutants of valid PNG, JPEG, TIFF, WebP, GIF and BMP files
(flipped bytes, truncations, spliced lengths) either load as a sane image or give one
``ImageError``; nothing else escapes, nothing hangs, no library warning reaches stderr.

Bounded for CI: a fixed seed, ``MUTANTS`` per format, a time budget per file.
"""

from __future__ import annotations

import io
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
def test_mutants_load_or_give_one_clear_error(tmp_path, capfd, fmt) -> None:
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
    assert outcomes["refused"] > 0  # the mutants really are damaged
