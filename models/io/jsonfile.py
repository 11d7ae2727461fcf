"""Reading a small JSON file that may be hostile or damaged: bounded in kind, size and nesting.

Preferences and model manifests are JSON files that samcut wrote, but anything may lie at their
path: a FIFO (opening it would wait for a writer for ever), a link to ``/dev/zero`` (reading it
would never end), a file of gigabytes, or JSON nested 100,000 levels deep (Python's parser stops
with ``RecursionError``, not ``ValueError``). ``read_json_file`` opens without blocking, takes
regular files only, reads at most ``max_bytes`` and measures the nesting before it parses, so
every such file becomes one ``JsonFileError`` with a one-line reason.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

DEFAULT_MAX_BYTES = 1 << 20
DEFAULT_MAX_DEPTH = 64

# a JSON string (escapes included), or a bracket outside of strings; linear on any input
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class JsonFileError(ValueError):
    """A JSON file is not what it should be (kind, size, nesting, syntax); the message says which, in one line."""


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _read_regular(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``path``'s bytes; ``JsonFileError`` unless it is a regular file
    that small. ``FileNotFoundError`` when there is nothing at ``path``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO opens at once instead of waiting for a writer
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise JsonFileError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)  # of what was opened, links followed: no race with a swap
        if not stat.S_ISREG(info.st_mode):
            raise JsonFileError(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise JsonFileError(f"{path} is {info.st_size / 1e6:.1f} MB, more than such a file can be "
                                f"({max_bytes / 1e6:.1f} MB)")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise JsonFileError(f"{path} cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise JsonFileError(f"{path} grew past {max_bytes / 1e6:.1f} MB while it was read")
    return data


def read_json_file(path: Path | str, max_bytes: int = DEFAULT_MAX_BYTES,
                   max_depth: int = DEFAULT_MAX_DEPTH) -> object:
    """The JSON value in the regular file ``path`` (UTF-8, a BOM allowed).

    Raises ``FileNotFoundError`` when nothing is at ``path``, and ``JsonFileError`` (a
    ``ValueError``) when it is not a regular file (FIFO, device, folder), holds more than
    ``max_bytes``, cannot be read, is not UTF-8 JSON, or nests arrays and objects deeper than
    ``max_depth``. Never blocks on a FIFO, never reads past ``max_bytes``.
    """
    path = Path(path)
    data = _read_regular(path, max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise JsonFileError(f"{path} is not UTF-8 text") from None
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonFileError(f"{path} nests {depth} levels deep, more than such a file can ({max_depth})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") \
            from None
    except (ValueError, RecursionError) as exc:  # (depth is checked above; this is a last guard)
        raise JsonFileError(f"{path} is not valid JSON ({exc.__class__.__name__})") from None
