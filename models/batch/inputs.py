"""What a batch works on: files, folders and globs made into one sorted list of images, each with
the path its outputs take under the output folder; and the deterministic split into shards."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from samcut.models.document.imageio import opened_formats


@dataclass(frozen=True)
class BatchInput:
    """One image of a batch: ``path`` as found, ``relative`` (POSIX, e.g. ``"trips/a.jpg"``) its
    place in the tree that the outputs mirror."""

    path: Path
    relative: str

    @property
    def stem(self) -> str:
        """``relative`` without its extension: outputs are named from it (``trips/a`` -> ``trips/a.png``)."""
        return str(PurePosixPath(self.relative).with_suffix(""))


def image_extensions() -> frozenset[str]:
    """Lower-case extensions (``".png"``) of the formats ``load_image`` opens: what folders and globs list."""
    opened = set(opened_formats())
    return frozenset(ext.lower() for ext, name in Image.registered_extensions().items() if name in opened)


def _listed(path: Path, extensions: frozenset[str], exclude: Path | None) -> bool:
    """A folder's or glob's file that is an image by name, not hidden, not under ``exclude``."""
    if path.name.startswith(".") or path.suffix.lower() not in extensions or not path.is_file():
        return False
    return exclude is None or not path.resolve().is_relative_to(exclude)


def _glob_root(pattern: str) -> Path:
    """The folder above a glob's first wildcard: matches are named relative to it."""
    parts = Path(pattern).parts
    fixed = [part for part in parts[:next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    return Path(*fixed) if fixed else Path(".")


def _expand(spec: str, recursive: bool, extensions: frozenset[str], exclude: Path | None) -> list[BatchInput]:
    """The images one command-line input names (``ValueError`` when it names none)."""
    path = Path(spec)
    if glob.has_magic(spec):
        root = _glob_root(spec)
        found = [Path(p) for p in glob.glob(spec, recursive=True)]
        listed = [BatchInput(p, p.relative_to(root).as_posix()) for p in found if _listed(p, extensions, exclude)]
        if not listed:
            raise ValueError(f"{spec}: matches no image")
        return listed
    if path.is_dir():
        found = path.rglob("*") if recursive else path.iterdir()
        return [BatchInput(p, p.relative_to(path).as_posix()) for p in found
                if _listed(p, extensions, exclude)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    if path.is_file():
        return [BatchInput(path, path.name)]  # named on its own: tried whatever its extension
    raise ValueError(f"{spec}: no such file or folder")


def list_inputs(specs: Sequence[str], recursive: bool = False, exclude: Path | None = None) -> list[BatchInput]:
    """Every image that ``specs`` (files, folders, globs) name, sorted by ``relative``, each once.

    A folder lists its images (by extension; all levels when ``recursive``), a glob its matching
    images (``**`` crosses folders), a file itself. Hidden files and anything under ``exclude``
    (the output folder) are left out. ``ValueError`` (a usage error) for an input that names
    nothing, and for two images whose outputs would be the same files (``a.jpg`` and ``a.png``
    side by side, or the same name under two inputs)."""
    extensions = image_extensions()
    exclude = exclude.resolve() if exclude is not None else None
    seen: dict[Path, BatchInput] = {}
    for spec in specs:
        for item in _expand(spec, recursive, extensions, exclude):
            seen.setdefault(item.path.resolve(), item)
    by_stem: dict[str, BatchInput] = {}
    for item in seen.values():
        other = by_stem.setdefault(item.stem.lower(), item)  # (case-insensitive file systems too)
        if other is not item:
            raise ValueError(f"{other.path} and {item.path} would write the same outputs ({item.stem}.*): "
                             "rename one or run them apart")
    return sorted(seen.values(), key=lambda item: item.relative)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``, shard ``I`` of ``N`` counted from 1 (``ValueError`` otherwise)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r} is not I/N (e.g. 1/3)") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: I must be 1 to N")
    return index, count


def shard_number(relative: str, count: int) -> int:
    """The shard (1..``count``) an image belongs to: a stable hash of its relative path, so that a
    shard keeps its images when others are added or removed, on any machine and Python."""
    digest = hashlib.sha256(relative.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(inputs: Iterable[BatchInput], index: int, count: int) -> list[BatchInput]:
    """The images of shard ``index`` of ``count`` (all of them for 1/1), in their order."""
    return [item for item in inputs if count == 1 or shard_number(item.relative, count) == index]


def file_signature(path: Path) -> tuple[int, int]:
    """``(size, mtime_ns)`` of ``path``: what says an input has not changed since it was done."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns
