"""How the Krita plug-in starts samcut (``samcut_krita/runner.py``), outside Krita: a QProcess on
POSIX, a polled ``Popen`` with ``CREATE_NO_WINDOW`` on Windows; either way one ``on_finished``
with the exit code and samcut's stderr, and Krita's event loop never waits on samcut."""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
import types

import pytest

from samcut.cli import plugins_cmd
from samcut.plugin.locations import Machine


@pytest.fixture()
def runner(tmp_path, monkeypatch):
    """``samcut_krita.runner`` as installed (with its copy of protocol.py), imported afresh."""
    home = tmp_path / "home"
    plugins_cmd.install_krita(Machine("linux", {}, home), ["/opt/samcut"])
    for name in [n for n in sys.modules if n == "samcut_krita" or n.startswith("samcut_krita.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(home / ".local/share/krita/pykrita"))
    module = importlib.import_module("samcut_krita.runner")
    yield module
    for name in [n for n in sys.modules if n == "samcut_krita" or n.startswith("samcut_krita.")]:
        sys.modules.pop(name)


class Timer:
    """``QTimer.singleShot`` stand-in: callbacks queue up; ``drain`` runs them like an event loop
    would, waiting each one's interval (the poll period, not a guess at how long samcut takes)."""

    def __init__(self) -> None:
        self.queue: list = []

    def single_shot(self, ms, callback) -> None:
        self.queue.append((ms, callback))

    def drain(self, limit: int = 600) -> int:
        ticks = 0
        while self.queue and ticks < limit:
            ms, callback = self.queue.pop(0)
            threading.Event().wait(ms / 1000)
            callback()
            ticks += 1
        return ticks


def test_windows_gets_the_polled_runner_with_no_console_window(runner, monkeypatch, tmp_path) -> None:
    timer = Timer()
    qt = types.SimpleNamespace(QTimer=types.SimpleNamespace(singleShot=timer.single_shot),
                               QProcess=None, QProcessEnvironment=None)
    chosen = runner.make_runner("win32", qt, lambda *a: None)
    assert isinstance(chosen, runner.PolledRunner)
    seen = {}

    class Popen:
        def __init__(self, command, **kwargs):
            seen.update(kwargs, command=command)

    monkeypatch.setattr(runner.subprocess, "Popen", Popen)
    chosen.start(["C:/Program Files/samcut/samcut-cli.exe", "host", "r.json"], {"A": "1"}, str(tmp_path))
    assert seen["creationflags"] == 0x08000000 and seen["command"][0] == "C:/Program Files/samcut/samcut-cli.exe"
    assert seen["stdin"] == subprocess.DEVNULL and seen["env"] == {"A": "1"}
    assert timer.queue and timer.queue[0][0] == runner.POLL_MS  # polled, not waited on
    assert isinstance(runner.make_runner("linux", types.SimpleNamespace(QProcess=object, QProcessEnvironment=dict,
                                                                        QTimer=None), print), runner.QProcessRunner)


def test_the_polled_runner_reports_exit_code_and_stderr_once(runner, tmp_path) -> None:
    timer, finished = Timer(), []
    polled = runner.PolledRunner(timer.single_shot, {}, lambda *result: finished.append(result))
    script = "import sys; sys.stderr.write('x' * 200000 + 'last line'); sys.exit(3)"  # more than a pipe holds
    polled.start([sys.executable, "-c", script], None, str(tmp_path))
    assert finished == []  # start returned while samcut runs
    timer.drain()
    assert len(finished) == 1 and finished[0][0] == 3 and finished[0][1].endswith("last line")
    assert polled.process is None and not timer.queue


def test_the_polled_runner_reports_a_program_that_cannot_start(runner, tmp_path) -> None:
    timer, finished = Timer(), []
    polled = runner.PolledRunner(timer.single_shot, {}, lambda *result: finished.append(result))
    polled.start([str(tmp_path / "no such samcut"), "host"], None, str(tmp_path))
    timer.drain()
    assert len(finished) == 1 and finished[0][0] == -1 and "cannot start samcut" in finished[0][1]


class Signal:
    def __init__(self) -> None:
        self.slots: list = []

    def connect(self, slot) -> None:
        self.slots.append(slot)

    def emit(self, *args) -> None:
        for slot in self.slots:
            slot(*args)


class FakeQProcess:
    """Records what the runner does with a QProcess; the test plays Qt's signals."""

    NotRunning = 0
    made: list = []

    def __init__(self) -> None:
        self.finished, self.errorOccurred = Signal(), Signal()
        self.state_now, self.stderr, self.started = 1, b"", None
        FakeQProcess.made.append(self)

    def setProcessEnvironment(self, env) -> None:  # noqa: N802 - Qt API
        self.env = env

    def start(self, program, arguments) -> None:
        self.started = (program, arguments)

    def state(self) -> int:
        return self.state_now

    def readAllStandardError(self) -> bytes:  # noqa: N802 - Qt API
        return self.stderr

    def errorString(self) -> str:  # noqa: N802 - Qt API
        return "No such file or directory"


class FakeEnvironment(dict):
    def insert(self, key, value) -> None:
        self[key] = value


def test_posix_keeps_the_qprocess_and_reports_once(runner) -> None:
    finished: list = []
    FakeQProcess.made.clear()
    qprocess = runner.QProcessRunner(FakeQProcess, FakeEnvironment, lambda *result: finished.append(result))
    qprocess.start(["/opt/my samcut", "host", "r.json"], {"HOME": "/h"}, "/w")
    process = FakeQProcess.made[0]
    assert process.started == ("/opt/my samcut", ["host", "r.json"]) and process.env == {"HOME": "/h"}
    process.stderr = b"samcut: done\n"
    process.state_now = 0
    process.errorOccurred.emit(1)  # Qt: crashed, then finished
    process.finished.emit(1, 1)
    assert finished == [(-1, "samcut: done\n")]
    qprocess.start(["/nowhere/samcut"], {}, "/w")
    failed = FakeQProcess.made[1]
    failed.state_now = 0
    failed.errorOccurred.emit(0)  # Qt: failed to start (no finished follows)
    assert finished[1] == (-1, "cannot start samcut: No such file or directory")
