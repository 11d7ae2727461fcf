"""Installing a model: get the checkpoint (download or local file), verify it, convert it to ONNX.

The conversion (``convert``) needs numpy alone, so a plain pip install and the frozen bundle
install models the same way; torch only makes the templates it fills, at build time.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from samcut.models.io.atomic import atomic_write
from samcut.models.io.hashing import git_blob_sha1
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
from samcut.models.store.registry import (
    MOBILE_SAM,
    REGISTRY,
    ModelSpec,
    custom_name,
    downloads_dir,
    model_dir,
    models_root,
)

Say = Callable[[str], None]
CUSTOM_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


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
    except ChecksumError:
        raise ChecksumError(f"{source} is not the official {spec.filename} (git-blob SHA-1 "
                            f"{git_blob_sha1(source)}, expected {spec.git_blob_sha1}). To use other "
                            f"MobileSAM vit_t weights (fine-tuned, say), install them under their own name "
                            f"with: samcut models export {source}") from None
    dest = downloads_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != dest.resolve():
        with open(source, "rb") as src:
            atomic_write(dest, lambda out: shutil.copyfileobj(src, out))
    say(f"verified {source}")
    return dest


def export_checkpoint(checkpoint: Path, out_dir: Path, say: Say = _quiet) -> dict:
    """Convert ``checkpoint`` into ``out_dir``; return the verified manifest.

    Raises ``ConversionError`` with a one-line reason. The model folder is replaced whole once
    the new model is complete and verified (``convert_checkpoint``): an install that fails or is
    killed leaves the model that was there usable.
    """
    return convert_checkpoint(checkpoint, out_dir, say=say)


def check_custom_name(name: str) -> str:
    """``name`` if it can name custom weights: 1-64 letters, digits, ``.``, ``_`` or ``-``, not
    starting with ``.`` (hidden folders are installs in progress), not an official model's name
    nor ``downloads``. ``ValueError`` with a one-line reason otherwise."""
    if not CUSTOM_NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot name custom weights: give a name of 1 to 64 letters, digits, '.', '_' "
                         f"or '-', not starting with '.', with --name")
    if name in REGISTRY or name == "downloads":
        raise ValueError(f"{name!r} cannot name custom weights (it is taken); give another with --name")
    return name


def install(spec: ModelSpec, source: Path | None = None, progress: Progress | None = None, say: Say = _quiet,
            cancel: threading.Event | None = None, custom: bool = False) -> Path:
    """Fetch (or take ``source``), verify, and convert ``spec`` into its model folder. Returns the folder.

    ``custom``: ``source`` holds other MobileSAM vit_t weights (fine-tuned, say) that the user chose
    knowingly; they are converted without the pinned-hash check (the reader runs nothing of the
    file either way) into a model folder of their own (``install_custom``), never under the
    official name. ``is_official`` tells the two apart later.
    """
    if custom and source:
        return install_custom(Path(source), say=say, cancel=cancel)
    out = model_dir(spec.name)
    with install_lock(out.parent, say, cancel):  # a second install waits: one .part, one conversion
        checkpoint = import_checkpoint(spec, source, say) if source else fetch_checkpoint(spec, progress, say, cancel)
        export_checkpoint(checkpoint, out, say)
    return out


def install_custom(checkpoint: Path, name: str | None = None, say: Say = _quiet,
                   cancel: threading.Event | None = None) -> Path:
    """Convert custom MobileSAM vit_t weights into ``<models root>/<name>`` (default: from the file
    name, ``registry.custom_name``); the manifest records the file's own hashes. A file that is
    the official checkpoint installs as the official model instead. Returns the model folder."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise DownloadError(f"{checkpoint}: no such file")
    if name is not None and name != MOBILE_SAM.name:
        check_custom_name(name)  # before reading the file
    if git_blob_sha1(checkpoint) == MOBILE_SAM.git_blob_sha1 and name in (None, MOBILE_SAM.name):
        say(f"{checkpoint} is the official checkpoint: installing it as {MOBILE_SAM.name}")
        return install(MOBILE_SAM, source=checkpoint, say=say, cancel=cancel)
    if name is None:  # from the file name, cut to the longest name allowed
        name = custom_name(checkpoint)[:64].rstrip(".-") or "custom"
    name = check_custom_name(name)
    out = models_root() / name
    with install_lock(out.parent, say, cancel):
        say(f"{checkpoint}: custom weights, not checked against the official hash; installing as {name}")
        export_checkpoint(checkpoint, out, say)
    return out
