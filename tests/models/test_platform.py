"""The platform module: every OS-specific call, tested where this OS can run it.

The Linux branches run for real here. The Windows and macOS branches are tested through their
seams, with the OS's raw answer faked: the struct Windows fills (``MEMORYSTATUSEX``), the buffer
and command output macOS gives for ``hw.memsize``, the folders each OS gives the host bridge.
That those OSes really answer so (``GlobalMemoryStatusEx``, ``sysctlbyname``, ``OpenProcess``,
``msvcrt.locking``, ``O_BINARY``, the access list of ``%LOCALAPPDATA%``) only a run there proves.
"""

from __future__ import annotations

import ctypes
import os
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from samcut.models.io import platform, platform_files, platform_memory, platform_sockets
from samcut.models.io.atomic import atomic_write


def test_process_alive_asks_without_touching() -> None:
    """The one liveness check (``platform.process_alive``): this process is alive, a finished child
    is not, and asking never signals anything."""
    from samcut.models.io.platform import process_alive

    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid) and not process_alive(0) and not process_alive(-1)


def test_asking_whether_a_process_lives_leaves_it_running() -> None:
    """Asked many times, a running child stays running (on Windows ``os.kill(pid, 0)`` would have
    ended it); once killed and reaped, it is reported gone."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert all(platform.process_alive(child.pid) for _ in range(20))
        with pytest.raises(subprocess.TimeoutExpired):  # a signal would have ended it well within this
            child.wait(timeout=1)
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
    assert not platform.process_alive(child.pid)


# ---- the install lock -------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from samcut.models.store.lock import install_lock
    with install_lock(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(120)
""")


