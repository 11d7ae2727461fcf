"""A model folder's ``manifest.json``, read bounded and checked for shape (no ONNX Runtime here:
``models list`` reads manifests too, and the window paints before ONNX Runtime is imported)."""

from __future__ import annotations

from pathlib import Path

from samcut.models.engine.errors import ModelError
from samcut.models.io.jsonfile import JsonFileError, read_json_file

MANIFEST_FILE = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20  # ours are about 1 kB
MAX_MANIFEST_DEPTH = 16
_SHA256_HEX = frozenset("0123456789abcdef")
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}
REINSTALL = "reinstall it with 'samcut models fetch' (custom weights: 'samcut models export FILE')"


def damaged(model_dir: Path, why: str) -> ModelError:
    """The one line for a manifest of the wrong shape: "model folder X is damaged (its manifest.json
    is not a valid samcut model manifest: WHY); reinstall it with ..."."""
    return ModelError(f"model folder {model_dir} is damaged (its {MANIFEST_FILE} is not a valid samcut model "
                      f"manifest: {why}); {REINSTALL}")


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _SHA256_HEX


def read_manifest_files(model_dir: Path) -> tuple[dict, dict[str, str]]:
    """``(manifest, {file name: sha256})`` from ``model_dir``'s manifest, read bounded
    (``read_json_file``: a regular file of at most 1 MB, nesting bounded).

    Raises ``ModelError`` ("... is damaged (its manifest.json is not ...: why); reinstall it ...") for a
    manifest that is missing, unreadable, not a JSON object, whose ``files`` is not an object of
    ``{"sha256": hex}`` entries, or that lists a name that is not a plain file name in the folder
    (``../x``, an absolute path, a subfolder).
    """
    path = model_dir / MANIFEST_FILE
    try:
        manifest = read_json_file(path, MAX_MANIFEST_BYTES, MAX_MANIFEST_DEPTH)
    except FileNotFoundError:
        raise ModelError(f"model folder {model_dir} has no {MANIFEST_FILE}: it is incomplete (an install did "
                         f"not finish); {REINSTALL}") from None
    except JsonFileError as exc:
        raise damaged(model_dir, str(exc).replace(str(path), "it")) from None
    if not isinstance(manifest, dict):
        raise damaged(model_dir, f"it holds {_JSON_KINDS.get(type(manifest), 'something else')}, not an object")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise damaged(model_dir, "it has no \"files\" object")
    sums: dict[str, str] = {}
    for name, entry in files.items():
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name \
                or Path(name).name != name or Path(name).is_absolute() or ":" in name:
            raise damaged(model_dir, f"it lists {name!r}, which is not a file name in the folder")
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not _is_sha256(sha):
            raise damaged(model_dir, f"it gives no SHA-256 for {name!r}")
        sums[name] = sha
    return manifest, sums
