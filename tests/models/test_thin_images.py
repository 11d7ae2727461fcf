"""Long thin images (issue 25): memory follows the pixels, whatever the shape.

A 400000 x 16 strip is 6.4 MP, but an upsampling matrix over its long side (``400000 x 1024``
float64) was 3.2 GB: ``samcut segment`` peaked at 4.6 GB where the memory estimate said 380 MB.
Each shape here runs the real ``samcut segment`` in a child that reads its own peak (VmHWM) and
must stay under ``estimated_peak_bytes`` for that image; no timing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from samcut.models.document.memory import estimated_peak_bytes
from samcut.models.engine import postprocess, refine
from samcut.models.engine.preprocess import resized_size

PEAK_PROBE = """
import sys
from samcut.cli.main import main
code = main(sys.argv[1:])
hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]
print(int(hwm.split()[1]) * 1024, code)
"""

# (width, height): 1:1, 1:100, 1:25000 both ways, 1:3125. Before the fix, fp32, this machine:
# 316, 501, 4618, 4607 and 2489 MiB peak; after: 310-330, 315, 312, 327 and 355 MiB.
SHAPES = [(2000, 2000), (20000, 200), (400000, 16), (16, 400000), (64, 200000)]


def strip(width: int, height: int) -> np.ndarray:
    """``uint8 height x width x 3``: a bright bar across the middle third of the long side on a ramp."""
    ramp = (np.arange(max(width, height)) % 251).astype(np.uint8)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[...] = (ramp[:width][None, :, None] if width >= height else ramp[:height][:, None, None])
    if width >= height:
        rgb[:, width // 3: 2 * width // 3] = (250, 240, 30)
    else:
        rgb[height // 3: 2 * height // 3] = (250, 240, 30)
    return rgb


def segment_peak(tmp_path, model_dir, width: int, height: int, *extra: str) -> tuple[int, np.ndarray]:
    """Peak resident bytes of ``samcut segment`` on a ``width x height`` RGB PNG, and its mask."""
    image, out = tmp_path / f"strip_{width}x{height}.png", tmp_path / "mask.png"
    Image.fromarray(strip(width, height)).save(image, compress_level=1)
    result = subprocess.run([sys.executable, "-c", PEAK_PROBE, "segment", str(image), "--point",
                             f"{width // 2},{height // 2}", "--models", str(model_dir), "--mask", str(out),
                             "--no-cache", "--max-memory", "1T", *extra], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    peak, code = (int(v) for v in result.stdout.split()[-2:])
    assert code == 0, result.stderr[-2000:]
    return peak, np.asarray(Image.open(out))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("width,height", SHAPES, ids=lambda v: str(v))
def test_segment_stays_under_the_estimate_whatever_the_shape(test_model_dir, tmp_path, width, height) -> None:
    peak, mask = segment_peak(tmp_path, test_model_dir, width, height)
    assert mask.shape == (height, width) and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= {0, 255}
    need = estimated_peak_bytes(width * height, "RGB", (height, width))
    assert peak < need, f"{width}x{height}: peak {peak / 2**20:.0f} MiB, estimate {need / 2**20:.0f} MiB"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_refined_segment_of_a_strip_stays_under_the_estimate(test_model_dir, tmp_path) -> None:
    """``--refine`` too (it took the dense weights, and a dense upsampler per patch)."""
    width, height = 16, 400000
    peak, mask = segment_peak(tmp_path, test_model_dir, width, height, "--refine")
    assert mask.shape == (height, width)
    need = estimated_peak_bytes(width * height, "RGB", (height, width))
    assert peak < need, f"peak {peak / 2**20:.0f} MiB, estimate {need / 2**20:.0f} MiB"


def edge_logits(seed: int = 0) -> np.ndarray:
    """``256 x 256`` logits, positive along the top rows and left columns (where a strip's frame lies)."""
    rng = np.random.default_rng(seed)
    low = np.full((256, 256), -3.0, np.float32)
    low[:2] = rng.uniform(-1, 4, (2, 256))
    low[:, :2] = rng.uniform(-1, 4, (256, 2))
    return low


def traced_peak(fn) -> tuple[object, int]:
    """``fn()`` and the peak bytes numpy and Python allocated while it ran (caches emptied first)."""
    for module in (postprocess, refine):  # weights cached by an earlier test would not be counted
        for value in vars(module).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()
    tracemalloc.start()
    try:
        value = fn()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("size", [(16, 400000), (400000, 16), (64, 200000)], ids=str)
def test_mask_of_a_strip_allocates_in_proportion_to_its_pixels(size) -> None:
    """The upsampled mask of a 6.4-12.8 MP strip: the mask, 13 bytes of taps per row and column,
    and tiles of 16 MB (the dense weights were 400000 x 1024 float64)."""
    low = edge_logits()
    mask, peak = traced_peak(lambda: postprocess.full_mask(low, resized_size(*size), size))
    assert mask.shape == size and mask.any()
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB"
    np.testing.assert_array_equal(mask, postprocess.upsample_masks(low[None], resized_size(*size), size)[0])


def test_refine_of_a_strip_allocates_in_proportion_to_its_pixels() -> None:
    size = (16, 400000)
    rgb = strip(size[1], size[0])
    alpha, peak = traced_peak(lambda: refine.refine_alpha(rgb, edge_logits(), resized_size(*size), size))
    assert alpha.shape == size and alpha.dtype == np.uint8
    assert peak < 160 << 20, f"{peak / 2**20:.0f} MiB"


def test_refine_with_every_edge_in_the_padding_gives_the_plain_mask() -> None:
    """A 64 x 20000 strip fills 3 rows of the 1024 frame; an edge only below them used to fail
    (an empty reduction) instead of leaving the plain mask."""
    size = (64, 20000)
    low = np.full((256, 256), 4.0, np.float32)
    low[100:, :] = -4.0  # the only edge lies in the padding
    rgb = strip(size[1], size[0])
    alpha = refine.refine_alpha(rgb, low, resized_size(*size), size)
    np.testing.assert_array_equal(alpha, postprocess.full_mask(low, resized_size(*size), size).astype(np.uint8) * 255)
