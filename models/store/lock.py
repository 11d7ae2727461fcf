"""One install at a time: a lock file in the models folder, locked through the platform module
(``flock`` on POSIX, ``msvcrt.locking`` on Windows; either is released when the process dies)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from samcut.models.io.platform import open_binary, try_lock_file, unlock_file

LOCK_NAME = ".install.lock"


class InstallBusy(RuntimeError):
    """Another samcut is installing into the same folder and this one was asked not to wait."""


@contextlib.contextmanager
def install_lock(folder: Path, say: Callable[[str], None] = lambda _m: None,
                 cancel: threading.Event | None = None, wait: bool = True) -> Iterator[None]:
    """Hold the install lock of ``folder`` for the ``with`` block. If another process holds it,
    say so once and wait (checking ``cancel``), or raise ``InstallBusy`` when not ``wait``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = open_binary(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    locked = False
    try:
        told = False
        while not try_lock_file(fd):
            if not wait:
                raise InstallBusy(f"another samcut is installing a model into {folder}; try again when "
                                  "it has finished")
            if not told:
                say(f"another samcut is installing a model into {folder}; waiting for it to finish")
                told = True
            if cancel is not None and cancel.is_set():
                raise InstallBusy("cancelled while waiting for another samcut's install")
            time.sleep(0.2)
        locked = True
        yield
    finally:
        if locked:
            unlock_file(fd)
        os.close(fd)  # closing releases the lock too
