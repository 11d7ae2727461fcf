"""Atomic file writes: a private temp file in the target's folder, then a rename."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from samcut.models.io.platform import process_alive, remove_file, replace_file

# .<name>.<pid>.<random>.part: the pid tells whether the writer is still alive
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.part$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error, naming the user's ``path`` instead of the temp file."""
    return OSError(exc.errno, exc.strerror, str(path)) if exc.errno is not None else exc


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files that earlier writes of ``path`` left behind when their process died."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(path).parent.iterdir():
            m = _TEMP.match(entry.name)
            if m and m["name"] == Path(path).name and not process_alive(int(m["pid"])) and remove_file(entry):
                removed.append(entry)
    return removed


def atomic_write(path: Path | str, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fh)`` on a temp file next to ``path`` and rename it over ``path`` on success.

    The temp file is created private to the user (mode 0600). The finished file keeps the mode of
    the file it replaces, or gets the usual permissions (0666 minus the umask) when new. On any
    error the temp file is removed, ``path`` is left as it was, and an ``OSError`` names ``path``
    (not the temp file). Temp files of earlier writes whose process died are removed first.
    """
    path = Path(path)
    remove_stale_temps(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        replace_file(tmp, path)  # Windows: tried again while ``path`` is open elsewhere for a moment
    except OSError as exc:
        remove_file(tmp)
        raise _naming(exc, path) from exc
    except BaseException:
        remove_file(tmp)
        raise
    return path
