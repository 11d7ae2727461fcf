"""The platform module: every OS-specific call, tested where this OS can run it."""

from __future__ import annotations


def test_process_alive_asks_without_touching() -> None:
    """The one liveness check (``platform.process_alive``): this process is alive, a finished child
    is not, and asking never signals anything."""
    import os
    import subprocess
    import sys

    from samcut.models.io.platform import process_alive

    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid) and not process_alive(0) and not process_alive(-1)
