"""``samcut batch --ray``: the same outputs and manifest as a local run, through a local Ray.

One Ray (2 CPUs, no dashboard, a small object store) serves the whole module. The tests that need
it are skipped only where Ray is not installed (``pip install 'samcut[ray]'``).
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from test_batch import batch_args, make_images, output_bytes, write_prompts

from samcut.cli.batch_ray import CRASH_ENV, RAY_MISSING, ray_layout
from samcut.cli.main import main
from samcut.models.batch.manifest import Entry, read_entries


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory):
    """A local Ray with 2 CPUs for the module; its actors keep their embedding cache and
    preferences in a folder of the module's own (they do not see a test's environment)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'samcut[ray]')")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'samcut[ray]')")
    private = tmp_path_factory.mktemp("ray_actors")
    temp_dir = tempfile.mkdtemp(prefix="ray")  # (short: Ray's socket paths must stay under ~107 characters)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False,
             _temp_dir=temp_dir, runtime_env={"env_vars": {"SAMCUT_CONFIG_DIR": str(private / "config"),
                                                           "SAMCUT_MODELS_ROOT": str(private / "models")}})
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def without_timings(entries: dict[str, Entry]) -> dict[str, Entry]:
    return {name: dataclasses.replace(entry, seconds=0.0, finished=0.0) for name, entry in entries.items()}


def local_and_ray(model: Path, tmp_path: Path, count: int, seed: int) -> tuple[list[str], Path, Path]:
    """``count`` images and a corrupt one, their prompts; the local run's output folder (done
    already) and the Ray run's (not yet); the common arguments but the output folder."""
    images = tmp_path / "in"
    paths = make_images(images, count, seed=seed)
    (images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    prompts = write_prompts(tmp_path, [*paths, images / "corrupt.png"])
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    extra = ("--prompts", str(prompts), "--write", "both", "--no-cache")
    assert main(batch_args(images, local, model, *extra)) == 1
    return [*extra], local, on_ray


def test_ray_writes_what_the_local_run_writes(ray_session, test_model_dir, tmp_path, capsys) -> None:
    extra, local, on_ray = local_and_ray(test_model_dir, tmp_path, 4, seed=21)
    images = tmp_path / "in"
    capsys.readouterr()
    assert main(batch_args(images, on_ray, test_model_dir, *extra, "--ray")) == 1
    assert "5 images: 4 done, 0 already done, 1 failed" in capsys.readouterr().out
    assert output_bytes(on_ray) == output_bytes(local) and len(output_bytes(local)) == 8
    ray_entries = read_entries(on_ray / "manifest.jsonl")
    assert ray_entries["corrupt.png"].status == "failed" and ray_entries["corrupt.png"].error
    assert without_timings(ray_entries) == without_timings(read_entries(local / "manifest.jsonl"))
    first = {p: p.stat().st_mtime_ns for p in on_ray.rglob("*.png")}
    assert main(batch_args(images, on_ray, test_model_dir, *extra, "--ray", "--workers", "1")) == 1
    assert "5 images: 0 done, 4 already done, 1 failed" in capsys.readouterr().out  # (the corrupt one again)
    assert {p: p.stat().st_mtime_ns for p in on_ray.rglob("*.png")} == first


def test_an_actor_that_dies_is_restarted_and_its_image_retried(ray_session, test_model_dir, tmp_path,
                                                               monkeypatch) -> None:
    extra, local, on_ray = local_and_ray(test_model_dir, tmp_path, 5, seed=23)
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ENV, f"img_01.png:{marker}")
    assert main(batch_args(tmp_path / "in", on_ray, test_model_dir, *extra, "--ray")) == 1
    assert marker.is_file(), "no actor was made to die"
    assert output_bytes(on_ray) == output_bytes(local) and len(output_bytes(local)) == 10
    assert without_timings(read_entries(on_ray / "manifest.jsonl")) == without_timings(
        read_entries(local / "manifest.jsonl"))


def test_without_ray_installed_one_line_and_exit_2(test_model_dir, tmp_path, monkeypatch, capsys) -> None:
    images = tmp_path / "in"
    make_images(images, 1)
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # (import ray raises ImportError)
    assert main(batch_args(images, tmp_path / "out", test_model_dir, "--subject", "--ray")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"samcut: {RAY_MISSING}"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers,threads,cpus,expected", [
    (None, None, 8, (8, 1)), (2, None, 8, (2, 4)), (None, 2, 8, (4, 2)), (3, 2, 8, (3, 2)), (4, None, 2, (4, 1)),
])
def test_ray_layout(workers, threads, cpus, expected) -> None:
    assert ray_layout(workers, threads, cpus) == expected


def test_an_image_that_kills_every_actor_is_recorded_and_the_run_goes_on(ray_session, test_model_dir, tmp_path,
                                                                         monkeypatch, capsys) -> None:
    images = tmp_path / "in"
    paths = make_images(images, 2, seed=25)
    prompts = write_prompts(tmp_path, paths)
    monkeypatch.setenv(CRASH_ENV, "img_00.png:")  # on every try
    out = tmp_path / "out"
    assert main(batch_args(images, out, test_model_dir, "--prompts", str(prompts), "--ray", "--workers", "1")) == 1
    entries = read_entries(out / "manifest.jsonl")
    assert entries["img_00.png"].status == "failed" and "Ray actor ended" in entries["img_00.png"].error
    assert entries["img_01.png"].status == "done" and (out / "img_01.png").is_file()
    assert "2 images: 1 done, 0 already done, 1 failed" in capsys.readouterr().out
