"""Start samcut from Krita without blocking Krita, and without a console window on Windows.

Qt-free (the Qt classes come in as arguments), so it is tested outside Krita. Written for the
oldest Python a supported Krita embeds (3.8): no ``X | Y`` or ``list[str]`` evaluated at runtime.

- POSIX: a ``QProcess`` (asynchronous, as before).
- Windows: Krita is a GUI program, so a console program it starts (``samcut-cli.exe``,
  ``samcut.exe`` from pip, ``python.exe``) opens a console window. ``QProcess`` could hide it only
  through ``setCreateProcessArgumentsModifier``, which takes a C++ ``std::function`` that PyQt
  does not reliably expose; so on Windows samcut is started with ``subprocess.Popen`` and
  ``CREATE_NO_WINDOW``, and a Qt timer polls it (Krita's event loop never waits on samcut).

Either way ``on_finished(exit_code, stderr_text)`` is called once, on Krita's GUI thread; an
exit code of -1 means samcut could not be started (``stderr_text`` then says why).
"""

import os
import subprocess

from . import protocol

POLL_MS = 100  # how often the Windows runner looks whether samcut has ended


class QProcessRunner:
    """samcut in a ``QProcess`` (POSIX)."""

    def __init__(self, qprocess_class, qprocess_environment_class, on_finished):
        self._qprocess_class = qprocess_class
        self._environment_class = qprocess_environment_class
        self._on_finished = on_finished
        self.process = None

    def start(self, command, env, workdir):
        environment = self._environment_class()
        for key, value in env.items():
            environment.insert(key, value)
        self.process = self._qprocess_class()
        self.process.setProcessEnvironment(environment)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self.process.start(command[0], command[1:])

    def _error(self, _error):
        process = self.process
        if process is not None and process.state() == self._qprocess_class.NotRunning:
            self._finished(-1, 0)

    def _finished(self, exit_code, _status=None):
        process, self.process = self.process, None
        if process is None:  # already reported (errorOccurred and finished both fired)
            return
        stderr = bytes(process.readAllStandardError()).decode(errors="replace")
        if exit_code == -1 and not stderr.strip():
            stderr = "cannot start samcut: %s" % process.errorString()
        self._on_finished(exit_code, stderr)


class PolledRunner:
    """samcut as a ``subprocess.Popen`` with ``popen_options`` (Windows: ``CREATE_NO_WINDOW``),
    polled every ``POLL_MS`` through ``single_shot(ms, callback)`` (``QTimer.singleShot``).
    Its stderr goes to a file in the job's private folder, so a chatty samcut never blocks on a
    full pipe."""

    def __init__(self, single_shot, popen_options, on_finished):
        self._single_shot = single_shot
        self._popen_options = popen_options
        self._on_finished = on_finished
        self.process = None
        self._stderr_path = None

    def start(self, command, env, workdir):
        self._stderr_path = os.path.join(workdir, "samcut-stderr.txt")
        try:
            with open(self._stderr_path, "wb") as stderr:
                self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL, stderr=stderr, **self._popen_options)
        except (OSError, ValueError) as exc:
            self.process = None
            message = "cannot start samcut (%s): %s" % (" ".join(command), exc)
            self._single_shot(0, lambda: self._on_finished(-1, message))
            return
        self._single_shot(POLL_MS, self._poll)

    def _poll(self):
        process = self.process
        if process is None:
            return
        code = process.poll()
        if code is None:
            self._single_shot(POLL_MS, self._poll)
            return
        self.process = None
        try:
            with open(self._stderr_path, "rb") as fh:
                stderr = fh.read().decode(errors="replace")
        except OSError:
            stderr = ""
        self._on_finished(code, stderr)


def make_runner(platform, qt, on_finished):
    """The runner for ``platform`` (``sys.platform``); ``qt`` is the plug-in's ``qt_shim``."""
    if platform == "win32":
        return PolledRunner(qt.QTimer.singleShot, protocol.no_window_options(platform), on_finished)
    return QProcessRunner(qt.QProcess, qt.QProcessEnvironment, on_finished)
