"""The batch manifest: one JSON line per image in the output folder, saying what was done with it.

Only the process that runs the batch writes it (workers hand their results back). Each finished
image is appended as one line and flushed to disk, so a run killed at any moment loses at most
the images in flight; a torn last line is ignored when read, and every run starts by rewriting
the file atomically with the newest entry of each image (dropping torn lines). A lock file keeps
two runs from writing the same manifest. Shards write ``manifest.shard-I-of-N.jsonl`` each;
``merge_manifests`` combines them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from samcut.models.io.atomic import atomic_write
from samcut.models.io.platform import open_binary, try_lock_file

MANIFEST = "manifest.jsonl"
SHARD_MANIFEST = re.compile(r"^manifest\.shard-(\d+)-of-(\d+)\.jsonl$")
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class Entry:
    """What became of one image. ``outputs``: files written, relative to the output folder (POSIX);
    ``size``/``mtime_ns``: the input when it was listed; ``model``: the model's identity;
    ``options``: everything else that decides the outputs; ``finished``: Unix time."""

    relative: str
    input: str
    size: int
    mtime_ns: int
    model: str
    options: dict = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    status: str = DONE
    error: str = ""
    seconds: float = 0.0
    finished: float = 0.0

    def to_line(self) -> str:
        """One JSON line (with its newline)."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: dict) -> Entry:
        """The entry a line held (``KeyError``/``TypeError`` when it is not one)."""
        return cls(**{**data, "outputs": tuple(data.get("outputs", ()))})

    def is_current(self, size: int, mtime_ns: int, model: str, options: dict, outputs: Iterable[str] | None,
                   out_dir: Path) -> bool:
        """Done with this very input, model, options and outputs (None: whichever it wrote), and
        every output still there."""
        wanted = self.outputs if outputs is None else tuple(outputs)
        return (self.status == DONE and (self.size, self.mtime_ns, self.model) == (size, mtime_ns, model)
                and self.options == options and self.outputs == wanted
                and all((out_dir / name).is_file() for name in wanted))


def manifest_name(shard: tuple[int, int] | None = None) -> str:
    """``manifest.jsonl``, or ``manifest.shard-I-of-N.jsonl`` for shard ``(I, N)`` with N > 1."""
    if shard is None or shard[1] == 1:
        return MANIFEST
    return f"manifest.shard-{shard[0]}-of-{shard[1]}.jsonl"


def read_entries(path: Path) -> dict[str, Entry]:
    """The newest entry of each image in the manifest at ``path`` (none when it is missing); lines
    that are not an entry (a line torn by a kill) are skipped."""
    entries: dict[str, Entry] = {}
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return entries
    for line in text.splitlines():
        try:
            entry = Entry.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
        entries[entry.relative] = entry
    return entries


def _write_all(path: Path, entries: Iterable[Entry]) -> None:
    text = "".join(entry.to_line() for entry in sorted(entries, key=lambda e: e.relative))
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


class ManifestWriter:
    """The one writer of a manifest: ``entries`` as read at open, ``record`` appends one more."""

    def __init__(self, out_dir: Path, name: str = MANIFEST) -> None:
        """Lock, read and rewrite ``out_dir / name`` (``ValueError`` while another run writes it)."""
        self.path = out_dir / name
        self._lock = open_binary(out_dir / f".{name}.lock", os.O_RDWR | os.O_CREAT)
        if not try_lock_file(self._lock):
            os.close(self._lock)
            raise ValueError(f"another samcut batch is writing {self.path}")
        self.entries = read_entries(self.path)
        _write_all(self.path, self.entries.values())  # (drops a torn last line before appending)
        self._fd = open_binary(self.path, os.O_WRONLY | os.O_APPEND)

    def record(self, entry: Entry) -> None:
        """Append ``entry`` as one line, on disk before this returns."""
        os.write(self._fd, entry.to_line().encode("utf-8"))
        os.fsync(self._fd)
        self.entries[entry.relative] = entry

    def close(self) -> None:
        """Release the manifest and its lock."""
        os.close(self._fd)
        os.close(self._lock)

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shard_manifests(out_dir: Path) -> list[Path]:
    """The shard manifests in ``out_dir``, sorted by name."""
    return sorted(p for p in out_dir.iterdir() if SHARD_MANIFEST.match(p.name))


def merge_manifests(out_dir: Path) -> dict[str, Entry]:
    """``manifest.jsonl`` and every shard manifest of ``out_dir`` combined into ``manifest.jsonl``
    (for an image in several, the entry finished last), rewritten atomically; the merged entries.
    ``ValueError`` when the folder holds no manifest."""
    sources = [p for p in (out_dir / MANIFEST, *shard_manifests(out_dir)) if p.is_file()] if out_dir.is_dir() else []
    if not sources:
        raise ValueError(f"--merge {out_dir}: no manifest there")
    merged: dict[str, Entry] = {}
    for source in sources:
        for relative, entry in read_entries(source).items():
            if relative not in merged or entry.finished >= merged[relative].finished:
                merged[relative] = entry
    with ManifestWriter(out_dir, MANIFEST) as writer:
        _write_all(writer.path, merged.values())
    return merged
