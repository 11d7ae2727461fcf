"""Installing SAM ViT-B and SAM 2.1 checkpoints: official files by hash, custom weights by shape, and
hostile, truncated or misshapen files refused in one line, leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAMILIES = {"sam_vit_b": ("image_encoder.pos_embed", "SAM ViT-B"),
            "sam2.1_hiera_tiny": ("sam_mask_decoder.iou_token.weight", "SAM 2.1 Hiera tiny")}


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "samcut.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SAMCUT_MODELS_ROOT": str(root)})


def refused_in_one_line(run: subprocess.CompletedProcess, root: Path) -> str:
    assert run.returncode == 2 and run.stdout == "", (run.returncode, run.stdout, run.stderr)
    lines = run.stderr.splitlines()  # (progress lines before it: "reading FILE")
    assert lines and lines[-1].startswith("samcut: ") and "Traceback" not in run.stderr, run.stderr
    assert sum(line.startswith("samcut: ") for line in lines) == 1, run.stderr
    left = [p.name for p in root.iterdir() if p.name not in ("downloads", ".install.lock")] if root.exists() else []
    assert left == [], f"the refused install left {left}"
    return lines[-1]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_generated_checkpoint_is_custom_weights_of_its_family(name, made_checkpoint, tmp_path) -> None:
    """``fetch --from`` refuses it (not the official file's hash); ``export`` installs it under its own
    name as the model its tensors say, and ``models list`` shows it beside the catalogue."""
    checkpoint = made_checkpoint(name)
    root = tmp_path / "models"
    line = refused_in_one_line(run_cli(root, "models", "fetch", "--from", str(checkpoint)), root)
    assert "is not an official checkpoint samcut knows" in line and "samcut models export" in line
    run = run_cli(root, "models", "export", str(checkpoint))
    assert run.returncode == 0, run.stderr
    manifest = json.loads((root / checkpoint.stem / "manifest.json").read_text())
    assert manifest["architecture"] == name and manifest["family"] == ("sam2" if "sam2" in name else "sam")
    listed = run_cli(root, "models", "list").stdout
    assert f"{checkpoint.stem}\t{name}\tcustom weights from {checkpoint.name}" in listed
    assert "sam2.1_hiera_large" in listed and "not installed" in listed  # the catalogue


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_truncated_checkpoint_is_refused(name, made_checkpoint, tmp_path) -> None:
    checkpoint = made_checkpoint(name)
    cut = tmp_path / f"{name}.pt"
    with open(checkpoint, "rb") as src, open(cut, "wb") as out:
        out.write(src.read(int(checkpoint.stat().st_size * 0.6)))
    root = tmp_path / "models"
    line = refused_in_one_line(run_cli(root, "models", "export", str(cut)), root)
    assert str(cut) in line


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_hostile_checkpoint_of_the_family_s_keys_runs_nothing(name, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from hostile import _RunsACommand

    key, _label = FAMILIES[name]
    marker, path = tmp_path / "pwned", tmp_path / f"{name}.pt"
    torch.save({"model": {key: torch.zeros(1, 256), "x": _RunsACommand(marker)}}, path)
    root = tmp_path / "models"
    line = refused_in_one_line(run_cli(root, "models", "export", str(path)), root)
    assert "refused without running anything" in line and not marker.exists()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_misshapen_tensor_names_the_family(name, made_checkpoint, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from samcut.models.store.checkpoint import read_checkpoint

    key, label = FAMILIES[name]
    state = {k: torch.from_numpy(v) for k, v in read_checkpoint(made_checkpoint(name)).items()}
    state[key] = torch.zeros(3, 3)
    path = tmp_path / f"{name}.pt"
    torch.save({"model": state} if "sam2" in name else state, path)
    root = tmp_path / "models"
    line = refused_in_one_line(run_cli(root, "models", "export", str(path)), root)
    assert f"not a {label} checkpoint: 1 tensors of another shape (first: {key} is (3, 3)" in line


def test_fetch_downloads_a_sha256_pinned_model_and_installs_it_as_official(made_checkpoint, tmp_path, monkeypatch,
                                                                          capsys) -> None:
    """``samcut models fetch sam2.1_hiera_tiny`` end to end against a loopback server: the download is
    checked against its SHA-256 pin, installed under the catalogue name as official weights of its family,
    and ``fetch --from`` the downloaded copy knows which model it is by its hash."""
    import hashlib
    from dataclasses import replace

    from samcut.cli.main import main
    from samcut.models.store import catalogue

    from loopback_server import Server

    checkpoint = made_checkpoint("sam2.1_hiera_tiny")
    data = checkpoint.read_bytes()
    server = Server(data)
    try:
        monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path))
        local = replace(catalogue.REGISTRY["sam2.1_hiera_tiny"], urls=(server.url,),
                        sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(catalogue.REGISTRY, "sam2.1_hiera_tiny", local)
        assert main(["models", "fetch", "sam2.1_hiera_tiny"]) == 0
    finally:
        server.close()
    assert "installed sam2.1_hiera_tiny" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "sam2.1_hiera_tiny" / "manifest.json").read_text())
    assert manifest["family"] == "sam2" and manifest["checkpoint"]["sha256"] == local.sha256
    assert main(["models", "list"]) == 0
    assert "sam2.1_hiera_tiny\tsam2.1_hiera_tiny\tofficial weights" in capsys.readouterr().out
    assert main(["models", "fetch", "--from", str(tmp_path / "downloads" / local.filename)]) == 0
    assert "the official SAM 2.1 Hiera tiny checkpoint" in capsys.readouterr().err
