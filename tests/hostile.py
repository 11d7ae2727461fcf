"""A checkpoint whose pickle would run a shell command: what the loaders must refuse, unrun."""

from __future__ import annotations

import os
from pathlib import Path


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # noqa: ANN204 - pickle's protocol
        return (os.system, (f"touch {self.marker}",))


def hostile_checkpoint(folder: Path, legacy: bool = False) -> tuple[Path, Path]:
    """Write ``evil.pt`` (a tensor beside an ``os.system`` call) into ``folder``; returns it and the
    marker file that exists only if the call ever ran."""
    import torch

    marker, path = folder / "pwned", folder / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": _RunsACommand(marker)}, path, _use_new_zipfile_serialization=not legacy)
    return path, marker
