"""Image reading: every odd mode converts sensibly; every bad file gets one clear ImageError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from samcut.models.document import memory
from samcut.models.document.imageio import ImageError, load_image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16_rgb(path, array: np.ndarray) -> None:
    h, w, _ = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw))
                     + png_chunk(b"IEND", b""))


def write_bomb_png(path, width: int, height: int) -> None:
    """A tiny file whose header claims a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                     + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b""))


def gradient(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 8, y * 10, (x + y) * 4]).astype(np.uint8)


def test_rgb_png_round_trips(tmp_path) -> None:
    Image.fromarray(gradient()).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(img.rgb, gradient())
    assert img.alpha is None and img.size == (24, 32)


def test_grey_becomes_three_equal_channels(tmp_path) -> None:
    Image.fromarray(gradient()[..., 0]).save(tmp_path / "g.png")
    rgb = load_image(tmp_path / "g.png").rgb
    assert rgb.shape == (24, 32, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_16bit_grey_is_scaled_not_clipped(tmp_path) -> None:
    data = (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 85)
    Image.fromarray(data).save(tmp_path / "g16.png")
    img = load_image(tmp_path / "g16.png")
    assert img.mode.startswith("I")
    expected = np.round(data / 257.0).astype(np.uint8)
    assert np.abs(img.rgb[..., 0].astype(int) - expected).max() <= 1
    assert img.rgb.max() > 200  # clipping at 255 would make most of it white; scaling keeps the ramp


def test_16bit_rgb(tmp_path) -> None:
    array = np.zeros((4, 5, 3), np.uint16)
    array[..., 0], array[..., 1], array[..., 2] = 65535, 32768, 0
    write_png16_rgb(tmp_path / "rgb16.png", array)
    rgb = load_image(tmp_path / "rgb16.png").rgb
    assert tuple(rgb[0, 0]) == (255, 128, 0)


def test_palette_with_transparency_keeps_alpha(tmp_path) -> None:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (0, 0, 5, 10))
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    img = load_image(tmp_path / "p.png")
    assert img.alpha is not None and img.alpha[0, 9] == 0 and img.alpha[0, 0] == 255
    assert tuple(img.rgb[0, 0]) == (0, 255, 0)
    assert tuple(img.model_rgb()[0, 9]) == (255, 255, 255)  # transparent -> white for the encoder
    h, w = img.size
    np.testing.assert_array_equal(img.model_rgb((5, 0, w, h))[:, 4:], img.model_rgb()[:, 9:])  # a region alone


def test_grey_alpha(tmp_path) -> None:
    Image.new("LA", (6, 4), (100, 50)).save(tmp_path / "la.png")
    img = load_image(tmp_path / "la.png")
    assert img.alpha is not None and int(img.alpha[0, 0]) == 50 and tuple(img.rgb[0, 0]) == (100, 100, 100)


def test_cmyk_jpeg(tmp_path) -> None:
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    img = load_image(tmp_path / "c.jpg")
    r, g, b = (int(v) for v in img.rgb[4, 8])
    assert img.mode == "CMYK" and r > 200 and g < 60 and b < 60


