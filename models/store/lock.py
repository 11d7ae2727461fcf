"""One install at a time: a lock file in the models folder (``flock``; released if the process dies)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: installs are not locked there
    fcntl = None  # type: ignore[assignment]

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
    if fcntl is None:
        yield
        return
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise InstallBusy(f"another samcut is installing a model into {folder}; try again when "
                                      "it has finished") from None
                if not told:
                    say(f"another samcut is installing a model into {folder}; waiting for it to finish")
                    told = True
                if cancel is not None and cancel.is_set():
                    raise InstallBusy("cancelled while waiting for another samcut's install") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock
