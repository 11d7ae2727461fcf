"""Checksums: SHA-256 of files and git's blob SHA-1 (how the official MobileSAM checkpoint is pinned).

A *pin* is a hex digest; its length says which: 40 digits a git blob SHA-1, 64 a SHA-256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """Git's blob hash: SHA-1 over ``b"blob <size>\\0"`` followed by the file's bytes."""
    size = Path(path).stat().st_size
    digest = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pin_kind(pin: str) -> str:
    """``"git-blob SHA-1"`` or ``"SHA-256"``: what a pinned hex digest is, by its length."""
    if len(pin) == 40:
        return "git-blob SHA-1"
    if len(pin) == 64:
        return "SHA-256"
    raise ValueError(f"a pin is a 40-digit git blob SHA-1 or a 64-digit SHA-256, not {pin!r}")


def pinned_digest(path: Path, pin: str) -> str:
    """``path``'s digest of the kind ``pin`` is (to compare with it)."""
    return git_blob_sha1(path) if pin_kind(pin) == "git-blob SHA-1" else file_sha256(path)
