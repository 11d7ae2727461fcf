"""Every OS-specific call samcut makes, one branch per OS (the rest of samcut asks here).

Here: starting a process that outlives its parent without holding the parent's pipes
(``spawn_detached``), the command that runs samcut itself (``samcut_argv``), whether a
process still exists (``process_alive``), and a thread that yields the CPU to every other
(``yield_this_thread``). In sibling modules, imported from here: files (binary opens,
replace with retry, removal, file locks, private folders: ``platform_files``), physical memory
(``platform_memory``) and the host bridge's private per-user folder (``platform_sockets``).

Nothing else in samcut calls ``os.kill``, ``fcntl``, ``msvcrt``, ``os.getuid``, ``AF_UNIX`` or
``SO_PEERCRED`` (tests/test_architecture.py keeps it so).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from samcut.models.io.platform_files import (
    PRIVATE_FILE_MODE,
    PRIVATE_FOLDER_MODE,
    binary_flags,
    make_private_folder,
    open_binary,
    remove_file,
    replace_file,
    try_lock_file,
    unlock_file,
)
from samcut.models.io.platform_memory import physical_memory
from samcut.models.io.platform_sockets import (
    ensure_private_folder,
    host_folder,
    this_user_id,
)

__all__ = [
    "IS_LINUX", "IS_WINDOWS", "PRIVATE_FILE_MODE", "PRIVATE_FOLDER_MODE", "binary_flags", "ensure_private_folder",
    "host_folder", "make_private_folder", "open_binary", "physical_memory",
    "process_alive", "remove_file", "replace_file", "samcut_argv", "spawn_detached", "this_user_id",
    "try_lock_file", "unlock_file", "yield_this_thread", "BACKGROUND_NICE",
]

IS_WINDOWS = sys.platform == "win32"
IS_LINUX = sys.platform.startswith("linux")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (the writer of a temp file or work folder named after it).

    Linux: ``/proc/PID``. Windows: ``OpenProcess`` and its exit code (``os.kill`` there would end
    the process, not probe it). Other POSIX systems (macOS): signal 0, which only asks."""
    if pid <= 0:
        return False
    if IS_LINUX:
        return os.path.exists(f"/proc/{pid}")
    if IS_WINDOWS:
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)  # POSIX: signal 0 delivers nothing, it only checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _windows_process_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists, someone else's
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


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
    fd = open_binary(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
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


BACKGROUND_NICE = 10  # Linux: the quality model's encoder (``yield_this_thread``)


def yield_this_thread() -> bool:
    """Let the calling thread run after the threads that want the CPU now (the quality model's
    background encoder: strokes and hover decodes must not wait for it), and still progress on a
    busy machine. Returns whether threads it starts from now on inherit that (then its ONNX Runtime
    pool may have several threads).

    Linux: nice ``BACKGROUND_NICE`` (10) for this thread; a new thread copies its creator's nice
    value. A thread at nice 0 gets about 90% of a core it shares with it (CFS weights 1024 : 110),
    and beside a busy process it still gets about a tenth (nice 19 would get 1.5%: two CPU hogs
    turned SAM 2.1 tiny's 2.3 s encode into minutes; ``SCHED_IDLE`` would starve it altogether).
    Windows: ``THREAD_PRIORITY_LOWEST`` (not inherited; Windows lifts a starved thread now and
    then). macOS: the utility QoS class (not inherited). Best effort: a refusal leaves the thread
    as it was."""
    try:
        if IS_LINUX:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)  # (a thread id: that thread)
            return True
        import ctypes

        if IS_WINDOWS:
            kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
            kernel32.SetThreadPriority(kernel32.GetCurrentThread(), -2)  # THREAD_PRIORITY_LOWEST
        elif sys.platform == "darwin":
            libc = ctypes.CDLL("/usr/lib/libSystem.dylib")
            libc.pthread_set_qos_class_self_np(0x11, 0)  # QOS_CLASS_UTILITY
    except (OSError, AttributeError):
        pass
    return False
