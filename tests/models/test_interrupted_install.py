"""A re-install killed at any point leaves the model that was there usable (issue 25 item 7).

``samcut models export FILE --name k`` runs in a child process that kills itself (SIGKILL, no
clean-up of any kind) at its N-th file-system step: before writing each graph, before each
rename, replace and unlink, before removing a folder, for N = 1, 2, ... until a run gets through.
After each kill the model ``k`` still verifies (the old weights, or the new ones once they are in
place), ``models list`` shows it and nothing hidden, and the next install cleans up and succeeds.
The one instant where ``k`` is missing, between the swap's two renames, is named: the next
install puts the old model back before anything else.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from samcut.models.engine.sam_engine import ModelError, verify_model_dir
from samcut.models.store import convert
from samcut.models.store.registry import installed_models

from reference import reference_dir, synthetic_dir

OLD_CHECKPOINT = "mobile_sam_test.pt"
NEW_CHECKPOINT = "mobile_sam_synthetic.pt"
MAX_STEPS = 40

CHILD = r"""
import os, shutil, signal, sys
from samcut.models.store import convert

kill_at, calls = int(sys.argv[1]), [0]

def step(fn):
    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return wrapped

os.rename, os.replace, os.unlink = step(os.rename), step(os.replace), step(os.unlink)
shutil.rmtree = step(shutil.rmtree)
convert.fill_template = step(convert.fill_template)
from samcut.cli.main import main
sys.exit(main(["models", "export", sys.argv[2], "--name", "k"]))
"""


def _weights(folder: Path) -> str:
    return verify_model_dir(folder)["checkpoint"]["name"]


@pytest.fixture(scope="module")
def old_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("old") / "k"
    convert.convert_checkpoint(reference_dir() / OLD_CHECKPOINT, folder)
    return folder


def _killed_export(root: Path, kill_at: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAMCUT_MODELS_ROOT": str(root)}
    return subprocess.run([sys.executable, "-c", CHILD, str(kill_at), str(synthetic_dir() / NEW_CHECKPOINT)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=root)


def test_a_reinstall_killed_at_any_step_keeps_a_usable_model(old_model, tmp_path, monkeypatch) -> None:
    outcomes: list[str] = []
    for kill_at in range(1, MAX_STEPS + 1):
        root = tmp_path / f"root{kill_at}"
        root.mkdir()
        shutil.copytree(old_model, root / "k")
        monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(root))
        run = _killed_export(root, kill_at)
        if run.returncode == 0:
            assert _weights(root / "k") == NEW_CHECKPOINT
            assert sorted(p.name for p in root.iterdir() if p.name.startswith(".k.")) == []
            break
        assert run.returncode == -signal.SIGKILL, run.stderr
        if (root / "k").exists():
            outcomes.append(_weights(root / "k"))  # raises ModelError if the kill left it unusable
            assert [m.name for m in installed_models() if not m.damaged] == ["k"]
        else:  # killed between the swap's two renames: the old model waits beside it, hidden
            outcomes.append("between the renames")
            assert [m.name for m in installed_models()] == []
            convert.remove_stale_work(root / "k")  # what the next install does first: puts it back
            assert _weights(root / "k") == OLD_CHECKPOINT
        assert all(m.path.name == "k" for m in installed_models())  # hidden leftovers are never listed
        convert.convert_checkpoint(synthetic_dir() / NEW_CHECKPOINT, root / "k")  # the next install
        assert _weights(root / "k") == NEW_CHECKPOINT
        assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) in ([], [".install.lock"])
    else:
        pytest.fail(f"the export did not finish within {MAX_STEPS} steps")
    assert OLD_CHECKPOINT in outcomes and len(outcomes) >= 5, outcomes  # kills before the swap keep the old
    assert outcomes.count("between the renames") <= 1, outcomes


def test_a_failed_swap_puts_the_old_model_back(old_model, tmp_path, monkeypatch) -> None:
    out = tmp_path / "k"
    shutil.copytree(old_model, out)
    real_rename, calls = os.rename, []

    def second_fails(src, dst) -> None:
        calls.append(dst)
        if len(calls) == 2:  # the new folder into place
            raise OSError(errno.EIO, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(convert.os, "rename", second_fails)
    with pytest.raises(convert.ConversionError, match="Input/output error"):
        convert.convert_checkpoint(synthetic_dir() / NEW_CHECKPOINT, out)
    monkeypatch.undo()
    assert _weights(out) == OLD_CHECKPOINT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


def test_a_conversion_that_does_not_verify_replaces_nothing(old_model, tmp_path, monkeypatch) -> None:
    out = tmp_path / "k"
    shutil.copytree(old_model, out)

    def damaged(folder) -> dict:
        raise ModelError(f"model folder {folder} is damaged")

    monkeypatch.setattr(convert, "verify_model_dir", damaged)
    with pytest.raises(convert.ConversionError, match="did not verify"):
        convert.convert_checkpoint(synthetic_dir() / NEW_CHECKPOINT, out)
    monkeypatch.undo()
    assert _weights(out) == OLD_CHECKPOINT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


def test_a_folder_of_the_users_keeps_its_other_files(tmp_path, monkeypatch) -> None:
    """``--out`` into a folder holding more than a model (or the working folder): the model's
    files are replaced in it, nothing else is touched."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    convert.convert_checkpoint(reference_dir() / OLD_CHECKPOINT, mine)
    assert (mine / "notes.txt").read_text() == "keep me" and _weights(mine) == OLD_CHECKPOINT
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    convert.convert_checkpoint(reference_dir() / OLD_CHECKPOINT, Path("."))
    assert _weights(here) == OLD_CHECKPOINT and Path.cwd() == here.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "mine"]


def test_the_new_folder_keeps_the_old_folders_mode(old_model, tmp_path) -> None:
    out = tmp_path / "k"
    shutil.copytree(old_model, out)
    out.chmod(0o750)
    convert.convert_checkpoint(synthetic_dir() / NEW_CHECKPOINT, out)
    assert out.stat().st_mode & 0o777 == 0o750 and _weights(out) == NEW_CHECKPOINT


def test_a_folder_whose_parent_cannot_be_written_is_written_in_place(old_model, tmp_path, monkeypatch) -> None:
    """A mount point or a folder given to the user inside a read-only one: no sibling can be made
    there, so the files are replaced inside it, the manifest last (as samcut did before)."""
    out = tmp_path / "k"
    shutil.copytree(old_model, out)
    real_mkdtemp = convert.tempfile.mkdtemp

    def no_siblings(prefix: str, dir: Path) -> str:  # noqa: A002 - tempfile's own name
        if Path(dir) == tmp_path:
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real_mkdtemp(prefix=prefix, dir=dir)

    monkeypatch.setattr(convert.tempfile, "mkdtemp", no_siblings)
    convert.convert_checkpoint(synthetic_dir() / NEW_CHECKPOINT, out)
    assert _weights(out) == NEW_CHECKPOINT
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "encoder.onnx", "manifest.json"]
