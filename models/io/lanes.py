"""Lanes: the one way samcut runs work in the background.

A ``Lane`` is one named worker thread (``samcut-<name>``) that runs its jobs in order; a job's
``Future`` can be cancelled while it waits, and a running job stops early if it watches the
``threading.Event`` it was given. The engine's encode and decode lanes, saving, opening and model
installs all use lanes, so every worker is a ``samcut-`` thread the tests can see. An inline lane
runs each job at once in the caller's thread (scripts and tests).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Lane:
    """Jobs run one at a time, in order, on the thread ``samcut-<name>`` (or inline)."""

    def __init__(self, name: str, inline: bool = False) -> None:
        self.name = name
        self.inline = inline
        self._pool = None if inline else ThreadPoolExecutor(1, thread_name_prefix=f"samcut-{name}")

    def submit(self, fn: Callable[..., Any], *args: object) -> Future:
        """Queue ``fn(*args)``; its future gives the result or the exception it raised."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the future like a real worker
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Drop queued jobs and stop the thread (waiting for a running job when ``wait``)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