def _start_holder(folder: Path) -> subprocess.Popen:
    """A process that holds ``folder``'s install lock until it is killed (returned once it holds it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_the_install_lock_excludes_another_process_until_it_dies(tmp_path) -> None:
    """Another process holding the lock: ``wait=False`` raises ``InstallBusy``; a waiting install
    says so and gets the lock once that process is killed (the OS releases it with the process)."""
    from samcut.models.store.lock import InstallBusy, install_lock

    holder = _start_holder(tmp_path)
    try:
        with pytest.raises(InstallBusy, match="another samcut is installing"), install_lock(tmp_path, wait=False):
            pass
        waiting, got = threading.Event(), threading.Event()
        said: list[str] = []

        def second() -> None:
            with install_lock(tmp_path, say=lambda m: (said.append(m), waiting.set())):
                got.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(30) and not got.is_set()
    finally:
        holder.kill()
        holder.wait()
    thread.join(30)
    assert got.is_set() and "waiting" in said[0]
    with install_lock(tmp_path, wait=False):  # free again
        pass


def test_the_lock_is_held_per_open_file_and_released_by_unlock(tmp_path) -> None:
    """``try_lock_file`` on two opens of one file: the second is refused while the first holds it,
    and takes it after ``unlock_file``."""
    first = platform.open_binary(tmp_path / "lock", os.O_RDWR | os.O_CREAT)
    second = platform.open_binary(tmp_path / "lock", os.O_RDWR | os.O_CREAT)
    try:
        assert platform.try_lock_file(first)
        assert not platform.try_lock_file(second)
        platform.unlock_file(first)
        assert platform.try_lock_file(second)
    finally:
        os.close(first)
        os.close(second)


# ---- replace with retry, removal, binary opens, private folders --------------------------------

def _failing_replace(monkeypatch, failures: int) -> list[tuple[str, str]]:
    """Make ``os.replace`` raise ``PermissionError`` (as Windows does while a scanner holds the
    file) on its first ``failures`` calls; returns the calls made."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace(source, target) -> None:
        calls.append((str(source), str(target)))
        if len(calls) <= failures:
            raise PermissionError(13, "The process cannot access the file", str(target))
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_an_atomic_write_waits_out_a_file_held_open_for_a_moment(tmp_path, monkeypatch) -> None:
    target = tmp_path / "prefs.json"
    target.write_bytes(b"old")
    calls = _failing_replace(monkeypatch, failures=2)
    atomic_write(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"new" and len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prefs.json"]


def test_a_file_held_open_for_good_fails_the_write_and_leaves_the_old_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "prefs.json"
    target.write_bytes(b"old")
    calls = _failing_replace(monkeypatch, failures=100)
    with pytest.raises(PermissionError) as caught:
        atomic_write(target, lambda fh: fh.write(b"new"))
    assert caught.value.filename == str(target)  # named as the user knows it, not the temp file
    assert len(calls) == len(platform_files.REPLACE_WAITS_S) + 1
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["prefs.json"]


def test_replace_file_tries_only_permission_errors_again(tmp_path, monkeypatch) -> None:
    calls = _failing_replace(monkeypatch, failures=2)
    with pytest.raises(PermissionError):
        platform.replace_file(tmp_path / "a", tmp_path / "b", waits=(0.0,))  # two failures, two tries
    assert len(calls) == 2
    with pytest.raises(FileNotFoundError):  # a missing source is said at once
        platform.replace_file(tmp_path / "missing", tmp_path / "b", waits=(0.0, 0.0, 0.0))
    assert len(calls) == 3


def test_remove_file_says_whether_the_file_is_gone(tmp_path, monkeypatch) -> None:
    present = tmp_path / "cached.npz"
    present.write_bytes(b"x")
    assert platform.remove_file(present) and not present.exists()
    assert platform.remove_file(tmp_path / "never-there")

    def held_open(_path) -> None:
        raise PermissionError(13, "in use")  # Windows, while another process has it open

    present.write_bytes(b"x")
    monkeypatch.setattr(os, "unlink", held_open)
    assert not platform.remove_file(present)


def test_the_download_part_file_is_opened_binary() -> None:
    """The part file's flags carry ``O_BINARY`` where the OS has one (Windows: without it, bytes
    that look like line ends would be translated and the hash would never match)."""
    from samcut.models.store.download import part_open_flags

    binary = getattr(os, "O_BINARY", 0)
    assert part_open_flags(append=True) == os.O_WRONLY | os.O_CREAT | os.O_APPEND | binary
    assert part_open_flags(append=False) == os.O_WRONLY | os.O_CREAT | os.O_TRUNC | binary
    assert platform.binary_flags(os.O_RDONLY) & binary == binary


def test_the_binary_flag_is_added_where_the_os_has_one(monkeypatch) -> None:
    monkeypatch.setattr(os, "O_BINARY", 0x8000, raising=False)  # Windows' value
    assert platform.binary_flags(os.O_WRONLY) == os.O_WRONLY | 0x8000


@pytest.mark.skipif(sys.platform == "win32", reason="modes mean nothing on Windows")
def test_a_private_folder_is_the_users_alone(tmp_path) -> None:
    folder = platform.make_private_folder(tmp_path / "a" / "cache")
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700


# ---- physical memory --------------------------------------------------------------------------

MEMINFO = "MemTotal:       16318412 kB\nMemFree:         1234567 kB\nMemAvailable:    9876543 kB\n"


def test_physical_memory_on_linux_is_meminfos_total() -> None:
    assert platform_memory.parse_meminfo(MEMINFO) == 16318412 * 1024
    assert platform_memory.parse_meminfo("MemFree: 12 kB\n") is None
    assert platform_memory.parse_meminfo("MemTotal: lots\n") is None
    assert platform_memory.parse_meminfo("MemTotal: 12 MB\n") is None  # a unit meminfo never uses
    if sys.platform.startswith("linux"):
        with open("/proc/meminfo") as fh:
            total = platform_memory.parse_meminfo(fh.read())
        with open("/proc/self/cgroup") as fh:
            limit = platform_memory.cgroup_memory_limit(fh.read(), Path("/sys/fs/cgroup"))
        assert platform.physical_memory() == min(total, limit or total) > 0


def test_a_containers_memory_limit_is_its_memory(tmp_path) -> None:
    """cgroup v2 (``0::/path``, ``memory.max``) and v1 (``memory`` controller,
    ``memory.limit_in_bytes``), the tightest limit of the group and its parents; "max" and v1's
    near-2**63 "unlimited" are no limit."""
    v2 = tmp_path / "v2"
    (v2 / "user.slice" / "app").mkdir(parents=True)
    (v2 / "memory.max").write_text("max\n")
    (v2 / "user.slice" / "memory.max").write_text(f"{8 << 30}\n")
    (v2 / "user.slice" / "app" / "memory.max").write_text("max\n")
    assert platform_memory.cgroup_memory_limit("0::/user.slice/app\n", v2) == 8 << 30
    (v2 / "user.slice" / "memory.max").write_text("max\n")
    assert platform_memory.cgroup_memory_limit("0::/user.slice/app\n", v2) is None
    v1 = tmp_path / "v1"
    (v1 / "memory" / "docker" / "abc").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (v1 / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text(f"{3 << 30}\n")
    text = "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n"
    assert platform_memory.cgroup_memory_limit(text, v1) == 3 << 30
    assert platform_memory.cgroup_memory_limit("4:memory:/docker/abc\n", tmp_path / "none") is None


def test_physical_memory_on_macos_reads_hw_memsize(monkeypatch) -> None:
    """The macOS branch: ``sysctlbyname`` fills 8 bytes (native ``uint64``); when that fails, the
    ``sysctl -n hw.memsize`` command (an argument vector, no shell) is asked instead."""
    sixteen = 16 << 30
    assert platform_memory.memsize_from_sysctl_buffer(struct.pack("=Q", sixteen)) == sixteen
    assert platform_memory.memsize_from_sysctl_buffer(b"\0" * 4) is None
    assert platform_memory.parse_sysctl_memsize(b"17179869184\n") == sixteen
    assert platform_memory.parse_sysctl_memsize(b"sysctl: unknown oid\n") is None
    monkeypatch.setattr(platform_memory, "_macos_sysctlbyname", lambda: None)
    ran: list[list[str]] = []

    def run(argv, **options) -> subprocess.CompletedProcess:
        ran.append(argv)
        assert "shell" not in options
        return subprocess.CompletedProcess(argv, 0, stdout=b"17179869184\n", stderr=b"")

    monkeypatch.setattr(subprocess, "run", run)
    assert platform.physical_memory("darwin") == sixteen
    assert ran == [["/usr/sbin/sysctl", "-n", "hw.memsize"]]


def test_physical_memory_on_windows_reads_global_memory_status(monkeypatch) -> None:
    """The Windows branch: a ``MEMORYSTATUSEX`` of Windows' 64 bytes, its length set before the
    call, ``ullTotalPhys`` read after it; a failed call falls back instead of guessing."""
    assert ctypes.sizeof(platform_memory.MemoryStatusEx) == 64
    assert platform_memory.MemoryStatusEx.ullTotalPhys.offset == 8

    def fill(status: platform_memory.MemoryStatusEx) -> bool:
        assert status.dwLength == 64
        status.ullTotalPhys = 32 << 30
        return True

    monkeypatch.setattr(platform_memory, "_windows_global_memory_status", fill)
    assert platform.physical_memory("win32") == 32 << 30
    assert platform_memory.total_from_memory_status(lambda _status: False) is None


def test_physical_memory_falls_back_to_sysconf_where_the_os_way_fails(monkeypatch) -> None:
    def refuse(_status) -> bool:
        raise OSError("no kernel32 here")

    monkeypatch.setattr(platform_memory, "_windows_global_memory_status", refuse)
    monkeypatch.setattr(platform_memory, "_sysconf_total", lambda: 8 << 30)
    assert platform.physical_memory("win32") == 8 << 30
    monkeypatch.setattr(platform_memory, "_sysconf_total", lambda: None)
    assert platform.physical_memory("win32") is None  # the budget then says it uses its default


# ---- the host bridge's private folder ------------------------------------------------------------

def test_the_host_folder_is_per_user_on_each_os(monkeypatch, tmp_path) -> None:
    """Linux/macOS: ``$XDG_RUNTIME_DIR/samcut``, else ``<tmp>/samcut-<uid>``; Windows: the user's
    ``%LOCALAPPDATA%\\samcut\\host`` (private by its inherited access list: only a run there proves
    that), whatever ``XDG_RUNTIME_DIR`` says."""
    monkeypatch.setattr(platform_sockets.tempfile, "gettempdir", lambda: str(tmp_path))
    uid = platform.this_user_id() or 0
    assert platform.host_folder("linux", {"XDG_RUNTIME_DIR": "/run/user/7"}) == os.path.join("/run/user/7", "samcut")
    assert platform.host_folder("darwin", {}) == os.path.join(str(tmp_path), f"samcut-{uid}")
    local = "C:\\Users\\ann\\AppData\\Local"
    assert platform.host_folder("win32", {"LOCALAPPDATA": local, "XDG_RUNTIME_DIR": "/run/user/7"}) == \
        os.path.join(local, "samcut", "host")
    assert platform.host_folder("win32", {}) == os.path.join(str(tmp_path), "samcut", "host")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_private_folder_is_refused_when_open_to_others_or_a_link(tmp_path) -> None:
    folder = str(tmp_path / "host")
    assert platform.ensure_private_folder(folder) == folder
    assert os.stat(folder).st_mode & 0o777 == 0o700
    os.chmod(folder, 0o750)
    with pytest.raises(PermissionError, match="open to others"):
        platform.ensure_private_folder(folder)
    assert platform.ensure_private_folder(folder, system="win32") == folder  # modes mean nothing there
    os.symlink(tmp_path, tmp_path / "link")
    for system in ("linux", "win32"):
        with pytest.raises(PermissionError, match="not a folder"):
            platform.ensure_private_folder(str(tmp_path / "link"), system=system)


def test_a_windows_junction_is_not_taken_for_the_folder(tmp_path, monkeypatch) -> None:
    """Windows reports a directory junction as a folder with a reparse tag (``st_reparse_tag``,
    IO_REPARSE_TAG_MOUNT_POINT): it may lead anywhere, so it is refused like a link (faked here)."""
    folder = platform.ensure_private_folder(str(tmp_path / "host"))
    real_lstat = os.lstat

    class Junction:
        def __init__(self, info: os.stat_result) -> None:
            self.st_mode, self.st_uid, self.st_reparse_tag = info.st_mode, info.st_uid, 0xA0000003

    monkeypatch.setattr(platform_sockets.os, "lstat", lambda path: Junction(real_lstat(path)))
    with pytest.raises(PermissionError, match="not a folder"):
        platform.ensure_private_folder(folder, system="win32")
