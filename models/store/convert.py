"""Turn a checkpoint of any catalogue model into ``encoder.onnx`` + ``decoder.onnx`` with numpy alone.

The checkpoint is read by ``checkpoint.read_checkpoint`` (no torch, allow-listed pickle) and its
tensors are put into the shipped weightless graphs of its model (``onnx_template``; which model:
the caller's catalogue entry, or ``identify.identify_checkpoint`` for custom weights). The files equal what
samcut's torch exporter writes for the same checkpoint, byte for byte (tested), in 1-2 s and about
150 MB instead of tens of seconds and a gigabyte of torch.

A model folder is replaced whole: the new model is written into a hidden sibling folder
(``.NAME.partial-PID-RANDOM``), verified, and swapped in with two renames (the old folder becomes
``.NAME.old-PID-RANDOM`` and is removed). Until the new model is complete and verified, the old
one stays where it was, usable; hidden folders are never listed as models, and what a killed
conversion left is cleaned up by the next conversion into the same folder.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from samcut.models.engine.errors import ModelError
from samcut.models.engine.sam_engine import verify_model_dir
from samcut.models.io.hashing import file_sha256, git_blob_sha1
from samcut.models.io.platform import process_alive, replace_file
from samcut.models.store.catalogue import MOBILE_SAM, ModelSpec
from samcut.models.store.checkpoint import CheckpointError, read_checkpoint
from samcut.models.store.identify import identify_checkpoint, model_templates, needed_shapes
from samcut.models.store.onnx_template import TemplateError, check_fits, fill_external_data, fill_template

GRAPHS = ("encoder", "decoder")
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
WORK_PREFIX = ".convert-"  # work folders inside a model folder (written in place, and by older samcut)
PARTIAL, OLD = "partial", "old"  # .NAME.partial-PID-RANDOM: a new model; .NAME.old-PID-RANDOM: the one it replaced




class ConversionError(RuntimeError):
    """The checkpoint could not be turned into ONNX files; the output folder keeps what it had."""


def _quiet(_msg: str) -> None:
    pass


def _sibling_prefix(out_dir: Path, kind: str) -> str:
    return f".{out_dir.name}.{kind}-"


def _leftovers(out_dir: Path, kind: str) -> list[Path]:
    """``.NAME.KIND-PID-RANDOM`` folders beside ``out_dir`` whose process is gone."""
    pattern = re.compile(rf"^{re.escape(_sibling_prefix(out_dir, kind))}(\d+)-[a-z0-9_]+$")
    found = []
    for entry in out_dir.parent.iterdir():
        m = pattern.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not process_alive(int(m[1])):
            found.append(entry)
    return found


def _dead(name: str, prefix: str) -> bool:
    """Whether the work folder ``name`` (``PREFIX PID-...``) was left by a process that is gone."""
    pid = name[len(prefix):].split("-", 1)[0]
    return not (pid.isdigit() and process_alive(int(pid)))  # (no pid: named before pids were in the name)


def remove_stale_work(out_dir: Path) -> list[Path]:
    """Clean up what conversions into ``out_dir`` left when their process died (killed mid-write):
    work folders inside it and ``.NAME.partial-*`` / ``.NAME.old-*`` folders beside it; those of a
    running conversion (its pid is alive) are kept. A swap killed between its two renames left
    ``out_dir`` missing and its old model in ``.NAME.old-*``: that model is put back first.
    Returns the folders removed."""
    out_dir = Path(os.path.abspath(out_dir))
    removed: list[Path] = []
    if out_dir.parent.is_dir():
        olds = sorted(_leftovers(out_dir, OLD), key=lambda p: p.stat().st_mtime)
        if olds and not os.path.lexists(out_dir):
            os.rename(olds.pop(), out_dir)  # the model that the killed swap had taken away
        for entry in (*olds, *_leftovers(out_dir, PARTIAL)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if out_dir.is_dir():
        for entry in out_dir.glob(f"{WORK_PREFIX}*"):
            if entry.is_dir() and _dead(entry.name, WORK_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def _holds_only_a_model(out_dir: Path) -> bool:
    """Whether ``out_dir`` may be replaced as a whole: a real folder (not a link, not the working
    folder or one above it) holding nothing but a model's files and samcut's work folders. Any
    other folder (``--out`` into a folder of the user's) has the model's files replaced in it."""
    if out_dir.is_symlink() or not out_dir.is_dir():
        return False
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working folder was removed: it cannot be this one
        cwd = None
    if cwd is not None and (out_dir.resolve() == cwd or out_dir.resolve() in cwd.parents):
        return False
    own = {f"{graph}.onnx{data}" for graph in GRAPHS for data in ("", ".data")} | {MANIFEST_NAME}
    return all(p.name in own or p.name.startswith(WORK_PREFIX) for p in out_dir.iterdir())


def _folder_mode(out_dir: Path) -> int:
    """The mode the new model folder gets: the replaced folder's, else 0777 minus the umask."""
    try:
        return stat.S_IMODE(out_dir.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o777 & ~mask


def _replace_files(stage: Path, out_dir: Path, names: list[str]) -> None:
    """Move the finished files into ``out_dir`` one by one, the manifest last (unlinked first), so
    a folder with a manifest is whole. For folders that cannot be swapped as a whole."""
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    for name in (*names, MANIFEST_NAME):
        replace_file(stage / name, out_dir / name)  # Windows: tried again while a scanner holds it


def _swap_in(stage: Path, out_dir: Path, names: list[str]) -> None:
    """Put the complete, verified model folder ``stage`` at ``out_dir``: rename the old folder aside,
    the new one in, remove the old. If the second rename fails, the old folder goes back. Where the
    old folder cannot be renamed (Windows, a file in it open), its files are replaced instead."""
    os.chmod(stage, _folder_mode(out_dir))
    if not os.path.lexists(out_dir):
        os.rename(stage, out_dir)
        return
    old = out_dir.parent / f"{_sibling_prefix(out_dir, OLD)}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.rename(out_dir, old)
    except PermissionError:
        _replace_files(stage, out_dir, names)
        return
    try:
        os.rename(stage, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_model(checkpoint: Path, folder: Path, templates: dict, state: dict, model_name: str, spec: ModelSpec,
                 say: Callable[[str], None]) -> dict:
    """Write both graphs into ``folder``, then ``manifest.json``; return the manifest."""
    files = {}
    for graph, template in templates.items():
        name = f"{graph}.onnx"
        say(f"writing {name}")
        with open(folder / name, "wb") as out:
            fill_template(template, state, out)
        written = [name]
        if template.data_file:  # weights beside the graph (over protobuf's 2 GB)
            with open(folder / template.data_file, "wb") as out:
                fill_external_data(template, state, out)
            written.append(template.data_file)
        for file in written:
            files[file] = {"bytes": (folder / file).stat().st_size, "sha256": file_sha256(folder / file)}
    manifest = {
        "format": MANIFEST_FORMAT,
        "model": model_name,
        "family": spec.family,
        "architecture": spec.name,
        "input_size": 1024,
        "embedding_shape": [1, 256, 64, 64],
        "converter": {"method": "onnx templates (no torch)",
                      "templates_made_with": templates["encoder"].made_with},
        "checkpoint": {
            "name": checkpoint.name,
            "bytes": checkpoint.stat().st_size,
            "sha256": file_sha256(checkpoint),
            "git_blob_sha1": git_blob_sha1(checkpoint),
        },
        "files": files,
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _model_bytes(templates: dict) -> int:
    """The size of the model's files: each graph's bytes around its weights, and the weights."""
    return sum(len(t.stripped) for t in templates.values()) + sum(
        hole.nbytes for t in templates.values() for hole in t.holes)


def _write_error(exc: OSError, out_dir: Path, need: int) -> ConversionError:
    """The one-line reason; on a full disk, the space free once this conversion's partial files are gone."""
    if exc.errno == errno.ENOSPC:
        where = Path(os.path.abspath(out_dir))
        while not where.exists() and where != where.parent:
            where = where.parent
        free = shutil.disk_usage(where).free / 1e6
        keeps = " (the model there stays until the new one is complete)" if out_dir.exists() else ""
        return ConversionError(f"not enough space in {out_dir}: the model needs about {need / 1e6:.0f} MB, "
                               f"{free:.0f} MB are free{keeps}")
    return ConversionError(f"cannot write the model into {out_dir} ({exc.strerror or exc})")


def _read(checkpoint: Path, spec: ModelSpec | None) -> tuple[ModelSpec, dict, dict]:
    """The model (``spec``, else told from the file's shapes), its templates and the checkpoint's
    tensors that fill them; ``ConversionError`` if they do not fit."""
    try:
        spec = spec or identify_checkpoint(checkpoint)
        templates = model_templates(spec)
        state = read_checkpoint(checkpoint, needed_shapes(templates), spec.label)  # other shapes: refused early
        for template in templates.values():
            check_fits(template, state, str(checkpoint), spec.label)
    except (CheckpointError, TemplateError) as exc:
        raise ConversionError(str(exc)) from None
    return spec, templates, state


def convert_checkpoint(checkpoint: Path, out_dir: Path, model_name: str | None = None,
                       say: Callable[[str], None] = _quiet, spec: ModelSpec | None = None) -> dict:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``manifest.json`` for ``checkpoint`` as ``out_dir``.

    The model is written into a hidden sibling folder, verified (``verify_model_dir``), and then
    replaces ``out_dir`` as a whole (see the module's docstring); until then ``out_dir`` keeps
    what it had, usable, and on any failure it is left as it was. A folder that holds more than a
    model (``--out`` into a folder of the user's) gets the model's files replaced in it instead,
    the manifest last. Returns the verified manifest. Raises ``ConversionError`` with a one-line
    reason. ``spec``: the catalogue model the file holds (default: told from its shapes).
    """
    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    say(f"reading {checkpoint}")
    spec, templates, state = _read(checkpoint, spec)
    model_name = model_name or ("mobile_sam_vit_t" if spec.templates == MOBILE_SAM.templates else spec.name)
    target = Path(os.path.abspath(out_dir))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_work(target)
        whole = not os.path.lexists(target) or _holds_only_a_model(target)
        try:
            stage = Path(tempfile.mkdtemp(prefix=f"{_sibling_prefix(target, PARTIAL)}{os.getpid()}-",
                                          dir=target.parent)) if whole else None
        except OSError:
            if not target.is_dir():
                raise
            whole, stage = False, None  # a folder we may write in, in one we may not (a mount point)
        stage = stage or Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=target))
    except OSError as exc:
        raise ConversionError(f"cannot write into {out_dir} ({exc.strerror or exc})") from None
    try:
        manifest = _write_model(checkpoint, stage, templates, state, model_name, spec, say)
        try:
            verify_model_dir(stage)
        except ModelError as exc:
            raise ConversionError(f"the model written for {out_dir} did not verify ({exc})") from None
        if whole:
            _swap_in(stage, target, list(manifest["files"]))
        else:
            _replace_files(stage, target, list(manifest["files"]))
        say(f"wrote {out_dir}")
        return manifest
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)  # first: the free space is told without our partial files
        raise _write_error(exc, out_dir, _model_bytes(templates)) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # (gone already once swapped in)
