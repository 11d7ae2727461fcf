"""Installing a model: get the checkpoint (download or local file), verify it, export to ONNX.

The export runs in a child process (``python -m samcut.models.export``) so that torch is never
imported by the app itself; it needs the ``export`` extra (torch) in that Python.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from samcut.models.document.atomic import atomic_write
from samcut.models.engine.sam_engine import verify_model_dir
from samcut.models.store.download import (
    DownloadError,
    OfflineError,
    Progress,
    check_git_blob,
    download,
)
from samcut.models.store.registry import ModelSpec, downloads_dir, model_dir

Say = Callable[[str], None]


class ExportFailed(RuntimeError):
    """The ONNX export child process failed; the message carries its last words."""


def _quiet(_msg: str) -> None:
    pass


def fetch_checkpoint(spec: ModelSpec, progress: Progress | None = None, say: Say = _quiet,
                     cancel: threading.Event | None = None) -> Path:
    """Download ``spec``'s checkpoint into the downloads folder (resuming), verified. Returns its path."""
    dest = downloads_dir() / spec.filename
    if dest.is_file():
        try:
            check_git_blob(dest, spec.git_blob_sha1, str(dest))
            say(f"using verified {dest}")
            return dest
        except DownloadError:
            dest.unlink()
    errors = []
    for url in spec.urls:
        say(f"downloading {url}")
        try:
            return download(url, dest, spec.git_blob_sha1, progress=progress, cancel=cancel)
        except OfflineError as exc:  # try the next URL; any other DownloadError propagates
            errors.append(str(exc))
    raise OfflineError(f"{errors[-1]}. On a machine without internet, download {spec.urls[0]} elsewhere and "
                       f"run: samcut models fetch --from FILE")


def import_checkpoint(spec: ModelSpec, source: Path, say: Say = _quiet) -> Path:
    """Verify a local checkpoint file against ``spec`` and copy it into the downloads folder."""
    source = Path(source)
    if not source.is_file():
        raise DownloadError(f"{source}: no such file")
    check_git_blob(source, spec.git_blob_sha1, str(source))
    dest = downloads_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != dest.resolve():
        with open(source, "rb") as src:
            atomic_write(dest, lambda out: shutil.copyfileobj(src, out))
    say(f"verified {source}")
    return dest


def export_checkpoint(checkpoint: Path, out_dir: Path, say: Say = _quiet, python: str | None = None) -> dict:
    """Run the ONNX export in a child Python; return the verified manifest of ``out_dir``."""
    if getattr(sys, "frozen", False) and python is None:
        raise ExportFailed("this samcut bundle cannot convert checkpoints (it has no PyTorch inside); use a bundle "
                           "built with 'packaging/build.sh --models DIR', or run 'samcut models fetch' with a "
                           "pip-installed samcut and point SAMCUT_MODEL_DIR at its models folder")
    cmd = [python or sys.executable, "-m", "samcut.models.export", str(checkpoint), "--out", str(out_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:  # progress lines
        if line.strip():
            say(line.rstrip())
    errors = [line.strip() for line in proc.stderr if line.strip()]
    if proc.wait() != 0:
        raise ExportFailed(errors[-1] if errors else f"export exited with status {proc.returncode}")
    return verify_model_dir(out_dir)


def install(spec: ModelSpec, source: Path | None = None, progress: Progress | None = None, say: Say = _quiet,
            cancel: threading.Event | None = None) -> Path:
    """Fetch (or take ``source``), verify, and export ``spec`` into its model folder. Returns the folder."""
    checkpoint = import_checkpoint(spec, source, say) if source else fetch_checkpoint(spec, progress, say, cancel)
    out = model_dir(spec.name)
    export_checkpoint(checkpoint, out, say)
    return out
