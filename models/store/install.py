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
from samcut.models.io.hashing import file_sha256, git_blob_sha1, pin_kind, pinned_digest
from samcut.models.store.catalogue import REGISTRY, ModelSpec, spec_for_pin
from samcut.models.store.convert import convert_checkpoint
from samcut.models.store.download import (
    ChecksumError,
    DownloadError,
    OfflineError,
    Progress,
    check_pin,
    download,
)
from samcut.models.store.lock import install_lock
from samcut.models.store.registry import custom_name, downloads_dir, model_dir, models_root

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
            check_pin(dest, spec.pin, str(dest))
            say(f"using verified {dest}")
            return dest
        except DownloadError:
            dest.unlink()
    errors = []
    for url in spec.urls:
        say(f"downloading {url}")
        try:
            return download(url, dest, spec.pin, progress=progress, cancel=cancel, max_bytes=spec.max_bytes)
        except OfflineError as exc:  # try the next URL; any other DownloadError propagates
            errors.append(str(exc))
    raise OfflineError(f"{errors[-1]}. On a machine without internet, download {spec.urls[0]} elsewhere and "
                       f"run: samcut models fetch --from FILE")


def official_model(source: Path) -> ModelSpec | None:
    """The catalogue model whose official checkpoint ``source`` is (by its pinned hash), or None.

    One pass over the file for its SHA-256; a second, for the git blob SHA-1, only where a model
    pinned that way could be that large (MobileSAM's 40 MB: not for a 2.6 GB ViT-H file)."""
    digests = {"sha256": file_sha256(source)}
    blob_pinned = [spec.max_bytes for spec in REGISTRY.values() if spec.git_blob_sha1]
    if blob_pinned and Path(source).stat().st_size <= max(blob_pinned):
        digests["git_blob_sha1"] = git_blob_sha1(source)
    return spec_for_pin(digests)


def import_checkpoint(spec: ModelSpec | None, source: Path, say: Say = _quiet) -> tuple[ModelSpec, Path]:
    """Verify a local checkpoint file against ``spec`` (None: whichever official file it is, by its
    hash) and copy it into the downloads folder. Returns the model and the copy."""
    source = Path(source)
    if not source.is_file():
        raise DownloadError(f"{source}: no such file")
    found = official_model(source)
    if found is None or (spec is not None and found != spec):
        what = f"the official {spec.filename}" if spec else "an official checkpoint samcut knows"
        pin = f" ({pin_kind(spec.pin)} {pinned_digest(source, spec.pin)}, expected {spec.pin})" if spec else ""
        raise ChecksumError(f"{source} is not {what}{pin}. To use other weights (fine-tuned, say), install them "
                            f"under their own name with: samcut models export {source}")
    spec = found
    dest = downloads_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() != dest.resolve():
        with open(source, "rb") as src:
            atomic_write(dest, lambda out: shutil.copyfileobj(src, out))
    say(f"verified {source}: the official {spec.title} checkpoint")
    return spec, dest


def export_checkpoint(checkpoint: Path, out_dir: Path, say: Say = _quiet, spec: ModelSpec | None = None) -> dict:
    """Convert ``checkpoint`` (a ``spec`` model, else told from its shapes) into ``out_dir``; return
    the verified manifest.

    Raises ``ConversionError`` with a one-line reason. The model folder is replaced whole once
    the new model is complete and verified (``convert_checkpoint``): an install that fails or is
    killed leaves the model that was there usable.
    """
    return convert_checkpoint(checkpoint, out_dir, say=say, spec=spec)


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


def install(spec: ModelSpec | None, source: Path | None = None, progress: Progress | None = None, say: Say = _quiet,
            cancel: threading.Event | None = None, custom: bool = False) -> Path:
    """Fetch (or take ``source``), verify, and convert ``spec`` into its model folder. Returns the folder.
    ``spec`` None: ``source`` is whichever official checkpoint its hash says.

    ``custom``: ``source`` holds other weights of a catalogue model (fine-tuned, say) that the user chose
    knowingly; they are converted without the pinned-hash check (the reader runs nothing of the
    file either way) into a model folder of their own (``install_custom``), never under the
    official name. ``is_official`` tells the two apart later.
    """
    if custom and source:
        return install_custom(Path(source), say=say, cancel=cancel)
    if source is not None:
        spec = import_checkpoint(spec, source, say)[0] if spec is None else spec
    if spec is None:
        raise ValueError("install: name a model or give a checkpoint file")
    out = model_dir(spec.name)
    with install_lock(out.parent, say, cancel):  # a second install waits: one .part, one conversion
        checkpoint = (import_checkpoint(spec, source, say)[1] if source
                      else fetch_checkpoint(spec, progress, say, cancel))
        export_checkpoint(checkpoint, out, say, spec)
    return out


def install_custom(checkpoint: Path, name: str | None = None, say: Say = _quiet,
                   cancel: threading.Event | None = None) -> Path:
    """Convert custom weights of a catalogue model (told from their shapes) into
    ``<models root>/<name>`` (default: from the file name, ``registry.custom_name``); the manifest
    records the file's own hashes. A file that is an official checkpoint installs as that official
    model instead. Returns the model folder."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise DownloadError(f"{checkpoint}: no such file")
    if name is not None and name not in REGISTRY:
        check_custom_name(name)  # before reading the file
    official = official_model(checkpoint)
    if official is not None and name in (None, official.name):
        say(f"{checkpoint} is the official {official.title} checkpoint: installing it as {official.name}")
        return install(official, source=checkpoint, say=say, cancel=cancel)
    if name is None:  # from the file name, cut to the longest name allowed
        name = custom_name(checkpoint)[:64].rstrip(".-") or "custom"
    name = check_custom_name(name)
    out = models_root() / name
    with install_lock(out.parent, say, cancel):
        say(f"{checkpoint}: custom weights, not checked against the official hash; installing as {name}")
        export_checkpoint(checkpoint, out, say)
    return out
