"""Entry point of the PyInstaller bundle (every executable of it: packaging/targets.py)."""

import multiprocessing
import os
import sys

from samcut.cli.main import main

if __name__ == "__main__":
    # A windowed executable (Windows' samcut.exe) has no standard streams: Python sets them to None,
    # and a write to one (a progress bar, a message) would raise. Send them nowhere instead.
    for _name in ("stdout", "stderr"):
        if getattr(sys, _name) is None:
            setattr(sys, _name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    multiprocessing.freeze_support()  # samcut batch --workers N: a spawned worker runs its job, not main()
    sys.exit(main())
