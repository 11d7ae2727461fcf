"""Reading images of any common kind into samcut's ``uint8 H x W x 3`` RGB (+ optional alpha).

Every failure becomes an ``ImageError`` with a one-line message meant for the user.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from samcut.models.document.memory import MAX_MEMORY_ENV, estimated_peak_bytes, format_bytes, memory_budget
from samcut.models.engine.types import XYXY

DEFAULT_MAX_PIXELS = 200_000_000
MAX_PIXELS_ENV = "SAMCUT_MAX_PIXELS"
STRIP_BYTES = 16 << 20  # pixels leave Pillow in strips of about this size

# Every error Pillow's decoders are known to raise for hostile or unusual files (fuzzing found
# several beyond OSError); each becomes the one-line "damaged" message.
DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
                  ZeroDivisionError, AttributeError, RuntimeError)
_guard_lock = threading.Lock()

# The formats samcut opens: Pillow's readers that decode the file themselves. Left out, with the
# reason the one-line refusal gives: readers that hand the file to another program or renderer,
# and IPTC, whose reader opens the data inside it with every reader Pillow has (EPS included).
OPENED_FORMATS = ("AVIF", "BLP", "BMP", "DIB", "BUFR", "CUR", "PCX", "DCX", "DDS", "FITS", "FLI", "FTEX", "GBR",
                  "GIF", "GRIB", "HDF5", "PNG", "JPEG2000", "ICNS", "ICO", "IM", "IMT", "JPEG", "MCIDAS", "MPEG",
                  "TIFF", "MSP", "PCD", "PIXAR", "PPM", "PSD", "QOI", "SGI", "SPIDER", "SUN", "TGA", "WEBP", "XBM",
                  "XPM", "XVTHUMB", "FPX", "MIC")
REFUSED_FORMATS = {
    "EPS": "Pillow reads PostScript by running Ghostscript, another program, on the file",
    "WMF": "Pillow draws metafiles with the system's metafile renderer",
    "IPTC": "Pillow reads the data inside IPTC files with every reader it has, PostScript's included",
}


def opened_formats() -> list[str]:
    """``OPENED_FORMATS`` that this Pillow has, in Pillow's own order (what ``Image.open`` tries)."""
    Image.init()
    return [name for name in Image.ID if name in OPENED_FORMATS]


def refused_format(path: Path) -> str | None:
    """The name of the refused format (``REFUSED_FORMATS``) that ``path``'s first bytes announce, if any."""
    Image.init()
    try:
        with open(path, "rb") as fh:
            prefix = fh.read(16)
    except OSError:
        return None
    for name in REFUSED_FORMATS:
        accept = Image.OPEN.get(name, (None, None))[1]
        if name == "IPTC":
            if prefix[:1] == b"\x1c" and prefix[1:2] and prefix[1] in (*range(1, 10), 240):  # its reader's test
                return name
        elif accept is not None and accept(prefix):
            return name
    return None


