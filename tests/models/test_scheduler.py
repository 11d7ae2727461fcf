"""The decode scheduler alone (no Qt, no model): priorities, coalescing, staleness by revision."""

from __future__ import annotations

import numpy as np

from samcut.models.editor.editor import DecodeRequest
from samcut.models.editor.scheduler import DecodeScheduler
from samcut.models.engine.types import Prompt

FRAME = object()


def request(revision: int, x: float = 5, mask_input: np.ndarray | None = None) -> DecodeRequest:
    return DecodeRequest(Prompt(points=[(x, 5.0)], labels=[1], mask_input=mask_input), revision, None)


def test_strokes_before_hover_before_finder_one_at_a_time() -> None:
    s = DecodeScheduler()
    first = s.ask_point("finder", (1, 1), FRAME, ticket=7)
    assert first is not None and first.kind == "finder"  # nothing else wanted: the finder runs
    assert s.ask_point("finder", (2, 2), FRAME, 7) is None
    assert s.ask_point("hover", (3, 3), FRAME) is None
    assert s.ask_proposal(request(1), FRAME) is None  # waits for the one in flight, and drops the hover
    assert s.ask_point("hover", (4, 4), FRAME) is None  # a hover never jumps a waiting stroke
    wanted, following = s.finished(first)
    assert wanted and following.kind == "proposal" and following.request.revision == 1
    wanted, following = s.finished(following)
    assert wanted and following.kind == "hover" and following.point == (4, 4)
    wanted, following = s.finished(following)
    assert wanted and following.kind == "finder" and following.point == (2, 2) and following.ticket == 7
    assert s.finished(following) == (True, None) and s.idle


def test_the_answer_in_flight_serves_a_newer_revision_of_the_same_work() -> None:
    s = DecodeScheduler()
    base = np.zeros((256, 256), np.float32)
    job = s.ask_proposal(request(1, mask_input=base), FRAME)
    assert s.ask_proposal(request(2, mask_input=base), FRAME) is None  # the release after the press
    assert "proposal" not in s.waiting  # no second decode
    assert s.finished(job) == (True, None) and job.request.revision == 2
    other = s.ask_proposal(request(3, mask_input=base), FRAME)
    assert s.ask_proposal(request(4, mask_input=base.copy()), FRAME) is None  # another mask input: waits
    wanted, following = s.finished(other)
    assert wanted and following.request.revision == 4


def test_after_reset_an_old_job_answers_nothing_and_starts_nothing() -> None:
    s = DecodeScheduler()
    old = s.ask_proposal(request(1), FRAME)
    s.ask_point("finder", (1, 1), FRAME)
    s.reset()  # another image
    fresh = s.ask_proposal(request(2), FRAME)
    assert fresh is not None
    assert s.finished(old) == (False, None)
    assert s.finished(fresh) == (True, None)
