"""The platform module's memory call: this machine's physical memory, one branch per OS. Import
``physical_memory`` from ``samcut.models.io.platform``.

Each branch turns the OS's raw answer into bytes through a small function that the tests call on
this machine (``parse_meminfo``, ``parse_sysctl_memsize``, ``memsize_from_sysctl_buffer``,
``total_from_memory_status``). That the OS fills them as documented (``GlobalMemoryStatusEx`` on
Windows, ``sysctlbyname("hw.memsize")`` on macOS) only a run on that OS proves.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def physical_memory(system: str = sys.platform) -> int | None:
    """This machine's physical memory in bytes, or None where it cannot be asked.

    Linux: ``MemTotal`` of ``/proc/meminfo``, or the memory limit of this process's control group
    where it is lower (a container: ``/proc/meminfo`` shows the host's). macOS: ``sysctlbyname("hw.memsize")``, else the
    ``sysctl -n hw.memsize`` command. Windows: ``GlobalMemoryStatusEx``. Anywhere, when those
    fail: ``os.sysconf`` pages times page size (POSIX)."""
    total: int | None = None
    with contextlib.suppress(OSError, AttributeError, ValueError):
        if system.startswith("linux"):
            with open("/proc/meminfo", encoding="ascii", errors="replace") as fh:
                total = parse_meminfo(fh.read())
            with open("/proc/self/cgroup", encoding="ascii", errors="replace") as fh:
                limit = cgroup_memory_limit(fh.read(), Path("/sys/fs/cgroup"))
            if total and limit:
                total = min(total, limit)  # a container's limit, not the host's memory
        elif system == "darwin":
            total = _macos_sysctlbyname() or _macos_sysctl_command()
        elif system == "win32":
            total = total_from_memory_status(_windows_global_memory_status)
    return total or _sysconf_total()


def parse_meminfo(text: str) -> int | None:
    """Bytes of the ``MemTotal:  16318412 kB`` line of Linux's ``/proc/meminfo`` text (its
    ``kB`` are KiB), or None without a readable one."""
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == "MemTotal":
            fields = rest.split()
            scale = {("kB",): 1024, (): 1}.get(tuple(fields[1:]))
            if fields and fields[0].isdigit() and scale is not None:
                return int(fields[0]) * scale or None
            return None
    return None


UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63


def cgroup_memory_limit(proc_self_cgroup: str, root: Path) -> int | None:
    """The tightest memory limit in bytes on this process's control group and its parents, read
    under ``root`` (``/sys/fs/cgroup``): cgroup v2's ``memory.max`` for the ``0::/path`` line of
    ``/proc/self/cgroup`` (``proc_self_cgroup``), cgroup v1's ``memory/…/memory.limit_in_bytes``
    for its ``memory`` line. None without a limit ("max", or v1's near-2**63 number)."""
    limits: list[int] = []
    for line in proc_self_cgroup.splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        parts = [p for p in path.strip().split("/") if p and p not in (".", "..")]
        for depth in range(len(parts), -1, -1):
            try:
                text = (base.joinpath(*parts[:depth]) / name).read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if text.isdigit() and 0 < int(text) < UNLIMITED:
                limits.append(int(text))
    return min(limits) if limits else None


def parse_sysctl_memsize(output: bytes | str) -> int | None:
    """Bytes from ``sysctl -n hw.memsize``'s output (one decimal number), or None."""
    text = output.decode("ascii", "replace") if isinstance(output, bytes) else output
    text = text.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def memsize_from_sysctl_buffer(raw: bytes) -> int | None:
    """Bytes from the buffer ``sysctlbyname("hw.memsize")`` fills: one ``uint64_t`` in the
    machine's byte order; None when it is not 8 bytes or 0."""
    if len(raw) != 8:
        return None
    return struct.unpack("=Q", raw)[0] or None


class MemoryStatusEx(ctypes.Structure):
    """Windows' ``MEMORYSTATUSEX``: a ``DWORD`` length (which the caller sets to this struct's
    size, 64 bytes), a ``DWORD`` load percentage, then seven ``DWORDLONG`` byte counts. Fixed-width
    types, so that the layout is Windows' on every OS the tests run on."""

    _fields_ = [("dwLength", ctypes.c_uint32), ("dwMemoryLoad", ctypes.c_uint32),
                ("ullTotalPhys", ctypes.c_uint64), ("ullAvailPhys", ctypes.c_uint64),
                ("ullTotalPageFile", ctypes.c_uint64), ("ullAvailPageFile", ctypes.c_uint64),
                ("ullTotalVirtual", ctypes.c_uint64), ("ullAvailVirtual", ctypes.c_uint64),
                ("ullAvailExtendedVirtual", ctypes.c_uint64)]


def total_from_memory_status(fill: Callable[[MemoryStatusEx], bool]) -> int | None:
    """``ullTotalPhys`` after ``fill`` (``GlobalMemoryStatusEx`` on Windows) filled a
    ``MEMORYSTATUSEX`` whose length field says its size; None when ``fill`` reports failure."""
    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not fill(status):
        return None
    return int(status.ullTotalPhys) or None


def _windows_global_memory_status(status: MemoryStatusEx) -> bool:
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    return bool(kernel32.GlobalMemoryStatusEx(ctypes.byref(status)))


def _macos_sysctlbyname() -> int | None:
    libc = ctypes.CDLL("/usr/lib/libSystem.dylib", use_errno=True)
    buffer = ctypes.create_string_buffer(8)
    size = ctypes.c_size_t(8)
    if libc.sysctlbyname(b"hw.memsize", buffer, ctypes.byref(size), None, ctypes.c_size_t(0)) != 0:
        return None
    return memsize_from_sysctl_buffer(buffer.raw[:size.value])


def _macos_sysctl_command() -> int | None:
    try:
        done = subprocess.run(["/usr/sbin/sysctl", "-n", "hw.memsize"], capture_output=True,  # noqa: S603
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_sysctl_memsize(done.stdout) if done.returncode == 0 else None


def _sysconf_total() -> int | None:
    try:
        total = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None
    return total if total > 0 else None
