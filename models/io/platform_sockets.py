"""The platform module's local-socket calls: connecting to a Unix-domain socket and asking who
runs the process at its other end. Import them from ``samcut.models.io.platform``.

Peer check, per OS: Linux ``SO_PEERCRED`` (``struct ucred``: pid, uid, gid); macOS
``LOCAL_PEERCRED`` (``struct xucred``: version, uid, group count, 16 groups); elsewhere the
socket's private folder is the only check. Windows' Python has no ``AF_UNIX`` (hosts use
another transport there, ``local_sockets_available`` says so). The macOS branch is tested with
a fake kernel answer; that the kernel fills ``xucred`` that way only a run on macOS proves.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

UCRED_FORMAT = "3i"
"""Linux ``struct ucred``: ``pid_t pid; uid_t uid; gid_t gid`` (three 32-bit ints)."""
XUCRED_FORMAT = "@IIh16I"
"""macOS ``struct xucred``: ``u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t
cr_groups[16]`` in native alignment (two bytes of padding before the groups: 76 bytes)."""
XUCRED_VERSION = 0
SOL_LOCAL = 0       # macOS <sys/un.h>: the level of local-socket options
LOCAL_PEERCRED = 1  # macOS <sys/un.h>: the peer's credentials, a struct xucred


def local_sockets_available() -> bool:
    """Whether this Python can use Unix-domain sockets (not on Windows' CPython). Asked at each
    call, so that a test can take ``AF_UNIX`` away."""
    return hasattr(socket, "AF_UNIX")


def connect_local_socket(address: str, timeout: float | None = None) -> socket.socket:
    """A stream socket connected to the Unix-domain socket at ``address`` (a path), with
    ``timeout`` seconds for the connect and later calls (None: blocking). ``OSError`` when
    nothing listens there or this OS has no such sockets; no descriptor is left open then."""
    family = getattr(socket, "AF_UNIX", None)
    if family is None:
        raise OSError(f"this system has no local (Unix-domain) sockets to reach {address}")
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def this_user_id() -> int | None:
    """The user id this process runs as (POSIX), or None where there are none (Windows)."""
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else None


def uid_from_ucred(raw: bytes) -> int | None:
    """The uid in a Linux ``struct ucred`` as ``getsockopt(SO_PEERCRED)`` returns it, or None."""
    if len(raw) != struct.calcsize(UCRED_FORMAT):
        return None
    return struct.unpack(UCRED_FORMAT, raw)[1]


def uid_from_xucred(raw: bytes) -> int | None:
    """The uid in a macOS ``struct xucred`` as ``getsockopt(LOCAL_PEERCRED)`` returns it, or None
    when it is short or of another version."""
    size = struct.calcsize(XUCRED_FORMAT)
    if len(raw) < size:
        return None
    version, uid, *_groups = struct.unpack(XUCRED_FORMAT, raw[:size])
    return uid if version == XUCRED_VERSION else None


def peer_is_this_user(sock: socket.socket, system: str = sys.platform) -> bool:
    """Whether the process at the other end of the connected local socket ``sock`` runs as this
    user. Linux and macOS ask the kernel (an unreadable answer is False); other systems have no
    such question and the socket's private folder is the check (True)."""
    me = this_user_id()
    try:
        if system.startswith("linux") and hasattr(socket, "SO_PEERCRED"):
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize(UCRED_FORMAT))
            uid = uid_from_ucred(raw)
        elif system == "darwin":
            uid = uid_from_xucred(sock.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, struct.calcsize(XUCRED_FORMAT)))
        else:
            return True
    except OSError:
        return False
    return uid is not None and uid == me
