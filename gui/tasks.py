"""``TaskRunner``: background work for the window, on lanes, with results back on the GUI thread.

Every job runs on a named lane (``samcut-<lane>`` thread) and gets a ``threading.Event`` that is
set when the task is cancelled. Its ``done`` or ``failed`` callback runs on the GUI thread, and
whatever happens (result, exception, cancel) the task stops counting as busy: ``busyChanged``
always follows. Saving, opening images, writing preferences and installing models use it; the
engine's encode and decode lanes are the service's own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from samcut.models.io.lanes import Lane

Job = Callable[[threading.Event], Any]


@dataclass(eq=False)
class Task:
    """One submitted job: ``cancel()`` stops it (the job sees its event set); no callback runs then."""

    label: str
    done: Callable[[Any], None] | None
    failed: Callable[[BaseException], None] | None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    future: Future | None = None
    progress: Callable[[Any], None] | None = None

    def cancel(self) -> None:
        self.cancel_event.set()
        if self.future is not None:
            self.future.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


class TaskRunner(QObject):
    """Runs jobs on lanes; ``busyChanged(bool)`` when the first starts and the last ends."""

    busyChanged = Signal(bool)
    _finished = Signal(object)  # the Task, from a worker thread
    _progressed = Signal(object, object)  # the Task, what its job reported, from a worker thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lanes: dict[str, Lane] = {}
        self._active: set[Task] = set()
        self._shut = False  # after shutdown: jobs run at once, on the caller's thread (no new threads)
        self._finished.connect(self._on_finished)
        self._progressed.connect(self._on_progress)

    @property
    def busy(self) -> bool:
        return bool(self._active)

    def active(self, label: str | None = None) -> list[Task]:
        return [t for t in self._active if label is None or t.label == label]

    def run(self, lane: str, job: Job, done: Callable[[Any], None] | None = None,
            failed: Callable[[BaseException], None] | None = None, label: str = "",
            progress: Callable[[Any], None] | None = None) -> Task:
        """Start ``job(cancel_event)`` on ``lane``; ``done(result)`` or ``failed(exception)`` follows
        on the GUI thread. With ``progress``, the job is called as ``job(cancel_event, report)``
        and each ``report(value)`` from its thread reaches ``progress(value)`` on the GUI thread
        (until the task ends or is cancelled)."""
        if self._shut:  # (a late callback of the closed window, e.g. a preferences write: done now, no thread)
            self._lanes.setdefault(lane, Lane(lane, inline=True))
        elif lane not in self._lanes:
            self._lanes[lane] = Lane(lane)
        task = Task(label or lane, done, failed, progress=progress)
        if progress is not None:
            reporting_job = job
            job = lambda event: reporting_job(event, lambda value: self._progressed.emit(task, value))  # noqa: E731
        was_busy = self.busy
        self._active.add(task)
        if not was_busy:
            self.busyChanged.emit(True)
        task.future = self._lanes[lane].submit(job, task.cancel_event)
        task.future.add_done_callback(lambda _f: self._finished.emit(task))
        return task

    def _on_progress(self, task: Task, value: object) -> None:
        if task in self._active and not task.cancelled and task.progress is not None:
            task.progress(value)

    def _on_finished(self, task: Task) -> None:
        try:
            future = task.future
            if task.cancelled or future is None or future.cancelled():
                return
            error = future.exception()
            if error is None:
                if task.done is not None:
                    task.done(future.result())
            elif task.failed is not None:
                task.failed(error)
        finally:
            self._active.discard(task)
            if not self._active:
                self.busyChanged.emit(False)

    def wait(self) -> None:
        """Block until every lane is idle (tests; closing the window)."""
        for task in list(self._active):
            if task.future is not None:
                try:
                    task.future.exception()
                except BaseException:  # noqa: BLE001, S110 - cancelled: nothing to wait for
                    pass

    def shutdown(self) -> None:
        """Wait for running jobs, drop queued ones and stop the lanes' threads; later jobs run at once
        on the caller's thread (a callback queued before the window closed must not start a thread
        that nothing would ever stop)."""
        self._shut = True
        for lane in self._lanes.values():
            lane.shutdown(wait=True)
        self._lanes.clear()
