"""Damaged state on disk (issue 25 item 8): preferences and model manifests of any shape give
defaults with a notice, or one ``ModelError`` line, never a traceback, a hang or gigabytes read.

Whatever might be read without end (a FIFO, a link to ``/dev/zero``) is read in a child process
with a time limit and a memory limit, so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from samcut.cli.main import main
from samcut.models.document.preferences import Preferences
from samcut.models.engine.sam_engine import ModelError, verify_model_dir
from samcut.models.io.hashing import file_sha256

CHILD_MEMORY = 1 << 30  # the child's address space: reading /dev/zero to the end fails inside it
CHILD_SECONDS = 30

LOAD_PREFERENCES = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from samcut.models.document.preferences import Preferences
prefs = Preferences.load()
print(prefs == Preferences(), prefs.notice)
"""


def _load_in_child(config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAMCUT_CONFIG_DIR": str(config)}
    return subprocess.run([sys.executable, "-c", LOAD_PREFERENCES, str(CHILD_MEMORY)], capture_output=True,
                          text=True, timeout=CHILD_SECONDS, env=env)


def test_preferences_nested_deeper_than_python_can_parse_give_defaults(tmp_path) -> None:
    for text in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "preferences.json").write_text(text)
        prefs = Preferences.load()  # used to raise RecursionError and stop the app
        assert prefs == Preferences() and "nests 100000 levels deep" in prefs.notice


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "folder", "not-utf8", "array"])
def test_preferences_that_are_no_preferences_file_give_defaults_at_once(tmp_path, kind) -> None:
    config = tmp_path / "config"
    config.mkdir()
    path = config / "preferences.json"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading used to wait for a writer for ever
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")  # reading it used to grow without end (2.7 GB before MemoryError)
    elif kind == "huge":
        path.write_text('{"threads": 2' + " " * (3 << 20) + "}")
    elif kind == "folder":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b'{"threads": "\xff\xfe"}')
    else:
        path.write_text("[1, 2]")
    run = _load_in_child(config)
    assert run.returncode == 0 and run.stderr == "", run.stderr[-800:]
    same, notice = run.stdout.strip().split(" ", 1)
    assert same == "True" and notice.startswith("Preferences: using the defaults (") and "\n" not in notice
    expected = {"fifo": "not a regular file", "dev-zero": "not a regular file", "huge": "MB, more than",
                "folder": "not a regular file", "not-utf8": "not UTF-8", "array": "not hold a JSON object"}[kind]
    assert expected in notice, notice


def test_a_damaged_preferences_file_is_replaced_by_the_next_save(tmp_path) -> None:
    path = tmp_path / "config" / "preferences.json"
    path.parent.mkdir()
    os.mkfifo(path)
    code = ("from samcut.models.document.preferences import Preferences; prefs = Preferences.load(); "
            "prefs.threads = 3; prefs.save(); print(Preferences.load().threads)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=CHILD_SECONDS,
                         env={**os.environ, "SAMCUT_CONFIG_DIR": str(path.parent)})
    assert run.stdout.strip() == "3" and path.is_file(), run.stderr[-800:]


# --- model manifests ---------------------------------------------------------------------------

def _model_copy(test_model_dir: Path, folder: Path) -> Path:
    shutil.copytree(test_model_dir, folder)
    return folder


def _files(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())["files"]


BAD_MANIFESTS = {
    "array": "[]",
    "string": '"x"',
    "number": "3",
    "null": "null",
    "files-list": '{"files": ["encoder.onnx", "decoder.onnx"]}',
    "files-string": '{"files": "encoder.onnx"}',
    "entry-string": '{"files": {"encoder.onnx": "abc", "decoder.onnx": "def"}}',
    "sha-number": '{"files": {"encoder.onnx": {"sha256": 5}, "decoder.onnx": {"sha256": 5}}}',
    "no-files": '{"model": "mobile_sam_vit_t"}',
    "deep": "[" * 100_000 + "]" * 100_000,
    "not-json": "{broken",
}


@pytest.mark.parametrize("shape", list(BAD_MANIFESTS))
def test_a_manifest_of_any_other_shape_is_damaged_in_one_line(test_model_dir, tmp_path, shape) -> None:
    folder = _model_copy(test_model_dir, tmp_path / "m")
    (folder / "manifest.json").write_text(BAD_MANIFESTS[shape])
    with pytest.raises(ModelError) as caught:  # used to be AttributeError / TypeError / RecursionError
        verify_model_dir(folder)
    message = str(caught.value)
    assert f"model folder {folder} is damaged (its manifest.json" in message and "reinstall it with" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "sub/encoder.onnx", "..", ".", "",
                                  "a\\b", "C:evil"])
