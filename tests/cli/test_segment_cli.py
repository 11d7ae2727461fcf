"""``samcut segment``: outputs, exit status 2 with one line for every bad input, atomic writes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main
from samcut.models.document import cutout


@pytest.fixture()
def photo(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)).save(path)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "samcut.cli", *args], capture_output=True, text=True)


def test_mask_and_cutout_agree(test_model_dir, photo, tmp_path) -> None:
    mask_path, cut_path = tmp_path / "m.png", tmp_path / "c.png"
    code = main(["segment", str(photo), "--point", "80,45", "--point", "10,10,0", "--models", str(test_model_dir),
                 "--mask", str(mask_path), "--cutout", str(cut_path)])
    assert code == 0
    mask, cut = Image.open(mask_path), Image.open(cut_path)
    assert mask.mode == "L" and cut.mode == "RGBA" and mask.size == cut.size == (160, 90)
    m = np.asarray(mask)
    assert set(np.unique(m)) <= {0, 255}
    np.testing.assert_array_equal(np.asarray(cut)[..., 3], m)
    np.testing.assert_array_equal(np.asarray(cut)[..., :3], np.asarray(Image.open(photo)))


def test_same_as_engine(test_model_dir, engine, photo, tmp_path) -> None:
    from samcut.models.engine import Prompt

    out = tmp_path / "m.png"
    assert main(["segment", str(photo), "--box", "100,80,20,5", "--models", str(test_model_dir),
                 "--mask", str(out)]) == 0
    pred = engine.decode(engine.encode(np.asarray(Image.open(photo))), Prompt(box=(20, 5, 100, 80)))
    np.testing.assert_array_equal(np.asarray(Image.open(out)) > 0, pred.masks[pred.best])


@pytest.mark.parametrize("make,args,message", [
    (lambda p: p.write_bytes(b""), [], "the file is empty"),
    (lambda p: p.write_bytes(b"GIF89a garbage"), [], "damaged or truncated|not an image"),
    (lambda p: p.write_text("not an image"), [], "not an image file"),
    (None, [], "no such file"),
    (lambda p: Image.new("RGB", (50, 50)).save(p, format="PNG"), ["--max-pixels", "100"], "over the limit of"),
])
def test_bad_images_exit_2_with_one_line(test_model_dir, tmp_path, make, args, message) -> None:
    path = tmp_path / "input.png"
    if make is not None:
        make(path)
    out = tmp_path / "out.png"
    result = run_cli("segment", str(path), "--point", "5,5", "--models", str(test_model_dir), "--mask", str(out), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("samcut: "), result.stderr
    assert __import__("re").search(message, lines[0])
    assert not out.exists() and not list(tmp_path.glob(".out.png*"))


def test_missing_model_exit_2(photo, tmp_path) -> None:
    result = run_cli("segment", str(photo), "--point", "5,5", "--models", str(tmp_path / "none"), "--mask",
                     str(tmp_path / "o.png"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments(photo, tmp_path, test_model_dir) -> None:
    assert run_cli("segment", str(photo), "--point", "5;5", "--mask", "x.png").returncode == 2
    result = run_cli("segment", str(photo), "--models", str(test_model_dir), "--mask", str(tmp_path / "o.png"))
    assert result.returncode == 2 and "at least one --point, a --box, or --subject" in result.stderr


def test_unwritable_output(test_model_dir, photo, tmp_path) -> None:
    result = run_cli("segment", str(photo), "--point", "5,5", "--models", str(test_model_dir),
                     "--mask", str(tmp_path / "no" / "such" / "dir" / "o.png"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "does not exist" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["--point", "500,20"], "outside the 160x90 image"),
    (["--point=-5,3"], "outside the 160x90 image"),
    (["--box", "200,100,300,200"], "does not overlap"),
    (["--box", "10,10,10,50"], "is empty"),
    (["--point", "5,5", "--cutout", "out.jpg"], "JPEG cannot hold transparency; save a cutout as .png, .tif"),
    (["--point", "5,5", "--cutout", "out.bmp"], "cannot write a cutout as .bmp; give a name ending in .png"),
    (["--point", "5,5", "--mask", "m.jpeg"], "JPEG is lossy and would blur the mask's edge"),
    (["--point", "5,5", "--mask", "m.exr"], "cannot write a mask as .exr"),
])
def test_bad_prompts_and_outputs_are_refused_before_any_work(photo, tmp_path, test_model_dir, args, message) -> None:
    result = run_cli("segment", str(photo), "--models", str(test_model_dir), "--mask", str(tmp_path / "o.png"), *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch) -> None:
    target = tmp_path / "mask.png"
    target.write_bytes(b"previous")

    def explode(self, fh, format=None):  # noqa: A002
        fh.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        cutout.save_mask(target, np.ones((4, 4), bool))
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png"]


def test_refine_gives_a_soft_edge_close_to_the_mask(synthetic_model_dir, tmp_path) -> None:
    from reference import synthetic_dir

    photo = tmp_path / "p.png"
    Image.open(synthetic_dir() / "composite_2.png").convert("RGB").resize((768, 512)).save(photo)
    truth = np.asarray(Image.open(synthetic_dir() / "composite_2_mask.png").convert("L").resize((768, 512))) > 127
    ys, xs = np.nonzero(truth)
    plain, soft = tmp_path / "m.png", tmp_path / "r.png"
    base = ["segment", str(photo), "--point", f"{int(np.median(xs))},{int(np.median(ys))}",
            "--models", str(synthetic_model_dir)]
    assert main([*base, "--mask", str(plain)]) == 0
    assert main([*base, "--refine", "--mask", str(soft)]) == 0
    m, r = np.asarray(Image.open(plain)), np.asarray(Image.open(soft))
    assert ((r >= 128) == (m > 0)).mean() > 0.9
    assert ((r > 0) & (r < 255)).any() and not np.array_equal(r, m)
    cut, clean = tmp_path / "c.png", tmp_path / "d.png"
    assert main([*base, "--refine", "--cutout", str(cut)]) == 0
    assert main([*base, "--refine", "--decontaminate", "--cutout", str(clean)]) == 0
    c, d = np.asarray(Image.open(cut)), np.asarray(Image.open(clean))
    np.testing.assert_array_equal(c[..., 3], d[..., 3])
    edge = (c[..., 3] > 0) & (c[..., 3] < 255)
    assert (c[edge, :3] != d[edge, :3]).any() and np.array_equal(c[~edge, :3], d[~edge, :3])


def test_a_second_call_on_the_same_image_skips_the_encoder(test_model_dir, photo, tmp_path, monkeypatch) -> None:
    from samcut.models.engine.sam_engine import SamEngine

    calls = []
    real = SamEngine.encode
    monkeypatch.setattr(SamEngine, "encode", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    masks = []
    for i, extra in enumerate(([], [], ["--no-cache"])):
        out = tmp_path / f"m{i}.png"
        assert main(["segment", str(photo), "--point", "80,45", "--models", str(test_model_dir), "--mask", str(out),
                     *extra]) == 0
        masks.append(np.asarray(Image.open(out)))
    assert len(calls) == 2  # first call encodes, the second reads the cache, --no-cache encodes again
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks[0], masks[2])
    assert list((tmp_path / "config" / "cache" / "embeddings").rglob("*.npz"))


@pytest.mark.parametrize("args,message", [(["--threads", "0"], "out of range (1 to 256)"),
                                          (["--threads", "-3"], "out of range"),
                                          (["--max-pixels", "many"], "not a whole number")])
def test_numeric_options_are_range_checked(photo, tmp_path, args, message) -> None:
    result = run_cli("segment", str(photo), "--point", "5,5", "--mask", str(tmp_path / "o.png"), *args)
    assert result.returncode == 2 and message in result.stderr


PEAK_PROBE = """
import sys
from samcut.cli.main import main
code = main(sys.argv[1:])
hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]
print(int(hwm.split()[1]) * 1024, code)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_memory_budget_covers_what_segment_really_takes(test_model_dir, tmp_path, mode) -> None:
    """The budget's per-mode figures are what the gate refuses by: segment's own peak (VmHWM, read
    in the child itself: a forked child's rusage would count this process too) stays under them."""
    from samcut.models.document.memory import estimated_peak_bytes
    w, h = 4000, 4000
    ramp = np.broadcast_to((np.arange(w) * 255 // (w - 1)).astype(np.uint8), (h, w))
    planes = {"L": [ramp], "RGB": [ramp, ramp[:, ::-1], ramp], "RGBA": [ramp, ramp[:, ::-1], ramp, ramp]}[mode]
    image = tmp_path / "big.png"
    Image.fromarray(np.ascontiguousarray(planes[0] if mode == "L" else np.dstack(planes)), mode).save(
        image, compress_level=1)
    result = subprocess.run([sys.executable, "-c", PEAK_PROBE, "segment", str(image), "--point", "2000,2000",
                             "--models", str(test_model_dir), "--mask", str(tmp_path / "m.png"), "--no-cache"],
                            capture_output=True, text=True)
    peak, code = (int(v) for v in result.stdout.split()[-2:])
    assert code == 0, result.stderr
    assert peak < estimated_peak_bytes(w * h, mode), f"{mode}: peak {peak / 2**20:.0f} MiB"
