"""The editor without a window: a prompt replayed as clicks, for ``samcut segment`` and hosts.

Points and a box are given to the same ``Editor`` the app uses, in the order a user would give
them in the window (the box first, then each point as a click), and each is decoded before the
next: the second click is refined from the first click's mask exactly as in the app. So the same
prompt gives the same mask in the app, ``samcut segment`` and a host's call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from samcut.models.document.imageio import LoadedImage
from samcut.models.document.selection import Mode
from samcut.models.document.strokes import MAX_PROMPT_POINTS, Stroke
from samcut.models.editor.editor import Editor
from samcut.models.engine.candidates import MULTIMASK_TOKENS, best_token
from samcut.models.engine.finder import FoundObject
from samcut.models.engine.service import ImageHandle, SegmentationService

CANDIDATES = ("auto", "best", "single")


class PromptError(ValueError):
    """A prompt the decoder cannot take (too many points); the message says why."""


def check_prompt(points: Sequence[tuple[float, float, int]], box: tuple[float, float, float, float] | None,
                 size: tuple[int, int], point_name: str = "point", box_name: str = "box") -> None:
    """Refuse (``PromptError``) what no click could be: a label other than 1 or 0, a number that is
    not finite, a point off the image, a box that misses it or is empty (``size`` is ``(H, W)``).
    ``samcut segment`` and host requests both ask here; ``point_name``/``box_name`` name the
    option or field in the message."""
    h, w = size
    if len(points) > MAX_PROMPT_POINTS:
        raise PromptError(f"{len(points)} points given; the decoder takes at most {MAX_PROMPT_POINTS}")
    for x, y, label in points:
        if label not in (0, 1):
            raise PromptError(f"{point_name} {x:g},{y:g}: label must be 1 (include) or 0 (exclude), not {label!r}")
        if not (np.isfinite(x) and np.isfinite(y)):
            raise PromptError(f"{point_name} {x:g},{y:g}: coordinates must be finite")
        if not (0 <= x <= w and 0 <= y <= h):
            raise PromptError(f"{point_name} {x:g},{y:g} is outside the {w}x{h} image (x 0..{w}, y 0..{h})")
    if box is None:
        return
    text = ",".join(f"{v:g}" for v in box)
    if not np.isfinite(box).all():
        raise PromptError(f"{box_name} {text}: coordinates must be finite")
    if box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h:
        raise PromptError(f"{box_name} {text} does not overlap the {w}x{h} image")
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise PromptError(f"{box_name} {text} is empty: give two opposite corners")


def _settle(editor: Editor, service: SegmentationService, handle: ImageHandle) -> None:
    """Decode the editor's prompt now and show the result (the service runs synchronously)."""
    request = editor.decode_request()
    assert request is not None
    result = service.decode(handle, request.prompt).result()
    editor.accept(request.revision, result)


def segment(service: SegmentationService, image: LoadedImage, points: Sequence[tuple[float, float, int]],
            box: tuple[float, float, float, float] | None, candidate: str = "auto",
            refine: bool = False, found: list[FoundObject] | None = None) -> np.ndarray:
    """The selection for ``points`` ``(x, y, label)`` (label 1 includes, 0 excludes) and ``box``
    ``(x0, y0, x1, y1)`` in image pixels: ``uint8 H x W`` (0/255, soft edges when ``refine``).

    ``candidate``: "auto" (the candidate rule), "best" (best multimask candidate) or "single"
    (the single-mask output), applied to the final decode. ``service`` must be synchronous.
    ``found``: the Object Finder's objects; then the app's click rule holds (a first click on an
    object takes it, ``Editor.add_stroke``), as in the app once its finder is done.
    """
    if candidate not in CANDIDATES:
        raise ValueError(f"candidate must be one of {', '.join(CANDIDATES)}")
    if not points and box is None:
        raise PromptError("give at least one point or a box")
    check_prompt(points, box, image.size)
    editor = Editor(image, max_steps=0)
    editor.found = found
    handle = service.open_image(image.model_rgb())
    if box is not None:
        editor.set_box(box)
        _settle(editor, service, handle)
    for x, y, label in points:
        editor.begin_stroke()
        editor.add_stroke(Stroke(((float(x), float(y)),), positive=bool(label)))
        if editor.awaiting_answer:  # (an object taken by the click rule needs no decode)
            _settle(editor, service, handle)
    if candidate != "auto" and editor.proposal is not None and len(editor.proposal.scores) == 4:
        proposal = editor.proposal  # (all four tokens of a decode; a taken object is one candidate)
        single = service.engine.rules.single_mask_token(proposal.low_res_logits, proposal.scores)
        editor.choose(best_token(proposal.scores, MULTIMASK_TOKENS) if candidate == "best" else single)
    editor.commit(Mode.REPLACE, refine=refine)
    return editor.selection
