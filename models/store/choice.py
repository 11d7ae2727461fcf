"""Which model samcut uses: one rule, one stored choice, for the app, the CLI, the self-test and hosts.

The rule (``chosen_model_dir``), first that applies:

1. the folder given explicitly (``--models DIR|NAME``);
2. ``$SAMCUT_MODEL_DIR``;
3. the user's choice: the ``model_dir`` preference, written by ``samcut models use NAME`` and by the
   app when it installs a model (a choice whose folder is gone is passed over);
4. the only installed model, when exactly one is installed;
5. the default model (``mobile_sam``): installed, else shipped in the bundle, else its folder to be.

The choice is stored in one place, the preferences file (``remember_choice``).

One call's model (``answering_model``): a name given for it (``samcut segment --quality [NAME]``,
a host request's ``model``; ``quality`` means the quality model), else the rule above.

The *quality* model (``chosen_quality_dir``): the ``quality_model`` preference, a model folder that
encodes each image again in the background after the quick model and then answers instead (the
app; ``samcut segment --quality`` and a host request's ``quality`` ask for it by name). None when
unset, gone, or the quick model itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from samcut.models.document.preferences import Preferences
from samcut.models.engine.errors import ModelError
from samcut.models.engine.manifest import read_manifest_files
from samcut.models.store.registry import (
    DEFAULT_MODEL,
    MODEL_DIR_ENV,
    installed_models,
    model_dir,
    models_root,
    official_spec,
    resolve_model,
)


def _is_model(folder: Path) -> bool:
    return (folder / "manifest.json").is_file()


def _given(explicit: Path | None) -> Path | None:
    """The folder the user named for this call (steps 1 and 2 of the rule), if any."""
    if explicit is not None:
        return Path(explicit)
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override).expanduser() if override else None


def chosen_model_dir(explicit: Path | None = None, preferences: Preferences | None = None) -> Path:
    """The model folder to use (see the module's rule); it may not exist when nothing is installed."""
    given = _given(explicit)
    if given is not None:
        return given
    chosen = (preferences or Preferences.load()).model_dir
    if chosen and _is_model(Path(chosen)):
        return Path(chosen)
    usable = [m for m in installed_models() if not m.damaged]
    if len(usable) == 1:
        return usable[0].path
    return model_dir(DEFAULT_MODEL)


def remember_choice(preferences: Preferences, folder: Path) -> None:
    """Store ``folder`` as the user's model (the default model's own folder clears the choice, so
    the rule's later steps apply). Saved at once; a read-only config folder keeps it for this run."""
    folder = Path(folder)
    preferences.model_dir = "" if folder == model_dir(DEFAULT_MODEL) and not os.environ.get(MODEL_DIR_ENV) \
        else str(folder)
    try:
        preferences.save()
    except OSError:
        pass  # preferences are a convenience


def no_model_message(folder: Path, gui: bool = False, given: bool = False) -> str:
    """Why ``folder`` cannot serve, and what to do: the installed models and how to choose one, or,
    when none is installed, how to install (GUI actions in the GUI, commands elsewhere). ``given``:
    the folder was named by the user (--models, $SAMCUT_MODEL_DIR), so the message names it."""
    usable = [m.name for m in installed_models() if not m.damaged]
    if given:
        others = f"; installed: {', '.join(usable)}" if usable else ""
        return f"model folder {folder} does not exist{others}"
    if usable:
        how = ("choose one in Help > Install Model… or with 'samcut models use NAME'" if gui
               else "choose one with 'samcut models use NAME' or --models NAME")
        return f"no model in {folder}; installed: {', '.join(usable)} ({how})"
    how = "Help > Install Model…" if gui else "'samcut models fetch' (or 'samcut models fetch --from FILE' offline)"
    return f"no model is installed (in {models_root()}); install one with {how}"


def require_chosen_model(explicit: Path | None = None) -> Path:
    """``chosen_model_dir``, or ``ModelError`` with ``no_model_message`` when it holds no model."""
    folder = chosen_model_dir(explicit)
    if not folder.is_dir():
        raise ModelError(no_model_message(folder, given=_given(explicit) is not None))
    return folder


@dataclass(frozen=True)
class ModelInfo:
    """What people are told about an installed model: ``label`` ("SAM 2.1 Hiera tiny", or the
    folder's name for custom weights), ``encode_s`` (the catalogue's fp32 encode time on 2 vCPUs,
    None if unknown) and its unchecked ``manifest``."""

    label: str
    encode_s: float | None = None
    manifest: dict = field(default_factory=dict)


def model_info(folder: Path) -> ModelInfo:
    """``ModelInfo`` of the model in ``folder`` (never raises: a damaged manifest gives the folder's name)."""
    try:
        manifest = read_manifest_files(Path(folder))[0]
    except ModelError:
        return ModelInfo(Path(folder).name)
    spec = official_spec(manifest)
    if spec is None:
        return ModelInfo(Path(folder).name, None, manifest)
    return ModelInfo(spec.label, spec.encode_s, manifest)


def chosen_quality_dir(preferences: Preferences, quick: Path) -> Path | None:
    """The quality model's folder (see the module), or None."""
    chosen = preferences.quality_model
    if not chosen:
        return None
    folder = resolve_model(chosen)
    if not _is_model(folder) or folder.resolve() == Path(quick).resolve():
        return None
    return folder


def remember_quality(preferences: Preferences, folder: Path | None) -> None:
    """Store ``folder`` as the quality model (None: none). Saved at once, like ``remember_choice``."""
    preferences.quality_model = "" if folder is None else str(folder)
    try:
        preferences.save()
    except OSError:
        pass


QUALITY = "quality"  # names the user's quality model in a host request or ``segment --quality``


def answering_model(explicit: Path | None = None, named: str | None = None,
                    preferences: Preferences | None = None) -> Path:
    """The model folder that answers one call (see the module): ``named`` ("quality", a name from
    ``models list`` or a model folder), else ``require_chosen_model(explicit)``. ``ModelError``
    with what to do when that model is not there."""
    if not named:
        return require_chosen_model(explicit)
    preferences = preferences or Preferences.load()
    if named == QUALITY:
        folder = chosen_quality_dir(preferences, chosen_model_dir(explicit, preferences))
        if folder is None:
            raise ModelError("no quality model is chosen: choose one in the app's Model menu or with "
                             "'samcut models use --quality NAME'")
        return folder
    folder = resolve_model(named)
    if not _is_model(folder):
        raise ModelError(no_model_message(folder, given=True))
    return folder
