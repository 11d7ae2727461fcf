"""Installing a model: get the checkpoint (download or local file), verify it, convert it to ONNX.

The conversion (``convert``) needs numpy alone, so a plain pip install and the frozen bundle
install models the same way; torch only makes the templates it fills, at build time.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from samcut.models.engine.sam_engine import verify_model_dir
from samcut.models.io.atomic import atomic_write
from samcut.models.store.convert import convert_checkpoint
from samcut.models.store.download import (
    ChecksumError,
    DownloadError,
    OfflineError,
    Progress,
    check_git_blob,
    download,
)
from samcut.models.store.lock import install_lock
from samcut.models.store.registry import ModelSpec, downloads_dir, model_dir

Say = Callable[[str], None]


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
            return download(url, dest, spec.git_blob_sha1, progress=progress, cancel=cancel,
                            max_bytes=spec.max_bytes)
        except OfflineError as exc:  # try the next URL; any other DownloadError propagates
            errors.append(str(exc))
    raise OfflineError(f"{errors[-1]}. On a machine without internet, download {spec.urls[0]} elsewhere and "
                       f"run: samcut models fetch --from FILE")


def import_checkpoint(spec: ModelSpec, source: Path, say: Say = _quiet) -> Path:
    """Verify a local checkpoint file against ``spec`` and copy it into the downloads folder."""
    source = Path(source)
    if not source.is_file():
        raise DownloadError(f"{source}: no such file")
    try:
        check_git_blob(source, spec.git_blob_sha1, str(source))
    except ChecksumError as exc:
        raise ChecksumError(f"{exc}. This is not the official {spec.filename}; to use other MobileSAM vit_t "
                            f"weights, convert them with: samcut models export {source} --out DIR") from None
    dest = downloads_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != dest.resolve():
        with open(source, "rb") as src:
            atomic_write(dest, lambda out: shutil.copyfileobj(src, out))
    say(f"verified {source}")
    return dest


def export_checkpoint(checkpoint: Path, out_dir: Path, say: Say = _quiet) -> dict:
    """Convert ``checkpoint`` into ``out_dir``; return the verified manifest.

    Raises ``ConversionError`` with a one-line reason (nothing is left half-written).
    """
    convert_checkpoint(checkpoint, out_dir, say=say)
    return verify_model_dir(out_dir)


def install(spec: ModelSpec, source: Path | None = None, progress: Progress | None = None, say: Say = _quiet,
            cancel: threading.Event | None = None, custom: bool = False) -> Path:
    """Fetch (or take ``source``), verify, and convert ``spec`` into its model folder. Returns the folder.

    ``custom``: ``source`` holds other MobileSAM vit_t weights (fine-tuned, say) that the user chose
    knowingly; it is converted without the pinned-hash check (the reader runs nothing of the file
    either way) and not copied into the downloads folder. ``is_official`` tells the two apart later.
    """
    out = model_dir(spec.name)
    with install_lock(out.parent, say, cancel):  # a second install waits: one .part, one conversion
        if custom and source:
            say(f"{source}: custom weights, not checked against the official hash")
            checkpoint = Path(source)
        else:
            checkpoint = import_checkpoint(spec, source, say) if source else \
                fetch_checkpoint(spec, progress, say, cancel)
        export_checkpoint(checkpoint, out, say)
    return out


def is_official(spec: ModelSpec, manifest: dict) -> bool:
    """Whether an installed model's manifest says it was made from ``spec``'s pinned checkpoint."""
    checkpoint = manifest.get("checkpoint")
    return isinstance(checkpoint, dict) and checkpoint.get("git_blob_sha1") == spec.git_blob_sha1