class _Swallow(logging.Handler):
    """Keeps Pillow's log records (its decoders log errors such as TIFF's "More samples per pixel
    than can be decoded" before raising) from reaching stderr: the ``ImageError`` says it all."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


@contextmanager
def _pillow_log_silenced() -> Iterator[None]:
    """Pillow's logger (``PIL`` and below) handled and not propagated while one image loads: with no
    logging set up, Python's last-resort handler would print its warnings and errors to stderr."""
    logger = logging.getLogger("PIL")
    handler, propagate = _Swallow(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@contextmanager
def _pillow_guard() -> Iterator[Callable[[int | None], None]]:
    """Pillow's own decompression-bomb check, set by the caller for each stage of one load.

    samcut checks the outer size itself (its message names the size), so Pillow's check is off
    while the header is read; but a container can hold a frame far larger than it claims to be
    (an ICNS icon of 256 x 256 holding a PNG of 2.5e11 pixels), and only Pillow sees that inner
    size as it decodes: there its check is set to our limit (it refuses above twice the setting).
    A module-wide setting, so loads take turns (they are rare and short next to the decode);
    Pillow's default is back afterwards.
    """
    def limit(pixels: int | None) -> None:
        Image.MAX_IMAGE_PIXELS = None if pixels is None else max(1, pixels // 2)

    with _guard_lock:
        before = Image.MAX_IMAGE_PIXELS
        try:
            yield limit
        finally:
            Image.MAX_IMAGE_PIXELS = before


class ImageError(ValueError):
    """An image could not be read; the message says why, in one line."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image, EXIF orientation applied.

    ``rgb``: ``uint8 H x W x 3``; ``alpha``: ``uint8 H x W`` or None when opaque;
    ``mode``: the file's Pillow mode before conversion (for messages).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    mode: str

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

    @classmethod
    def from_rgba(cls, rgba: np.ndarray, mode: str = "RGBA") -> LoadedImage:
        """From ``uint8 H x W x 4``; an alpha that is opaque everywhere is dropped."""
        return cls.from_planes(np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]), mode)

    @classmethod
    def from_planes(cls, rgb: np.ndarray, alpha: np.ndarray, mode: str = "RGBA") -> LoadedImage:
        """From ``uint8 H x W x 3`` and ``uint8 H x W``; an alpha opaque everywhere is dropped."""
        return cls(rgb, None if alpha.size == 0 or int(alpha.min()) == 255 else alpha, mode)

    def model_rgb(self, box: XYXY | None = None) -> np.ndarray:
        """What the encoder sees: the image, or its region ``box`` = ``(x0, y0, x1, y1)``, composited
        over white where it is transparent (only the pixels asked for are composited, in bands of
        rows, so the 16-bit working copies never hold more than one band)."""
        rows, cols = (slice(None), slice(None)) if box is None else (slice(box[1], box[3]), slice(box[0], box[2]))
        rgb = self.rgb[rows, cols]
        if self.alpha is None:
            return rgb
        alpha = self.alpha[rows, cols]
        out = np.empty(rgb.shape, np.uint8)
        band = max(1, STRIP_BYTES // max(1, rgb.shape[1] * 6))
        for y0 in range(0, rgb.shape[0], band):
            a = alpha[y0:y0 + band, :, None].astype(np.uint16)
            out[y0:y0 + band] = (rgb[y0:y0 + band].astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
        return out


def max_pixels_from_env() -> int:
    """The pixel limit: ``$SAMCUT_MAX_PIXELS`` if set, else ``DEFAULT_MAX_PIXELS``."""
    raw = os.environ.get(MAX_PIXELS_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_MAX_PIXELS
    except ValueError as exc:
        raise ImageError(f"{MAX_PIXELS_ENV}={raw!r} is not a whole number") from exc


def _strips(im: Image.Image, channels: int = 1) -> Iterator[tuple[int, int]]:
    """Row ranges ``(y0, y1)`` of about ``STRIP_BYTES`` each (counted at 8 bytes per value)."""
    w, h = im.size
    rows = max(1, STRIP_BYTES // max(1, w * channels * 8))
    for y0 in range(0, h, rows):
        yield y0, min(h, y0 + rows)


def _to_8bit(im: Image.Image) -> Image.Image:
    """Grey images of more than 8 bits (``I;16*``, ``I``, ``F``) scaled to ``L`` by their range,
    strip by strip (the whole image as float64 would be 8 bytes per pixel at once)."""
    w, _h = im.size
    strips = list(_strips(im))
    top = max((float(np.nanmax(np.asarray(im.crop((0, y0, w, y1))), initial=0)) for y0, y1 in strips), default=0.0)
    if im.mode == "F":
        scale = 255.0 if top <= 1.0 else 1.0
    else:
        scale = 255.0 / (65535 if top > 255 else 255)
    out = np.empty((im.size[1], w), np.uint8)
    for y0, y1 in strips:
        data = np.nan_to_num(np.asarray(im.crop((0, y0, w, y1)), np.float64))
        out[y0:y1] = np.clip(data * scale + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "L")


def _icc_to_srgb(im: Image.Image) -> Image.Image:
    """Convert through the embedded ICC profile to sRGB where there is one; else Pillow's conversion."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return im.convert("RGB")


_CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4}


def pixels(im: Image.Image) -> np.ndarray:
    """An ``L``, ``RGB`` or ``RGBA`` image as a ``uint8`` array, copied strip by strip into one
    buffer (``np.asarray`` goes through ``tobytes``, which holds the pixels twice more while it
    joins them: 900 MB of transient memory for a 100 MP RGB photo, here one 16 MB strip)."""
    w, h = im.size
    channels = _CHANNELS[im.mode]
    out = np.empty((h, w, channels) if channels > 1 else (h, w), np.uint8)
    rows = max(1, STRIP_BYTES // max(1, w * channels))
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        out[y0:y1] = np.frombuffer(im.crop((0, y0, w, y1)).tobytes(), np.uint8).reshape(out[y0:y1].shape)
    return out


def rgba_planes(im: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """An ``RGBA`` image as ``uint8 H x W x 3`` colour and ``H x W`` alpha, copied strip by strip
    (never the whole image as one 4-channel array beside the two planes)."""
    w, h = im.size
    rgb, alpha = np.empty((h, w, 3), np.uint8), np.empty((h, w), np.uint8)
    rows = max(1, STRIP_BYTES // max(1, w * 4))
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        strip = np.frombuffer(im.crop((0, y0, w, y1)).tobytes(), np.uint8).reshape(y1 - y0, w, 4)
        rgb[y0:y1], alpha[y0:y1] = strip[..., :3], strip[..., 3]
    return rgb, alpha


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    rgb = np.empty((*grey.shape, 3), np.uint8)
    rgb[...] = grey[..., None]
    return rgb


def _to_loaded(im: Image.Image, mode: str) -> LoadedImage:
    """Any Pillow mode -> ``LoadedImage`` (``mode``: the file's mode, kept for messages)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        im = _to_8bit(im)
    elif im.mode == "1":
        im = im.convert("L")
    if im.mode == "L":  # grey: spread in numpy, not through a 3-channel Pillow image and its bytes
        return LoadedImage(_grey_to_rgb(pixels(im)), None, mode)
    if im.mode == "P" or im.mode == "PA":
        im = im.convert("RGBA" if ("transparency" in im.info or im.mode == "PA") else "RGB")
    if im.mode in ("LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        return LoadedImage.from_planes(*rgba_planes(im), mode)
    if im.mode in ("CMYK", "LAB", "YCbCr", "HSV"):
        im = _icc_to_srgb(im) if im.mode == "CMYK" else im.convert("RGB")
    elif im.mode != "RGB":
        im = im.convert("RGB")
    return LoadedImage(pixels(im), None, mode)


def check_pixels(width: int, height: int, label: str, limit: int | None = None) -> None:
    """``ImageError`` naming the size when ``width x height`` is over ``limit`` (default: the configured one)."""
    limit = max_pixels_from_env() if limit is None else limit
    if width * height > limit:
        size = f"{width * height / 1e6:.1f} megapixels" if width * height >= 1e5 else f"{width * height} pixels"
        cap = f"{limit / 1e6:g} megapixels" if limit >= 1e5 else f"{limit} pixels"
        raise ImageError(f"{label}: {width}x{height} is {size}, over the limit of {cap} "
                         f"(raise it with {MAX_PIXELS_ENV} or --max-pixels)")


def check_memory(width: int, height: int, mode: str, label: str, budget: int | None = None) -> None:
    """``ImageError`` when editing a ``width x height`` image of Pillow ``mode`` would take more
    memory at its peak than the budget (default: ``memory.memory_budget()``); says both figures."""
    try:
        limit, source = (budget, "the budget given") if budget is not None else memory_budget()
    except ValueError as exc:
        raise ImageError(str(exc)) from None
    need = estimated_peak_bytes(width * height, mode, (height, width))
    if need > limit:
        raise ImageError(f"{label}: a {width}x{height} {mode} image needs about {format_bytes(need)} of memory to "
                         f"edit, more than {format_bytes(limit)} ({source}); raise it with {MAX_MEMORY_ENV} "
                         f"or --max-memory")


_STDERR_LOCK = threading.Lock()


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Codec libraries written in C (libtiff above all) print warnings straight to file
    descriptor 2; while a frame decodes, fd 2 points at /dev/null so that the CLI prints exactly
    its one line. (Process-wide for those milliseconds; Python's own ``sys.stderr`` object is
    untouched.)"""
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 2)
            finally:
                os.close(null)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


def load_image(path: Path | str, max_pixels: int | None = None, max_memory: int | None = None) -> LoadedImage:
    """Read ``path``; raise ``ImageError`` for missing, empty, corrupt, truncated or oversized files,
    and for images whose editing would take more than ``max_memory`` bytes (default: the budget)."""
    path = Path(path)
    limit = max_pixels if max_pixels is not None else max_pixels_from_env()
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings(), _pillow_guard() as pillow_limit, _pillow_log_silenced():
            warnings.simplefilter("ignore")  # library warnings never reach the user: one line says it all
            pillow_limit(None)
            with Image.open(path, formats=opened_formats()) as im:
                width, height = im.size
                if width <= 0 or height <= 0:
                    raise ImageError(f"{path}: the image has no pixels ({width}x{height})")
                check_pixels(width, height, str(path), limit)
                check_memory(width, height, im.mode, str(path), max_memory)
                pillow_limit(limit)
                mode = im.mode
                with _native_stderr_silenced():
                    im.load()
                # exif_transpose copies even an upright image: only when EXIF says to turn it
                turned = im.getexif().get(0x0112, 1) not in (1, None)
                oriented = ImageOps.exif_transpose(im) if turned else im
                loaded = _to_loaded(oriented, mode)
    except ImageError:
        raise
    except UnidentifiedImageError:
        refused = refused_format(path)
        if refused:
            raise ImageError(f"{path}: samcut does not open {refused} files ({REFUSED_FORMATS[refused]}); "
                             f"convert it to PNG or TIFF first") from None
        raise ImageError(f"{path}: not an image file samcut can read") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: a frame inside the file claims more than {limit / 1e6:.0f} megapixels, the "
                         f"limit (a decompression bomb?); raise it with {MAX_PIXELS_ENV} or --max-pixels") from None
    except NotImplementedError as exc:  # before RuntimeError: Pillow knows the format, not this variant
        raise ImageError(f"{path}: this kind of {Path(path).suffix.lstrip('.').upper() or 'image'} file is not "
                         f"supported ({_first_line(exc)})") from None
    except DECODER_ERRORS as exc:
        raise ImageError(f"{path}: the image is damaged or truncated ({_first_line(exc)})") from None
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode this image") from None
    return loaded