def test_a_manifest_naming_a_file_outside_the_folder_is_damaged(test_model_dir, tmp_path, name) -> None:
    folder = _model_copy(test_model_dir, tmp_path / "m")
    (folder / "sub").mkdir()
    shutil.copy(folder / "encoder.onnx", folder / "sub" / "encoder.onnx")
    manifest = json.loads((folder / "manifest.json").read_text())
    target = Path("/etc/passwd") if "passwd" in name else folder / "encoder.onnx"
    manifest["files"][name] = {"sha256": file_sha256(target) if target.is_file() else "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="which is not a file name in the folder"):
        verify_model_dir(folder)


def test_every_listed_file_is_checked(test_model_dir, tmp_path) -> None:
    folder = _model_copy(test_model_dir, tmp_path / "m")
    (folder / "extra.bin").write_bytes(b"listed")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["extra.bin"] = {"bytes": 6, "sha256": file_sha256(folder / "extra.bin")}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert set(verify_model_dir(folder)["files"]) == {"encoder.onnx", "decoder.onnx", "extra.bin"}
    (folder / "extra.bin").write_bytes(b"changed")  # used to pass: only the two graphs were hashed
    with pytest.raises(ModelError, match="extra.bin is corrupt: SHA-256"):
        verify_model_dir(folder)
    (folder / "extra.bin").unlink()
    with pytest.raises(ModelError, match="'extra.bin', which is not a regular file in the folder"):
        verify_model_dir(folder)
    os.mkfifo(folder / "extra.bin")  # hashing it would wait for a writer for ever
    with pytest.raises(ModelError, match="not a regular file"):
        verify_model_dir(folder)
    manifest["files"].pop("decoder.onnx")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="does not list decoder.onnx"):
        verify_model_dir(folder)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_a_manifest_that_is_no_regular_file_is_refused_at_once(test_model_dir, tmp_path, kind) -> None:
    folder = _model_copy(test_model_dir, tmp_path / "m")
    manifest = folder / "manifest.json"
    manifest.unlink()
    if kind == "fifo":
        os.mkfifo(manifest)
    elif kind == "dev-zero":
        manifest.symlink_to("/dev/zero")
    else:
        manifest.write_text('{"files": {}' + " " * (2 << 20) + "}")
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from samcut.cli.main import main; sys.exit(main(['models', 'verify', sys.argv[1]]))")
    run = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True,
                         timeout=CHILD_SECONDS)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and lines[0].startswith("samcut: model folder"), run.stderr[-800:]
    assert "is damaged" in lines[0] and ("not a regular file" in lines[0] or "MB, more than" in lines[0])


@pytest.mark.parametrize("shape", ["array", "files-list", "entry-string"])
def test_the_cli_says_one_line_for_a_damaged_manifest(test_model_dir, tmp_path, capsys, shape) -> None:
    folder = _model_copy(test_model_dir, tmp_path / "m")
    (folder / "manifest.json").write_text(BAD_MANIFESTS[shape])
    image = tmp_path / "i.png"
    from PIL import Image

    Image.new("RGB", (40, 30), "white").save(image)
    for argv in (["models", "verify", str(folder)],
                 ["segment", str(image), "--point", "5,5", "--mask", str(tmp_path / "o.png"), "--models", str(folder)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"samcut: model folder {folder} is damaged"), err


# --- the shared reader -------------------------------------------------------------------------

def test_the_bounded_reader_counts_nesting_outside_strings_only(tmp_path) -> None:
    from samcut.models.io.jsonfile import JsonFileError, nesting_depth, read_json_file

    assert nesting_depth('{"a": [1, {"b": "[[[[{{{{\\"]]"}]}') == 3
    assert nesting_depth('"[[[["') == 0 and nesting_depth("[]") == 1 and nesting_depth("1") == 0
    path = tmp_path / "x.json"
    path.write_text('{"a": "' + "[" * 1000 + '"}')
    assert read_json_file(path, max_depth=2) == {"a": "[" * 1000}
    path.write_text("[[[1]]]")
    assert read_json_file(path, max_depth=3) == [[[1]]]
    with pytest.raises(JsonFileError, match="nests 4 levels deep, more than such a file can .3."):
        path.write_text("[[[[1]]]]")
        read_json_file(path, max_depth=3)
    path.write_bytes(b"\xef\xbb\xbf" + b'{"ok": true}')  # a BOM, as some editors write
    assert read_json_file(path) == {"ok": True}
    path.write_text("x" * 101)
    with pytest.raises(JsonFileError, match="MB, more than"):
        read_json_file(path, max_bytes=100)
    with pytest.raises(FileNotFoundError):
        read_json_file(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="is not valid JSON .Expecting value at line 1, column 1."):
        path.write_text("nope")
        read_json_file(path)