def test_exif_rotation_is_applied(tmp_path) -> None:
    im = Image.fromarray(gradient(20, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif.tobytes())
    img = load_image(tmp_path / "r.jpg")
    assert img.size == (40, 20)


def test_one_bit_and_float_modes(tmp_path) -> None:
    Image.new("1", (8, 8), 1).save(tmp_path / "b.png")
    assert load_image(tmp_path / "b.png").rgb.min() == 255
    Image.fromarray(np.full((4, 4), 0.5, np.float32)).save(tmp_path / "f.tif")
    assert int(load_image(tmp_path / "f.tif").rgb[0, 0, 0]) == 128


def _truncated(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()[: len(buf.getvalue()) // 2]


@pytest.mark.parametrize("name,content,message", [
    ("empty.png", b"", "empty"),
    ("text.png", b"hello, this is not an image\n" * 10, "not an image file"),
    ("trunc.png", _truncated("PNG"), "damaged or truncated"),
    ("trunc.jpg", _truncated("JPEG"), "damaged or truncated"),
])
def test_bad_files(tmp_path, name, content, message) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(tmp_path / name)


def test_missing_file_and_folder(tmp_path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_by_size(tmp_path) -> None:
    write_bomb_png(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(ImageError, match="30000x30000 is 900.0 megapixels, over the limit of 200"):
        load_image(tmp_path / "bomb.png")


def test_pixel_limit_is_configurable(tmp_path, monkeypatch) -> None:
    Image.fromarray(gradient()).save(tmp_path / "a.png")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(tmp_path / "a.png", max_pixels=100)
    monkeypatch.setenv("SAMCUT_MAX_PIXELS", "100")
    with pytest.raises(ImageError, match="over the limit"):
        load_image(tmp_path / "a.png")


def icns_holding(inner: bytes) -> bytes:
    """An ICNS icon whose 256 x 256 slot (``ic08``) holds ``inner`` (a PNG)."""
    block = b"ic08" + struct.pack(">I", 8 + len(inner)) + inner
    return b"icns" + struct.pack(">I", 8 + len(block)) + block


def test_a_bomb_inside_a_container_is_refused_before_it_takes_memory(tmp_path) -> None:
    """A 256 x 256 icon holding a PNG that claims 2.5e11 pixels (as Pillow's oom-8ed33... test file).

    Loaded in a child limited to 2 GB of address space: without Pillow's guard the decode runs
    into that limit (on a normal machine it grew past 8 GB), with it the file is refused at once.
    """
    import resource
    import subprocess
    import sys

    header = struct.pack(">IIBBBBB", 500_000, 500_000, 8, 6, 0, 0, 0)
    inner = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
             + png_chunk(b"IEND", b""))
    path = tmp_path / "bomb.icns"
    path.write_bytes(icns_holding(inner))
    code = ("import sys; from samcut.models.document.imageio import ImageError, load_image\n"
            "try: load_image(sys.argv[1])\nexcept ImageError as e: print(e)")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                            preexec_fn=limit_memory)
    assert result.returncode == 0, result.stderr
    assert "claims more than 200 megapixels" in result.stdout and "decompression bomb" in result.stdout
    assert Image.MAX_IMAGE_PIXELS is not None  # the guard is Pillow's default outside a load, never off


def test_an_unsupported_variant_of_a_known_format_gets_one_line(tmp_path) -> None:
    """A DDS with a pixel format Pillow does not implement raised NotImplementedError (a traceback)."""
    header = bytearray(124)
    struct.pack_into("<III", header, 0, 124, 0x1007, 16)  # size, flags, height
    struct.pack_into("<I", header, 12, 16)  # width
    struct.pack_into("<II", header, 72, 32, 0x4)  # pixel format: size, DDPF_FOURCC
    header[80:84] = b"XYZW"
    path = tmp_path / "odd.dds"
    path.write_bytes(b"DDS " + bytes(header) + bytes(1024))
    with pytest.raises(ImageError, match=r"odd\.dds: this kind of DDS file is not supported \(Unimplemented"):
        load_image(path)


def test_library_warnings_do_not_escape(tmp_path) -> None:
    """Pillow warns about images between half the limit and the limit (its bomb warning); the
    user sees no warning, only the image or one message."""
    import warnings

    image = gradient()
    Image.fromarray(image).save(tmp_path / "a.png")
    pixels = image.shape[0] * image.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escaped would fail the load
        assert load_image(tmp_path / "a.png", max_pixels=int(pixels * 1.5)).size == image.shape[:2]


def test_memory_budget_refuses_before_decoding_and_names_both_figures(tmp_path, monkeypatch) -> None:
    write_bomb_png(tmp_path / "big.png", 14000, 14000)  # 196 MP: under the pixel limit
    monkeypatch.setenv("SAMCUT_MAX_MEMORY", "1G")
    with pytest.raises(ImageError, match=r"14000x14000 L image needs about 1\.\d GB of memory to edit, more than "
                                         r"1\.0 GB \(SAMCUT_MAX_MEMORY\)"):
        load_image(tmp_path / "big.png")
    with pytest.raises(ImageError, match="more than 512 MB"):
        load_image(tmp_path / "big.png", max_memory=512 << 20)
    monkeypatch.setenv("SAMCUT_MAX_MEMORY", "lots")
    with pytest.raises(ImageError, match="SAMCUT_MAX_MEMORY='lots' is not a size"):
        load_image(tmp_path / "big.png")


def test_memory_budget_defaults_to_half_the_machine_and_counts_alpha(monkeypatch) -> None:
    monkeypatch.delenv("SAMCUT_MAX_MEMORY", raising=False)
    budget, source = memory.memory_budget()
    total = memory.physical_memory()
    assert total is not None and budget == total // 2 and "half" in source
    assert memory.estimated_peak_bytes(10**8, "RGBA") > memory.estimated_peak_bytes(10**8, "RGB") \
        > memory.estimated_peak_bytes(10**8, "L") > memory.FIXED_BYTES
    assert [memory.parse_bytes(t) for t in ("2G", "512m", "800K", "1000", "1.5GB")] == \
        [2 << 30, 512 << 20, 800 << 10, 1000, 3 << 29]
    for bad in ("", "-1G", "0", "nanM", "G"):
        with pytest.raises(ValueError):
            memory.parse_bytes(bad)
