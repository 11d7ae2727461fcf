"""Turn a MobileSAM checkpoint into ``encoder.onnx`` + ``decoder.onnx`` with numpy alone.

The checkpoint is read by ``checkpoint.read_checkpoint`` (no torch, allow-listed pickle) and its
tensors are put into the shipped weightless graphs (``onnx_template``). The files equal what
samcut's torch exporter writes for the same checkpoint, byte for byte (tested), in 1-2 s and about
150 MB instead of tens of seconds and a gigabyte of torch.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from samcut.models.io.atomic import process_alive
from samcut.models.io.hashing import file_sha256, git_blob_sha1
from samcut.models.store.checkpoint import CheckpointError, read_checkpoint
from samcut.models.store.onnx_template import TemplateError, check_fits, fill_template, read_template

GRAPHS = ("encoder", "decoder")
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
WORK_PREFIX = ".convert-"


MODEL_BYTES = 42 * 10**6  # encoder + decoder of MobileSAM vit_t, about
MODEL_LABEL = "MobileSAM vit_t"  # as the templates' fit check names it


def remove_stale_work(out_dir: Path) -> list[Path]:
    """Delete work folders that conversions into ``out_dir`` left when their process died (killed
    mid-write); a running conversion's folder (its pid is alive) is kept."""
    removed = []
    for entry in Path(out_dir).glob(f"{WORK_PREFIX}*"):
        pid = entry.name[len(WORK_PREFIX):].split("-", 1)[0]
        alive = pid.isdigit() and process_alive(int(pid))  # (no pid: named before pids were in the name)
        if entry.is_dir() and not alive:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


class ConversionError(RuntimeError):
    """The checkpoint could not be turned into ONNX files; nothing was left in the output folder."""


def _quiet(_msg: str) -> None:
    pass


def convert_checkpoint(checkpoint: Path, out_dir: Path, model_name: str = "mobile_sam_vit_t",
                       say: Callable[[str], None] = _quiet) -> dict:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``manifest.json`` for ``checkpoint`` into ``out_dir``.

    The files are written in a private folder inside ``out_dir`` and moved in when both are
    complete; the manifest goes last, so a folder with a manifest is whole. On any failure
    ``out_dir`` keeps what it had (a folder this call created is removed again). Returns the
    manifest. Raises ``ConversionError`` with a one-line reason.
    """
    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    say(f"reading {checkpoint}")
    try:
        templates = {graph: read_template(graph) for graph in GRAPHS}
        shapes = {hole.key: hole.shape for template in templates.values() for hole in template.holes}
        state = read_checkpoint(checkpoint, shapes, MODEL_LABEL)  # refuses other shapes before copying any
        for template in templates.values():
            check_fits(template, state, str(checkpoint))
    except (CheckpointError, TemplateError) as exc:
        raise ConversionError(str(exc)) from None
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_work(out_dir)
        work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=out_dir))
    except OSError as exc:
        raise ConversionError(f"cannot write into {out_dir} ({exc.strerror or exc})") from None
    try:
        files = {}
        for graph, template in templates.items():
            name = f"{graph}.onnx"
            say(f"writing {name}")
            with open(work / name, "wb") as out:
                fill_template(template, state, out)
            files[name] = {"bytes": (work / name).stat().st_size, "sha256": file_sha256(work / name)}
        manifest = {
            "format": MANIFEST_FORMAT,
            "model": model_name,
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
        (work / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
        for name in (*files, MANIFEST_NAME):
            os.replace(work / name, out_dir / name)
        say(f"wrote {out_dir}")
        return manifest
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            free = shutil.disk_usage(out_dir).free / 1e6
            raise ConversionError(f"not enough space in {out_dir}: the model needs about "
                                  f"{MODEL_BYTES / 1e6:.0f} MB, {free:.0f} MB are free") from None
        raise ConversionError(f"cannot write the model into {out_dir} ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created and not (out_dir / MANIFEST_NAME).exists():
            shutil.rmtree(out_dir, ignore_errors=True)
