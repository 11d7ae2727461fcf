"""The platform module's part of the host bridge: where the per-user folder that holds the bridge's
endpoint (its port and secret) lies, and the check that nobody else can enter it. Import them from
``samcut.models.io.platform``.

The bridge itself is loopback TCP with a per-session secret on every OS (``samcut.plugin.transport``):
whoever can read the secret is this user, so the folder is the whole peer check. Per OS:

- Linux: ``$XDG_RUNTIME_DIR/samcut`` (the login session's tmpfs, 0700 by systemd), else
  ``<tmp>/samcut-<uid>``; created 0700, and refused unless it is a real folder of this user with
  no access for group or others (another user may have made ``/tmp/samcut-1000`` first).
- macOS: the same rule; ``<tmp>`` is ``$TMPDIR``, a per-user ``/var/folders/...`` folder.
- Windows: ``%LOCALAPPDATA%\\samcut\\host``: the user's profile, readable by the user (and
  SYSTEM and administrators) only, by the access list every folder there inherits. Modes mean
  nothing there; the check is that it is a real folder, not a link elsewhere. That the inherited
  access list really keeps other users out only a run on Windows proves.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Mapping

HOST_FOLDER_NAME = "samcut"


def this_user_id() -> int | None:
    """The user id this process runs as (POSIX), or None where there are none (Windows)."""
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else None


def host_folder(system: str = sys.platform, environ: Mapping[str, str] | None = None) -> str:
    """The per-user folder of the host bridge's endpoint file (see the module's docstring); not
    created here (``ensure_private_folder`` creates and checks it)."""
    environ = os.environ if environ is None else environ
    if system == "win32":
        base = environ.get("LOCALAPPDATA") or tempfile.gettempdir()
        return os.path.join(base, HOST_FOLDER_NAME, "host")
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, HOST_FOLDER_NAME)
    return os.path.join(tempfile.gettempdir(), f"{HOST_FOLDER_NAME}-{this_user_id() or 0}")


def ensure_private_folder(path: str, system: str = sys.platform) -> str:
    """Create ``path`` (mode 0700) if needed and check that it is a real folder (not a link) that
    only this user can enter; ``PermissionError`` saying why otherwise. POSIX: owned by this user,
    no bits for group or others. Windows: a real folder, not a symbolic link or junction (its
    access list is inherited from the user's profile, see the module's docstring)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or getattr(info, "st_reparse_tag", 0):  # (Windows: a junction)
        raise PermissionError(f"{path} is not a folder: refusing to use it for samcut's host bridge")
    me = this_user_id()
    if system != "win32" and me is not None and (info.st_uid != me or info.st_mode & 0o077):
        raise PermissionError(f"{path} belongs to another user or is open to others (mode "
                              f"{stat.S_IMODE(info.st_mode):o}): refusing to use it for samcut's host bridge")
    return path
