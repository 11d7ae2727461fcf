"""``Editor``: everything the user is editing on one image, and every transition of it.

One object owns the image, the prompt (strokes, box, the frame it is decoded in), the live
proposal and its candidates, the selection, and one linear history. Every user action is a
method here; every decoder result comes back through ``accept``, which alone decides whether it
is still wanted (its request's ``revision`` must be the current one). The app, ``samcut
segment`` and the host bridge all drive this API, so a prompt gives the same mask everywhere.

No Qt and no inference: decode requests go out as ``DecodeRequest`` values and results come
back as ``DecodeResult``-like values. Coordinates are original image pixels (x = column,
y = row); arrays are ``H x W`` unless said otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from samcut.models.document import selection as ops
from samcut.models.document.imageio import LoadedImage
from samcut.models.document.selection import Mode
from samcut.models.document.strokes import Stroke
from samcut.models.editor.history import (
    EMPTY_PROMPT,
    MaskBase,
    PromptState,
    Step,
    Timeline,
    changed_box,
    new_selection_id,
)
from samcut.models.editor.prompts import decoder_prompt, replay_lead
from samcut.models.editor.proposal import DecoderOutput, Proposal
from samcut.models.engine.finder import FoundObject, object_under
from samcut.models.engine.refine import refine_region
from samcut.models.engine.types import XYXY, Prompt, RowSpans

Frame = XYXY  # a zoomed region the prompt is decoded in

# Unique across editors, so that a late result for another image's prompt can never match.
_revisions = itertools.count(1)


@dataclass(frozen=True)
class DecodeRequest:
    """A decode to run: ``prompt`` in the pixels of ``frame`` (None: the whole image), for the
    editor's prompt ``revision``; hand the revision back to ``Editor.accept`` with the result.
    ``lead``: when the prompt's mask input came from another model, the prompts it stands for,
    to be decoded first (``SegmentationService.decode``); ``prompt.mask_input`` is then None."""

    prompt: Prompt
    revision: int
    frame: Frame | None
    lead: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class Change:
    """What an editor transition changed, as it announces it to its listeners (napari's layer
    events): ``parts`` among "selection", "proposal", "prompt", "history"; ``rect``: the changed
    rectangle of the selection, ``(x0, y0, x1, y1)`` image pixels (None: none, or all of it)."""

    parts: frozenset[str]
    rect: XYXY | None = None


class Editor:
    """One image session. ``max_steps=0`` keeps no history (one-shot scripts). Every transition
    is announced to the callables in ``listeners`` as a ``Change``."""

    def __init__(self, image: LoadedImage, path: Path | None = None, max_steps: int = 200) -> None:
        self.image = image
        self.path = path
        h, w = image.size
        self.selection = np.zeros((h, w), np.uint8)
        self.history = Timeline(max_steps)
        self.prompt: PromptState = EMPTY_PROMPT
        self.proposal: Proposal | None = None
        self.listeners: list[Callable[[Change], None]] = []  # told of every change (the window draws)
        self.found: list[FoundObject] | None = None  # the Object Finder's objects: clicks snap to them
        self.snap_to_objects = True  # the click rule is on (the app ties it to View > Hover Preview)
        self.revision = next(_revisions)
        self._answered = self.revision  # the revision the proposal shown answers
        self._selection_id = self._saved_id = new_selection_id()
        # The stroke being drawn: the frame a new prompt starts in, and its mask input.
        self._new_frame: Frame | None = None
        self._live_base: MaskBase | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    # saved state ------------------------------------------------------------------------
    @property
    def selection_id(self) -> int:
        """Names the selection's current content; undoing back to a state gives its id back."""
        return self._selection_id

    @property
    def unsaved(self) -> bool:
        """Work the user would lose by closing: a selection unlike the one last saved (or loaded),
        or strokes or a box whose proposal has not been applied."""
        return not self.prompt.empty or self._selection_id != self._saved_id

    def mark_saved(self, selection_id: int | None = None) -> None:
        """The selection named ``selection_id`` (default: the current one) is now safe on disk."""
        self._saved_id = self._selection_id if selection_id is None else selection_id

    def load_selection(self, mask: np.ndarray) -> None:
        """Start from ``mask`` (``uint8 H x W``, e.g. the host's selection): not an undo step, and
        not unsaved work."""
        self.selection = np.array(mask, np.uint8, copy=True)
        self._selection_id = self._saved_id = new_selection_id()
        self._announce("selection")

    # prompt -----------------------------------------------------------------------------
    @property
    def frame(self) -> Frame | None:
        """The zoomed region the prompt (or the one being started) is decoded in; None: the image."""
        return self._new_frame if self.prompt.empty else self.prompt.frame

    @property
    def frame_origin(self) -> tuple[int, int]:
        frame = self.frame
        return (0, 0) if frame is None else (frame[0], frame[1])

    def _frame_size(self) -> tuple[int, int]:
        frame = self.frame
        return self.size if frame is None else (frame[3] - frame[1], frame[2] - frame[0])

    def _chosen_base(self) -> MaskBase | None:
        p = self.proposal
        return None if p is None else MaskBase(p.low_res_logits[p.chosen], p.model)

    def begin_stroke(self, frame: Frame | None = None) -> None:
        """On press: the proposal shown now becomes the new stroke's mask input. A new prompt is
        decoded in ``frame`` (a zoomed region), a prompt already begun keeps its own."""
        if self.prompt.empty:
            self._new_frame = frame
        self._live_base = self._chosen_base()

    def add_stroke(self, stroke: Stroke) -> None:
        """On release, with the finished stroke: one undo step. The click rule: a first click (a
        stroke that does not move) on a found object, with snapping on (``found``, set when the
        Object Finder is done and hover shows objects), takes that object, which is what hover
        showed under the pointer (``take_object``)."""
        found = self.object_under_click(stroke)
        if found is not None:
            self.take_object(found, stroke, "take object")
            return
        p = self.prompt
        after = PromptState(p.strokes + (stroke,), p.bases + (self._live_base,), p.box, self.frame)
        self._live_base = None
        self._push(Step("Smart Brush stroke" if stroke.positive else "subtracting stroke",
                        prompt_before=self._leave(), prompt_after=after))

    def object_under_click(self, stroke: Stroke) -> FoundObject | None:
        """The found object a stroke takes under the click rule, or None (it is a prompt stroke)."""
        is_click = stroke.positive and len(set(stroke.path)) == 1
        if not self.found or not self.snap_to_objects or not self.prompt.empty or self.frame is not None \
                or not is_click:
            return None
        return object_under(self.found, stroke.path[0], self.size)

    def take_object(self, found: FoundObject, stroke: Stroke | None = None, label: str = "Subject") -> None:
        """``found`` becomes the proposal (its own single candidate and score; what was being
        built is left, undoably): the prompt is the click that took it (``stroke``, default the
        grid point that found it). One undo step; undo and redo restore it exactly, no decode."""
        stroke = stroke or Stroke((found.point,), positive=True)
        model = self.proposal.model if self.proposal is not None else ""
        after = PromptState((stroke,), (None,), None, None, shown=Proposal.from_object(found, self.size, model))
        self._live_base = None
        self._push(Step(label, prompt_before=self._leave(), prompt_after=after))

    def set_box(self, box: tuple[float, float, float, float], frame: Frame | None = None) -> None:
        """A box around the object ``(x0, y0, x1, y1)``: one undo step."""
        if self.prompt.empty:
            self._new_frame = frame
        after = replace(self.prompt, box=tuple(float(v) for v in box), frame=self.frame, shown=None)
        self._push(Step("box", prompt_before=self._leave(), prompt_after=after))

    def _leave(self) -> PromptState:
        """The prompt as the user leaves it, holding the proposal shown (candidate chosen), so that
        undo (and redo of the step that made it) brings back that very proposal without a decode."""
        if self.prompt.empty or self.awaiting_answer or self.proposal is None:
            return self.prompt
        left = replace(self.prompt, shown=self.proposal)
        self.history.remember_shown(self.prompt, left)
        self.prompt = left  # the same prompt (revision unchanged), now holding what it shows
        return left

    def engine_prompt(self, live: Stroke | None = None) -> Prompt:
        """The decoder prompt in the frame's own pixels: finished strokes, the stroke being drawn,
        the box; the mask input is the proposal shown when the newest stroke began."""
        base = self._base(live)
        return self._prompt(live, None if base is None else base.logits)

    def _base(self, live: Stroke | None) -> MaskBase | None:
        p = self.prompt
        return self._live_base if live is not None else (p.bases[-1] if p.bases else None)

    def _prompt(self, live: Stroke | None, mask_input: np.ndarray | None) -> Prompt:
        return decoder_prompt(self.prompt, self.frame, self._frame_size(), self.prompt.strokes, live, mask_input)

    def _replay(self, live: Stroke | None) -> DecodeRequest:
        lead = replay_lead(self.prompt, self.frame, self._frame_size(), live)
        return DecodeRequest(self._prompt(live, None), self.revision, self.frame, lead)

    def decode_request(self, live: Stroke | None = None, model: str | None = None) -> DecodeRequest | None:
        """What to decode now (with the stroke being drawn, if any), by ``model``; None when there
        is no prompt. Where the mask input was decoded by another model than ``model``, the request
        replays the prompt (``lead``): the answer is then the one ``model`` gives the prompt from
        scratch, as in ``samcut segment --models``."""
        if self.prompt.empty and live is None:
            return None
        base = self._base(live)
        if base is not None and model is not None and base.model != model:
            return self._replay(live)
        return DecodeRequest(self.engine_prompt(live), self.revision, self.frame)

    def replay_request(self, model: str) -> DecodeRequest | None:
        """Another model (``model``) answers now: the request that answers the current prompt again
        with it, from scratch, for the same revision (its answer replaces the proposal in place, no
        undo step); None when there is no prompt or its proposal is already ``model``'s."""
        shown = self.proposal
        if self.prompt.empty or (shown is not None and shown.model == model):
            return None
        return self._replay(None)

    def accept(self, revision: int, result: DecoderOutput) -> Proposal | None:
        """Show ``result`` if it answers the current prompt (``revision``), with the candidate
        rule's choice selected; None (and nothing changes) if it is stale. An answer by another
        model to the prompt shown (a replay) keeps the candidate the user picked, when the two
        have the same candidates (a token means the same part of the object in every family)."""
        if revision != self.revision or result.origin != self.frame_origin:
            return None
        before = self.proposal
        self.proposal = Proposal.from_result(result, self.size)
        if before is not None and self._answered == revision and before.model != self.proposal.model \
                and before.chosen != before.default and before.count == self.proposal.count:
            self.proposal = self.proposal.with_chosen(before.chosen)
        self._answered = revision
        self._announce("proposal")
        return self.proposal

    @property
    def awaiting_answer(self) -> bool:
        """Whether the prompt has changed since the proposal shown was decoded (its answer is
        on the way): an Apply now would apply an older mask than the user asked for."""
        return not self.prompt.empty and self._answered != self.revision

    def cycle_candidate(self, step: int = 1) -> Proposal | None:
        if self.proposal is None:
            return None
        self.proposal = self.proposal.with_chosen(self.proposal.chosen + step)
        self._announce("proposal")
        return self.proposal

    def choose(self, token: int) -> None:
        """Show candidate ``token`` (0 single mask, 1-3 multimask) of the current proposal."""
        if self.proposal is not None:
            self.proposal = self.proposal.with_chosen(token)
            self._announce("proposal")

    def drop_proposal(self) -> bool:
        """Give up the prompt and its proposal (Escape): one undo step, so strokes can come back."""
        if self.prompt.empty:
            self.proposal = None
            self._announce("proposal")
            return False
        self._push(Step("drop proposal", prompt_before=self._leave(), prompt_after=EMPTY_PROMPT))
        return True

    def _set_prompt(self, prompt: PromptState) -> None:
        """Make ``prompt`` current: a new revision; its kept proposal is shown at once (then it
        needs no decode), an empty prompt has none, otherwise the old one stays up until the
        decode of the new revision lands (``awaiting_answer``)."""
        self.prompt = prompt
        self.revision = next(_revisions)
        self._new_frame = None
        self._live_base = None
        if prompt.shown is not None:
            self.proposal = prompt.shown
            self._answered = self.revision
        elif prompt.empty:
            self.proposal = None

    # selection --------------------------------------------------------------------------
    def _change_region(self, label: str, box: RowSpans, region: np.ndarray,
                       prompt_after: PromptState | None = None) -> bool:
        """Replace the selection's pixels in ``box`` with ``region``: one step (with the prompt
        change, if any). False when nothing changed at all."""
        y0, y1, x0, x1 = box
        current = self.selection[y0:y1, x0:x1]
        pixels_change = not np.array_equal(current, region)
        if not pixels_change and prompt_after is None:
            return False
        prompt_before = self._leave() if prompt_after is not None else None
        if not pixels_change:
            self._push(Step(label, prompt_before=prompt_before, prompt_after=prompt_after))
            return False
        after_id = new_selection_id()
        before = current.copy() if self.history.keeps_history else None
        after = np.array(region, np.uint8, copy=True) if self.history.keeps_history else None
        current[...] = region
        self._push(Step(label, box, before, after, prompt_before, prompt_after, self._selection_id, after_id))
        return True

    def _change_whole(self, label: str, new: np.ndarray, prompt_after: PromptState | None = None) -> bool:
        """A whole-image operation's result ``new``; only its changed rectangle is recorded."""
        if not self.history.keeps_history:  # no diff, no copy: ``new`` becomes the selection
            self.selection = np.ascontiguousarray(new, np.uint8)
            self._push(Step(label, (0, 0, 0, 0), None, None, self._leave() if prompt_after is not None else None,
                            prompt_after, self._selection_id, new_selection_id()))
            return True
        box = changed_box(self.selection, new) or (0, 0, 0, 0)
        y0, y1, x0, x1 = box
        return self._change_region(label, box, new[y0:y1, x0:x1], prompt_after)

    def commit(self, mode: Mode, refine: bool = False) -> bool:
        """Merge the proposal into the selection with ``mode`` (its edge refined against the image
        when ``refine``); the prompt starts afresh. One step: undo brings the strokes back."""
        if self.proposal is None:
            return False
        proposal = self.proposal.refined(self.image.rgb) if refine else self.proposal.full()
        return self._change_whole(f"{mode.value} selection", ops.combine(self.selection, proposal, mode),
                                  prompt_after=EMPTY_PROMPT)

    def reselect(self, mask: np.ndarray) -> bool:
        """Bring back ``mask`` (``uint8 H x W``, e.g. this image's last selection): one undo step."""
        if mask.shape != self.selection.shape:
            return False
        return self._change_whole("reselect", np.asarray(mask, np.uint8))

    def select_all(self) -> bool:
        return self._change_whole("select all", np.full_like(self.selection, 255))

    def select_none(self) -> bool:
        return self._change_whole("select none", np.zeros_like(self.selection))

    def invert(self) -> bool:
        return self._change_whole("invert selection", 255 - self.selection)

    def grow(self, pixels: int) -> bool:
        return self._change_whole(f"grow {pixels} px", ops.grow(self.selection, pixels))

    def shrink(self, pixels: int) -> bool:
        return self._change_whole(f"shrink {pixels} px", ops.shrink(self.selection, pixels))

    def feather(self, pixels: float) -> bool:
        return self._change_whole(f"feather {pixels:g} px", ops.feather(self.selection, pixels))

    def smooth(self, pixels: float) -> bool:
        return self._change_whole(f"smooth {pixels:g} px", ops.smooth(self.selection, pixels))

    def paint(self, path: np.ndarray, radius: float, add: bool) -> bool:
        """Paint (``add``) or erase a round brush of ``radius`` px along ``path`` (``N x 2`` (x, y));
        costs what the stroke covers, whatever the image's size."""
        painted = ops.painted_region(self.selection, path, radius, add)
        return painted is not None and self._change_region("paint" if add else "erase", *painted)

    def refine_brush(self, path: np.ndarray, radius: float) -> bool:
        """Let the image decide the alpha where the brush went (soft where its edge is soft)."""
        swept = ops.stroke_coverage(self.size, path, radius)
        if swept is None:
            return False
        box, weight = swept
        filter_radius = int(np.clip(round(radius / 4), 2, 32))
        return self._change_region("refine edge", box,
                                   refine_region(self.image.rgb, self.selection, box, weight, filter_radius))

    # history ----------------------------------------------------------------------------
    def _push(self, step: Step) -> None:
        self.history.push(step)
        if step.box is not None:
            self._selection_id = step.selection_after
        if step.prompt_after is not None:
            self._set_prompt(step.prompt_after)
        self._announce_step(step)

    def _announce(self, *parts: str, rect: XYXY | None = None) -> None:
        change = Change(frozenset(parts), rect)
        for listener in list(self.listeners):
            listener(change)

    def _announce_step(self, step: Step) -> None:
        """A step was done or undone: its selection rectangle, its prompt, and the history."""
        parts = ["history"]
        rect = None
        if step.box is not None:
            parts.append("selection")
            y0, y1, x0, x1 = step.box
            rect = (x0, y0, x1, y1)
        if step.prompt_before is not None or step.prompt_after is not None:
            parts += ["prompt", "proposal"]
        self._announce(*parts, rect=rect)

    def undo(self) -> Step | None:
        """Revert the last step, whatever it changed; returns it (None when there is none). The
        proposal shown now (candidate chosen) comes back with a redo."""
        self._leave()
        step = self.history.step_back()
        if step is not None:
            self._restore(step, after=False)
        return step

    def redo(self) -> Step | None:
        """Re-apply the last undone step; returns it (None when there is none)."""
        self._leave()
        step = self.history.step_forward()
        if step is not None:
            self._restore(step, after=True)
        return step

    def _restore(self, step: Step, after: bool) -> None:
        if step.box is not None:
            y0, y1, x0, x1 = step.box
            self.selection[y0:y1, x0:x1] = step.after if after else step.before
            self._selection_id = step.selection_after if after else step.selection_before
        prompt = step.prompt_after if after else step.prompt_before
        if prompt is not None:
            self._set_prompt(prompt)
        self._announce_step(step)
