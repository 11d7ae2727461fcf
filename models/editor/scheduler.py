"""What the decode lane runs next: one Qt-free place for priorities, coalescing and staleness.

One decode runs at a time (the decoder is fast; queueing more only delays the newest). What
waits is at most one request of each kind, the newest: a **proposal** (the editor's prompt, a
``DecodeRequest`` with its revision) before a **hover** point (what a click there would select)
before a **finder** grid point (the Object Finder, lowest of all). A proposal asked for while the
same work is already in flight (a click: the press's live stroke and the release ask for the
same prompt) is served by that answer, for the newer revision, with no second decode.

Staleness is keyed by the editor's revision: a finished proposal job says which revision it
answers (the newest request it serves) and ``Editor.accept`` decides. A job from before
``reset`` (another image) is not this scheduler's any more and answers nothing.

The GUI's ``EngineBridge`` starts the jobs this hands out on the service and hands them back
when they end; tests drive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from samcut.models.editor.editor import DecodeRequest
from samcut.models.engine.types import Prompt

PRIORITY = ("proposal", "hover", "finder")


@dataclass(eq=False)
class DecodeJob:
    """One decode: ``prompt`` in ``frame`` (an image or region handle). ``request`` for a proposal
    (replaced by a newer one it also serves); ``point`` for hover and finder jobs, with the image's
    ``ticket`` for the finder."""

    kind: str
    prompt: Prompt
    frame: Any
    request: DecodeRequest | None = None
    point: tuple[float, float] | None = None
    ticket: int = 0

    @property
    def lead(self) -> tuple[Prompt, ...]:
        """The prompts decoded before ``prompt`` (a replay on another model, ``DecodeRequest.lead``)."""
        return self.request.lead if self.request is not None else ()


def same_work(a: DecodeJob, b: DecodeJob) -> bool:
    """Whether two proposal jobs decode the same thing: same frame, points, labels, box, and the
    very same mask input (compared by identity: it is the earlier answer's logits), same lead."""
    return (a.kind == b.kind == "proposal" and a.frame is b.frame and a.prompt == b.prompt
            and a.prompt.mask_input is b.prompt.mask_input and a.lead == b.lead)


class DecodeScheduler:
    """Decides which decode runs next; ``ask_*`` return the job to start now, or None (it waits)."""

    def __init__(self) -> None:
        self.in_flight: DecodeJob | None = None
        self.waiting: dict[str, DecodeJob] = {}

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing waiting."""
        return self.in_flight is None and not self.waiting

    def reset(self) -> None:
        """Another image: everything asked for so far is forgotten (its answers are stale)."""
        self.in_flight = None
        self.waiting.clear()

    def ask_proposal(self, request: DecodeRequest, frame: object) -> DecodeJob | None:
        """The editor's prompt (``request``, in ``frame``'s pixels) wants its proposal. A waiting
        hover is dropped: the user is drawing, the pointer's object is not wanted now."""
        job = DecodeJob("proposal", request.prompt, frame, request=request)
        self.waiting.pop("hover", None)
        if self.in_flight is not None and same_work(self.in_flight, job):
            self.in_flight.request = request  # the answer on its way serves the newer revision
            self.waiting.pop("proposal", None)
            return None
        return self._ask(job)

    def ask_point(self, kind: str, point: tuple[float, float], frame: object, ticket: int = 0) -> DecodeJob | None:
        """A hover or finder decode of the single click ``point`` ``(x, y)``: it waits for every
        job of a higher priority (``PRIORITY``)."""
        job = DecodeJob(kind, Prompt(points=[point], labels=[1]), frame, point=point, ticket=ticket)
        if any(k in self.waiting for k in PRIORITY[:PRIORITY.index(kind)]):
            self.waiting[kind] = job
            return None
        return self._ask(job)

    def _ask(self, job: DecodeJob) -> DecodeJob | None:
        if self.in_flight is not None:
            self.waiting[job.kind] = job
            return None
        self.in_flight = job
        return job

    def drop(self, kind: str) -> None:
        """Forget the waiting job of ``kind`` (the proposal was applied or dropped, the pointer left)."""
        self.waiting.pop(kind, None)

    def finished(self, job: DecodeJob) -> tuple[bool, DecodeJob | None]:
        """``job`` ended: ``(still wanted, the next job to start)``. A job from before ``reset``
        is not wanted and starts nothing. A wanted proposal job answers ``job.request.revision``
        (the newest request it served)."""
        if job is not self.in_flight:
            return False, None
        self.in_flight = None
        for kind in PRIORITY:
            if kind in self.waiting:
                self.in_flight = self.waiting.pop(kind)
                return True, self.in_flight
        return True, None
