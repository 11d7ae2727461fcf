"""Model store: resumable verified downloads from a loopback server, local installs, the CLI."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from dataclasses import replace

import pytest

from samcut.cli.main import main
from samcut.models.io.hashing import git_blob_sha1
from samcut.models.store import registry
from samcut.models.store.download import ChecksumError, DownloadError, OfflineError, download
from samcut.models.store.install import import_checkpoint

from loopback_server import Server, blob_sha1
from reference import reference_dir

PAYLOAD = bytes(range(256)) * 4000  # about 1 MB


@pytest.fixture()
def server():
    s = Server(PAYLOAD)
    yield s
    s.close()


def test_git_blob_sha1_matches_git(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello samcut\n")
    expected = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout
    assert git_blob_sha1(path) == expected.strip()


def test_download_verifies_and_is_private_until_done(server, tmp_path) -> None:
    seen = []
    dest = tmp_path / "dl" / "mobile_sam.pt"
    download(server.url, dest, blob_sha1(PAYLOAD, tmp_path), progress=lambda d, t: seen.append((d, t)))
    assert dest.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not dest.with_name("mobile_sam.pt.part").exists()


def test_interrupted_download_resumes(server, tmp_path) -> None:
    dest = tmp_path / "mobile_sam.pt"
    server.cut_after = 300_000
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download(server.url, dest, blob_sha1(PAYLOAD, tmp_path))
    part = dest.with_name("mobile_sam.pt.part")
    assert part.stat().st_size == 300_000 and not dest.exists()
    assert stat.S_IMODE(part.stat().st_mode) == 0o600
    download(server.url, dest, blob_sha1(PAYLOAD, tmp_path))
    assert server.requests[-1] == "bytes=300000-"
    assert dest.read_bytes() == PAYLOAD


def test_wrong_file_names_both_hashes_and_leaves_nothing(server, tmp_path) -> None:
    dest = tmp_path / "mobile_sam.pt"
    wrong = "0" * 40
    with pytest.raises(ChecksumError, match=f"git-blob SHA-1 {blob_sha1(PAYLOAD, tmp_path)}, expected {wrong}"):
        download(server.url, dest, wrong)
    assert not dest.exists() and not dest.with_name("mobile_sam.pt.part").exists()


def test_unreachable_server_says_so(tmp_path) -> None:
    with pytest.raises(OfflineError, match="cannot reach 127.0.0.1"):
        download("http://127.0.0.1:9/mobile_sam.pt", tmp_path / "x.pt", "0" * 40, timeout=2)


def test_offline_fetch_points_at_from(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path))
    offline = replace(registry.MOBILE_SAM, urls=("http://127.0.0.1:9/mobile_sam.pt",))
    monkeypatch.setitem(registry.REGISTRY, "mobile_sam", offline)
    assert main(["models", "fetch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot reach 127.0.0.1" in err[-1] and "samcut models fetch --from FILE" in err[-1]


def test_import_refuses_a_wrong_local_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    with pytest.raises(ChecksumError, match="expected 7ef2d090979fd9853adf17b7a99c8b94a1c5a6a7"):
        import_checkpoint(registry.MOBILE_SAM, reference_dir() / "mobile_sam_test.pt")
    with pytest.raises(ChecksumError, match="is not an official checkpoint samcut knows"):
        import_checkpoint(None, reference_dir() / "mobile_sam_test.pt")
    assert not (tmp_path / "models" / "downloads" / "mobile_sam.pt").exists()


def test_models_root_override(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path))
    assert registry.model_dir() == tmp_path / "mobile_sam"


def test_fetch_exports_and_verifies_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    """``samcut models fetch`` from a loopback server holding the test checkpoint: download, verify, export."""
    checkpoint = (reference_dir() / "mobile_sam_test.pt").read_bytes()
    server = Server(checkpoint)
    try:
        monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path))
        local = replace(registry.MOBILE_SAM, urls=(server.url,), git_blob_sha1=blob_sha1(checkpoint, tmp_path))
        monkeypatch.setitem(registry.REGISTRY, "mobile_sam", local)
        assert main(["models", "fetch"]) == 0
    finally:
        server.close()
    out = capsys.readouterr()
    assert "installed mobile_sam" in out.out and "Apache-2.0" in out.out
    assert {p.name for p in (tmp_path / "mobile_sam").iterdir()} == {"encoder.onnx", "decoder.onnx", "manifest.json"}
    assert main(["models", "verify"]) == 0
    assert main(["models", "list"]) == 0
    assert "mobile_sam_vit_t" in capsys.readouterr().out
    # A second fetch reuses the verified checkpoint instead of downloading again.
    assert main(["models", "fetch", "--from", str(tmp_path / "downloads" / "mobile_sam.pt")]) == 0


def test_custom_weights_install_under_their_own_name_and_are_told_apart(tmp_path, monkeypatch, capsys) -> None:
    """One story for custom weights: `models export FILE` installs them beside the official model,
    under the file's name, with the file's own hash; `--models NAME` uses them; list and verify say
    which weights a folder holds. `SAMCUT_MODEL_DIR` names a model folder, as --models and --out do."""
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "models"))
    checkpoint = reference_dir() / "mobile_sam_test.pt"
    assert main(["models", "fetch", "--from", str(checkpoint)]) == 2
    refusal = capsys.readouterr().err
    assert "is not an official checkpoint samcut knows" in refusal and f"samcut models export {checkpoint}" in refusal
    assert main(["models", "export", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "models" / "mobile_sam_test"
    assert f"installed mobile_sam_test in {folder}" in out and "--models mobile_sam_test" in out
    assert not (tmp_path / "models" / "mobile_sam").exists()  # never under the official name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["checkpoint"]["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert "mobile_sam_test\tmobile_sam_vit_t\tcustom weights from mobile_sam_test.pt (sha256 " in listed
    assert main(["models", "verify", "mobile_sam_test"]) == 0
    assert "OK, custom weights from mobile_sam_test.pt" in capsys.readouterr().out
    assert registry.resolve_model("mobile_sam_test") == folder  # --models NAME
    assert registry.resolve_model(str(folder)) == folder        # --models DIR
    assert main(["models", "export", str(checkpoint), "--name", "mobile_sam"]) == 2  # the official name is taken
    assert "cannot name custom weights" in capsys.readouterr().err
    monkeypatch.setenv("SAMCUT_MODEL_DIR", str(folder))  # a model folder, like --models and --out
    assert registry.model_dir() == folder
    assert main(["models", "verify"]) == 0 and "custom weights" in capsys.readouterr().out
