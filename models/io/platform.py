"""Every OS-specific call samcut makes, one branch per OS (the rest of samcut asks here).

So far: starting a process that outlives its parent without holding the parent's pipes
(``spawn_detached``), and the command that runs samcut itself (``samcut_argv``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

IS_WINDOWS = sys.platform == "win32"


def samcut_argv(*args: str) -> list[str]:
    """The argument vector that runs this samcut with ``args``: the bundle's own executable when
    frozen (PyInstaller), else this Python with ``-m samcut.cli``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "samcut.cli", *args]


def spawn_detached(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``argv`` as a process of its own: its own session (POSIX) or process group without a
    console (Windows), stdin from the null device, stdout and stderr appended to ``log`` (created
    private to the user). It holds none of the caller's pipes, so a host that waits for the
    caller's output to end (GIMP's ``subprocess.run(capture_output=True)``, Krita's ``QProcess``)
    is not kept waiting by it, and it lives on when the caller exits."""
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        options: dict = {"stdin": subprocess.DEVNULL, "stdout": fd, "stderr": fd, "close_fds": True, "env": env}
        if IS_WINDOWS:
            options["creationflags"] = (subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
                                        | subprocess.DETACHED_PROCESS)  # type: ignore[attr-defined]
        else:
            options["start_new_session"] = True
        return subprocess.Popen(argv, **options)  # noqa: S603 - our own executable, argument vector
    finally:
        os.close(fd)
