"""Which model a checkpoint holds, told from its tensors' names and shapes, and the templates it fills.

Official checkpoints are known by their pinned hash (``catalogue.spec_for_pin``); custom weights
(fine-tuned, say) by their shapes: the first catalogue architecture whose two templates find every
tensor they need, of the right shape, in the file. Only the file's pickle is read for that, no
tensor is copied.
"""

from __future__ import annotations

from pathlib import Path

from samcut.models.store.catalogue import KNOWN_MODELS, ModelSpec, architectures
from samcut.models.store.checkpoint import checkpoint_shapes
from samcut.models.store.onnx_template import Template, TemplateError, read_template


def model_templates(spec: ModelSpec) -> dict[str, Template]:
    """``{"encoder": ..., "decoder": ...}``: the shipped templates of ``spec``'s graphs."""
    encoder, decoder = spec.templates
    return {"encoder": read_template(encoder), "decoder": read_template(decoder)}


def needed_shapes(templates: dict[str, Template]) -> dict[str, tuple[int, ...]]:
    """Every checkpoint key the templates take, with its shape."""
    return {hole.key: hole.shape for template in templates.values() for hole in template.holes}


def _mismatch(shapes: dict[str, tuple[int, ...]], needed: dict[str, tuple[int, ...]], model: str) -> tuple[int, str]:
    """How many needed tensors ``shapes`` lacks or has in another shape, and why, in words."""
    missing = [k for k in needed if k not in shapes]
    wrong = [k for k in needed if k in shapes and tuple(shapes[k]) != needed[k]]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors missing (first: {missing[0]})")
    if wrong:
        parts.append(f"{len(wrong)} tensors of another shape (first: {wrong[0]} is {tuple(shapes[wrong[0]])}, "
                     f"{model} has {needed[wrong[0]]})")
    return len(missing) + len(wrong), "; ".join(parts)


def identify_checkpoint(checkpoint: Path) -> ModelSpec:
    """The catalogue architecture whose templates ``checkpoint``'s tensors fill.

    Raises ``CheckpointError`` (unreadable or hostile file) or ``TemplateError`` (readable, but no
    known model's shapes): one line, naming the model the file is closest to and what differs when
    it holds most of that model's tensors.
    """
    shapes = checkpoint_shapes(checkpoint)
    closest: tuple[int, str, ModelSpec] | None = None
    for spec in architectures().values():
        try:
            needed = needed_shapes(model_templates(spec))
        except TemplateError:  # (a template this install lacks: that model cannot be installed here)
            continue
        count, why = _mismatch(shapes, needed, spec.label)
        if count == 0:
            return spec
        if 2 * count <= len(needed) and (closest is None or count < closest[0]):
            closest = (count, why, spec)
    if closest is not None:
        raise TemplateError(f"{checkpoint}: not a {closest[2].label} checkpoint: {closest[1]}")
    raise TemplateError(f"{checkpoint}: not the weights of a model samcut knows ({KNOWN_MODELS})")
