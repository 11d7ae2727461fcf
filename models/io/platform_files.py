"""The platform module's file calls: binary opens, replacing and removing files, file locks,
private folders. Import them from ``samcut.models.io.platform``.

Windows differs from POSIX in three ways that matter here: a file opened without ``O_BINARY``
translates line ends (a downloaded checkpoint would no longer match its hash); a file that is
open somewhere (a virus scanner, the search indexer, another samcut reading it) cannot be
replaced or removed for a moment (``PermissionError``); and modes such as 0600 and 0700 mean
nothing there (a folder under the user's profile is private by its access list instead).
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

IS_WINDOWS = sys.platform == "win32"

PRIVATE_FILE_MODE = 0o600
"""Mode of a file only its owner may read (POSIX; ignored on Windows, where the folder's access
list decides)."""
PRIVATE_FOLDER_MODE = 0o700
"""Mode of a folder only its owner may enter (POSIX; ignored on Windows, as above)."""

REPLACE_WAITS_S: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4)
"""Seconds waited between tries of ``replace_file``: six tries within about 0.8 s. On Windows a
scanner or indexer holds a new file open for a few milliseconds; longer than that, the file is
really in use and the caller is told."""


def binary_flags(flags: int) -> int:
    """``flags`` for ``os.open`` plus ``O_BINARY`` where the OS has it (Windows): bytes are
    written as given, never with line ends translated."""
    return flags | getattr(os, "O_BINARY", 0)


def open_binary(path: Path | str, flags: int, mode: int = PRIVATE_FILE_MODE) -> int:
    """``os.open(path, flags | O_BINARY, mode)``: a descriptor for raw bytes (``mode`` applies to a
    file it creates; 0600 by default, private to the user on POSIX)."""
    return os.open(path, binary_flags(flags), mode)


def replace_file(source: Path | str, target: Path | str, waits: Sequence[float] = REPLACE_WAITS_S) -> None:
    """``os.replace(source, target)``, tried again after each of ``waits`` (seconds) while it fails
    with ``PermissionError`` (Windows: ``target`` or ``source`` is open elsewhere for a moment).
    The last ``PermissionError`` is raised when every try failed; other errors at once.

    On POSIX a ``PermissionError`` here is a real refusal and the retries only delay the same
    answer by under a second; one rule on every OS keeps this path tested where the suite runs.
    """
    for wait in (*waits, None):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if wait is None:
                raise
            time.sleep(wait)


def remove_file(path: Path | str) -> bool:
    """Delete ``path`` if it is there; False when it cannot be deleted now (Windows: it is open
    elsewhere; anywhere: no permission). For caches and leftovers, which a later run removes:
    True when the file is gone (or never was)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def make_private_folder(path: Path | str) -> Path:
    """Create ``path`` (and its parents) for this user's eyes only: mode 0700 on POSIX (a folder
    that exists keeps its mode). On Windows, modes mean nothing: samcut's folders lie in the
    user's profile (``platformdirs``: ``%LOCALAPPDATA%``), private by its inherited access list."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE)
    return folder


def try_lock_file(fd: int) -> bool:
    """Take the exclusive lock on the open file ``fd`` without waiting; False if another open
    file (another process, or another open of it in this one) holds it.

    POSIX: ``flock`` (per open file; released when the file is closed or the process dies).
    Windows: ``msvcrt.locking`` on its first byte (a region lock, released by ``unlock_file``,
    on close, or when the process dies)."""
    if IS_WINDOWS:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError as exc:
            if exc.errno in (errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)):
                return False
            raise
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock_file(fd: int) -> None:
    """Release the lock ``try_lock_file`` took on ``fd`` (closing ``fd`` releases it too)."""
    if IS_WINDOWS:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            pass  # not held: nothing to release
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)
