"""Resumable, verified downloads over HTTP(S) with the standard library.

Bytes go to ``<dest>.part`` (private to the user); an interrupted download is resumed with
an HTTP ``Range`` request; the file is renamed to ``dest`` only after its hash matches.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from samcut.models.io.hashing import pin_kind, pinned_digest
from samcut.models.io.platform import PRIVATE_FILE_MODE, binary_flags

CHUNK = 1 << 16
Progress = Callable[[int, "int | None"], None]


class DownloadError(RuntimeError):
    """A download failed; the message says what to do."""


class OfflineError(DownloadError):
    """The server could not be reached at all."""


class ChecksumError(DownloadError):
    """A file's hash is not the pinned one."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the partial file is kept for a later resume."""


def check_pin(path: Path, expected: str, label: str) -> None:
    """Raise ``ChecksumError`` naming both hashes unless ``path``'s digest is the pin ``expected``
    (a git blob SHA-1 or a SHA-256, ``hashing.pin_kind``)."""
    actual = pinned_digest(path, expected)
    if actual != expected:
        raise ChecksumError(f"{label}: wrong file ({pin_kind(expected)} {actual}, expected {expected})")


def part_open_flags(append: bool) -> int:
    """``os.open`` flags of the part file: appended to on a resume, else started anew; binary
    (``O_BINARY`` on Windows), so that no byte is translated and the hash stays the server's."""
    return binary_flags(os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC))


def _open_part(part: Path, append: bool) -> int:
    return os.open(part, part_open_flags(append), PRIVATE_FILE_MODE)


def _no_space(folder: Path, total: int | None, done: int) -> DownloadError:
    """The disk filled after ``done`` bytes, which stay in the part file for the resume: the
    message says how much more the download needs, beside what is free with them kept."""
    free = shutil.disk_usage(folder).free if folder.exists() else 0
    more = f"{max(0, total - done) / 1e6:.0f} MB more" if total else "more space"
    return DownloadError(f"not enough space in {folder} for the download: it needs {more} "
                         f"({done / 1e6:.0f} MB are downloaded and kept to resume), {free / 1e6:.0f} MB are free; "
                         "free some space and run again to resume")


def download(url: str, dest: Path, expected: str, progress: Progress | None = None,
             timeout: float = 30.0, cancel: threading.Event | None = None, max_bytes: int | None = None) -> Path:
    """Fetch ``url`` into ``dest``, resuming ``dest.part`` if present, verifying it against the pin
    ``expected`` (``check_pin``) before the rename.

    ``max_bytes``: a file announced or growing larger than this is refused (the part file is
    removed): a server that sends without end cannot fill the disk."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "samcut"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    host = urlparse(url).hostname or url
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only, checked by caller)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part file is complete
            return _finish(part, dest, expected, url)
        raise DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(f"cannot reach {host} ({reason})") from None
    with response:
        resumed = have and response.status == 206
        done = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = done + int(length) if length and length.isdigit() else None
        if max_bytes is not None and total is not None and total > max_bytes:
            raise DownloadError(f"{url} is {total / 1e6:.0f} MB, more than the {max_bytes / 1e6:.0f} MB this model "
                                "can be: not downloaded")
        fd = _open_part(part, append=bool(resumed))
        with os.fdopen(fd, "wb") as out:
            if progress:
                progress(done, total)
            while True:
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled(f"download cancelled at {done / 1e6:.1f} MB; run again to resume")
                try:
                    chunk = response.read(CHUNK)
                except (TimeoutError, OSError, ValueError) as exc:
                    raise DownloadError(f"download from {host} interrupted after {done / 1e6:.1f} MB ({exc}); "
                                        "run the same command again to resume") from None
                if not chunk:
                    break
                done += len(chunk)
                if max_bytes is not None and done > max_bytes:
                    out.close()
                    part.unlink(missing_ok=True)
                    raise DownloadError(f"{url} sent more than the {max_bytes / 1e6:.0f} MB this model can be: "
                                        "stopped and removed")
                try:
                    out.write(chunk)
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        raise _no_space(part.parent, total, done - len(chunk)) from None
                    raise
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise DownloadError(f"download from {host} stopped at {done / 1e6:.1f} of {total / 1e6:.1f} MB; "
                            "run the same command again to resume")
    return _finish(part, dest, expected, url)


def _finish(part: Path, dest: Path, expected: str, url: str) -> Path:
    try:
        check_pin(part, expected, url)
    except ChecksumError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest
