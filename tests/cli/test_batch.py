"""``samcut batch``: outputs, failures recorded not fatal, resuming, kills, workers, shards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main
from samcut.models.batch.manifest import read_entries


def make_images(folder: Path, count: int, seed: int = 5, size: tuple[int, int] = (48, 64)) -> list[Path]:
    """``count`` distinct noise images ``img_NN.png`` in ``folder`` (every third one in ``sub/``)."""
    rng = np.random.default_rng(seed)
    paths = []
    for number in range(count):
        path = folder / ("sub" if number % 3 == 2 else "") / f"img_{number:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def write_prompts(folder: Path, paths: list[Path], name: str = "prompts.jsonl") -> Path:
    """One click (and every other image a box too) per image, paths relative to the prompts file."""
    lines = []
    for number, path in enumerate(paths):
        prompt = {"image": path.relative_to(folder).as_posix(), "points": [[30, 20, 1]]}
        if number % 2:
            prompt["box"] = [5, 5, 50, 40]
        lines.append(json.dumps(prompt))
    target = folder / name
    target.write_text("\n".join(lines) + "\n")
    return target


def output_bytes(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` but the manifest and its lock: name -> bytes."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(("manifest", ".manifest"))}


def batch_args(images: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return ["batch", str(images), "--recursive", "--out", str(out), "--models", str(model), *extra]


def test_good_corrupt_and_oversized_images(test_model_dir, tmp_path, capsys) -> None:
    images = tmp_path / "in"
    good = make_images(images, 3)
    (images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.new("RGB", (200, 200)).save(images / "huge.png")
    prompts = write_prompts(tmp_path, [*good, images / "corrupt.png", images / "huge.png"])
    out = tmp_path / "out"
    code = main(batch_args(images, out, test_model_dir, "--prompts", str(prompts), "--write", "both",
                           "--max-pixels", "10000"))
    assert code == 1
    captured = capsys.readouterr()
    assert "5 images: 3 done, 0 already done, 2 failed" in captured.out
    entries = read_entries(out / "manifest.jsonl")
    assert {e: entries[e].status for e in entries} == {"img_00.png": "done", "img_01.png": "done",
                                                       "sub/img_02.png": "done", "corrupt.png": "failed",
                                                       "huge.png": "failed"}
    assert "over the limit" in entries["huge.png"].error and "\n" not in entries["huge.png"].error
    assert entries["corrupt.png"].error and "Traceback" not in captured.err
    assert sorted(output_bytes(out)) == ["img_00.mask.png", "img_00.png", "img_01.mask.png", "img_01.png",
                                         "sub/img_02.mask.png", "sub/img_02.png"]
    # one answer: the batch's mask is samcut segment's for the same prompt
    single = tmp_path / "single.png"
    assert main(["segment", str(good[1]), "--box", "5,5,50,40", "--point", "30,20", "--models",
                 str(test_model_dir), "--mask", str(single)]) == 0
    assert (out / "img_01.mask.png").read_bytes() == single.read_bytes()
    cut = np.asarray(Image.open(out / "img_01.png"))
    np.testing.assert_array_equal(cut[..., 3], np.asarray(Image.open(single)))


def test_rerun_does_no_work_and_redoes_what_changed(test_model_dir, tmp_path, capsys) -> None:
    images = tmp_path / "in"
    paths = make_images(images, 3)
    prompts = write_prompts(tmp_path, paths)
    out = tmp_path / "out"
    args = batch_args(images, out, test_model_dir, "--prompts", str(prompts))
    assert main(args) == 0
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    manifest_before = read_entries(out / "manifest.jsonl")
    capsys.readouterr()
    assert main(args) == 0
    assert "3 images: 0 done, 3 already done, 0 failed" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == first
    assert read_entries(out / "manifest.jsonl") == manifest_before
    os.utime(paths[0], ns=(time.time_ns(), paths[0].stat().st_mtime_ns + 10**9))  # the input changed
    (out / "sub" / "img_02.png").unlink()  # an output went missing
    assert main(args) == 0
    assert "3 images: 2 done, 1 already done, 0 failed" in capsys.readouterr().out
    assert (out / "sub" / "img_02.png").is_file()
    assert main([*args, "--write", "mask"]) == 0  # other options: all again
    assert "3 images: 3 done, 0 already done" in capsys.readouterr().out


def test_killed_run_resumes_to_the_same_outputs(test_model_dir, tmp_path) -> None:
    images = tmp_path / "in"
    paths = make_images(images, 12, seed=9)
    prompts = write_prompts(tmp_path, paths)
    out, reference = tmp_path / "out", tmp_path / "reference"
    argv = [sys.executable, "-m", "samcut.cli", *batch_args(images, out, test_model_dir, "--prompts", str(prompts),
                                                            "--write", "both", "--no-cache")]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while not any(e.status == "done" for e in read_entries(out / "manifest.jsonl").values()):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no image was done in time"
            time.sleep(0.02)
        process.kill()
    finally:
        process.wait()
        process.stderr.close()
    assert process.returncode != 0, "the run ended before it was killed: give it more images"
    assert 0 < len(read_entries(out / "manifest.jsonl")) < 12
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "already done" in result.stdout and "0 failed" in result.stdout
    assert main(batch_args(images, reference, test_model_dir, "--prompts", str(prompts), "--write", "both")) == 0
    assert output_bytes(out) == output_bytes(reference) and len(output_bytes(out)) == 24
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
    entries = read_entries(out / "manifest.jsonl")
    assert len(entries) == 12 and {e.status for e in entries.values()} == {"done"}


def test_two_workers_write_the_same_bytes_as_one(test_model_dir, tmp_path) -> None:
    images = tmp_path / "in"
    paths = make_images(images, 4, seed=11)
    prompts = write_prompts(tmp_path, paths)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(batch_args(images, one, test_model_dir, "--prompts", str(prompts), "--write", "both")) == 0
    assert main(batch_args(images, two, test_model_dir, "--prompts", str(prompts), "--write", "both",
                           "--workers", "2", "--no-cache")) == 0
    assert output_bytes(one) == output_bytes(two) and len(output_bytes(one)) == 8
    assert read_entries(one / "manifest.jsonl").keys() == read_entries(two / "manifest.jsonl").keys()


def test_three_shards_cover_every_image_once_and_merge(test_model_dir, tmp_path, capsys) -> None:
    images = tmp_path / "in"
    paths = make_images(images, 8, seed=13, size=(24, 32))
    prompts = write_prompts(tmp_path, paths)
    out = tmp_path / "out"
    seen: list[str] = []
    for index in (1, 2, 3):
        assert main(batch_args(images, out, test_model_dir, "--prompts", str(prompts), "--write", "mask",
                               "--shard", f"{index}/3")) == 0
        seen += read_entries(out / f"manifest.shard-{index}-of-3.jsonl")
    assert sorted(seen) == sorted(p.relative_to(images).as_posix() for p in paths)
    assert not (out / "manifest.jsonl").exists()
    capsys.readouterr()
    assert main(["batch", "--merge", str(out)]) == 0
    assert "8 images" in capsys.readouterr().out
    merged = read_entries(out / "manifest.jsonl")
    assert sorted(merged) == sorted(seen) and {e.status for e in merged.values()} == {"done"}
    assert len(list(out.rglob("*.mask.png"))) == 8


@pytest.mark.parametrize("extra,message", [
    ([], "give --subject, --objects or --prompts FILE"),
    (["--subject", "--shard", "4/3"], "--shard 4/3: I must be 1 to N"),
    (["--objects", "--write", "both"], "leave --write out"),
    (["--subject", "--pred-iou-thresh", "0.5"], "go with --objects"),
    (["--objects", "--box-nms-thresh", "2"], "--box-nms-thresh must be between 0 and 1"),
    (["--prompts", "PROMPTS"], "is not among the inputs"),
    (["--subject", "--out-missing"], "no such file or folder"),
])
def test_usage_errors_exit_2_with_one_line(test_model_dir, tmp_path, extra, message) -> None:
    images = tmp_path / "in"
    make_images(images, 1)
    stray = tmp_path / "stray.png"
    Image.new("RGB", (8, 8)).save(stray)
    (tmp_path / "p.jsonl").write_text(json.dumps({"image": "stray.png", "points": [[1, 1, 1]]}) + "\n")
    extra = [str(tmp_path / "p.jsonl") if e == "PROMPTS" else e for e in extra]
    inputs = [str(images)]
    if "--out-missing" in extra:
        extra.remove("--out-missing")
        inputs.append(str(tmp_path / "nothing"))
    result = subprocess.run([sys.executable, "-m", "samcut.cli", "batch", *inputs, "--out", str(tmp_path / "out"),
                             "--models", str(test_model_dir), *extra], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("samcut: ") and message in lines[0], result.stderr
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_subject_and_objects_are_what_segment_and_objects_write(synthetic_model_dir, tmp_path) -> None:
    from reference import synthetic_dir

    images = tmp_path / "in"
    images.mkdir()
    source = images / "composite_1.png"
    source.write_bytes((synthetic_dir() / "composite_1.png").read_bytes())
    subject, objects = tmp_path / "subject", tmp_path / "objects"
    model = ["--models", str(synthetic_model_dir)]
    assert main(["batch", str(images), "--subject", "--out", str(subject), "--write", "mask", *model]) == 0
    assert main(["segment", str(source), "--subject", "--mask", str(tmp_path / "s.png"), *model]) == 0
    assert (subject / "composite_1.mask.png").read_bytes() == (tmp_path / "s.png").read_bytes()
    loose = ["--pred-iou-thresh", "0.38", "--stability-score-thresh", "0.5"]  # (these weights pass none of SAM's)
    assert main(["batch", str(images), "--objects", "--out", str(objects), *model, *loose]) == 0
    assert main(["objects", str(source), "--out", str(tmp_path / "single"), *model, *loose]) == 0
    batch_files = output_bytes(objects / "composite_1")
    assert batch_files.keys() == output_bytes(tmp_path / "single").keys() and len(batch_files) > 2
    for name, data in output_bytes(tmp_path / "single").items():
        if name != "objects.json":  # (it names the image as each command was given it)
            assert batch_files[name] == data
    entry = read_entries(objects / "manifest.jsonl")["composite_1.png"]
    assert entry.outputs == tuple(f"composite_1/{name}" for name in sorted(batch_files))


def pool_workers(parent: int) -> list[int]:
    """The spawned pool processes of ``parent`` (Linux: from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the pool's processes in /proc")
def test_a_worker_that_dies_fails_its_images_and_the_run_goes_on(test_model_dir, tmp_path) -> None:
    images = tmp_path / "in"
    paths = make_images(images, 10, seed=17)
    prompts = write_prompts(tmp_path, paths)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "samcut.cli", *batch_args(images, out, test_model_dir, "--prompts", str(prompts),
                                                            "--workers", "2", "--no-cache")]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not any(e.status == "done" for e in read_entries(out / "manifest.jsonl").values()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    workers = pool_workers(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], 9)  # as the OOM killer would
    stdout, stderr = process.communicate(timeout=300)
    entries = read_entries(out / "manifest.jsonl")
    died = [e for e in entries.values() if "worker process ended" in e.error]
    assert process.returncode == 1 and died and len(entries) == 10, stderr
    assert "Traceback" not in stderr
    assert all((out / e.outputs[0]).is_file() for e in entries.values() if e.status == "done")
    result = subprocess.run(argv, capture_output=True, text=True)
    assert result.returncode == 0 and f"{len(died)} done" in result.stdout, result.stderr
