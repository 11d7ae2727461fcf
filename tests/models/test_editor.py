"""The editor core: one timeline for every kind of step, one staleness rule, one candidate rule."""

from __future__ import annotations

import numpy as np
import pytest
from fake_engine import FakeEngine

from samcut.models.document.imageio import LoadedImage
from samcut.models.document.selection import Mode
from samcut.models.document.strokes import Stroke
from samcut.models.editor import Editor
from samcut.models.engine.candidates import default_token, is_ambiguous
from samcut.models.engine.finder import FoundObject, main_subject
from samcut.models.engine.service import SegmentationService

H, W = 48, 64


def image(h: int = H, w: int = W) -> LoadedImage:
    rng = np.random.default_rng(0)
    return LoadedImage.from_rgba(np.dstack([rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                                            np.full((h, w), 255, np.uint8)]))


class Session:
    """An editor with a synchronous fake-engine service, driven the way the window drives it."""

    def __init__(self) -> None:
        self.editor = Editor(image())
        self.service = SegmentationService(FakeEngine(), synchronous=True)
        self.handle = self.service.open_image(self.editor.image.model_rgb())
        self.region = None

    def settle(self) -> None:
        """Decode the current prompt in its frame, as the window does after every prompt change."""
        request = self.editor.decode_request()
        if request is None:
            return
        frame = self.handle
        if request.frame is not None:
            x0, y0, x1, y1 = request.frame
            frame = self.service.open_region(self.handle, self.editor.image.model_rgb(request.frame), (x0, y0))
        self.editor.accept(request.revision, self.service.decode(frame, request.prompt).result())

    def state(self) -> tuple:
        """Everything the user sees: the selection, the prompt, the proposal to its logits and the
        candidate chosen, unsaved work."""
        e = self.editor
        p = e.proposal
        proposal = None if p is None else (p.chosen, p.count, p.scores.tobytes(), p.low_res_logits.tobytes(),
                                           p.full().tobytes())
        return (e.selection.tobytes(), e.prompt.strokes, e.prompt.box, e.prompt.frame, proposal, e.unsaved)


def found_object(x0: int, y0: int, x1: int, y1: int, score: float) -> FoundObject:
    """An object the finder could have found: the rectangle ``(x0, y0, x1, y1)`` of the image."""
    mask = np.zeros((256, 256), bool)
    scale = 256 / W  # the low-res frame covers the image's longest side (W)
    mask[int(y0 * scale):int(y1 * scale), int(x0 * scale):int(x1 * scale)] = True
    logits = np.where(mask, 8.0, -8.0).astype(np.float16)
    return FoundObject(logits, (x0, y0, x1 - 1, y1 - 1), (x1 - x0) * (y1 - y0), score, 1.0,
                       ((x0 + x1) / 2, (y0 + y1) / 2))


FOUND = [found_object(4, 4, 30, 30, 0.9), found_object(34, 10, 60, 44, 0.7), found_object(20, 20, 28, 28, 0.8)]


def random_path(rng: np.random.Generator) -> np.ndarray:
    return np.stack([rng.uniform(-5, W + 5, 3), rng.uniform(-5, H + 5, 3)], axis=1)


def act(session: Session, rng: np.random.Generator) -> None:
    """One random user action (not undo/redo)."""
    e = session.editor
    kind = rng.choice(["paint", "erase", "stroke", "region stroke", "box", "apply", "invert", "grow", "drop",
                       "refine", "tab", "finder click", "subject", "hover"])
    if kind == "tab":
        e.cycle_candidate(int(rng.choice([1, -1])))
    elif kind == "finder click":  # the finder is done: a click on an object takes it (the click rule)
        e.found = FOUND
        obj = FOUND[int(rng.integers(len(FOUND)))]
        e.begin_stroke()
        e.add_stroke(Stroke((obj.point,), positive=True))
        session.settle()
    elif kind == "subject":
        e.found = FOUND
        e.take_object(main_subject(FOUND, e.size) or FOUND[0])
    elif kind == "hover":  # hover shows what a click would take and changes nothing
        before = session.state()
        e.found = FOUND
        e.object_under_click(Stroke(((rng.uniform(0, W), rng.uniform(0, H)),), positive=True))
        assert session.state() == before
    elif kind in ("paint", "erase"):
        e.paint(random_path(rng), float(rng.uniform(1, 8)), add=kind == "paint")
    elif kind == "refine":
        e.refine_brush(random_path(rng), float(rng.uniform(2, 8)))
    elif kind in ("stroke", "region stroke"):
        frame = (8, 4, 40, 36) if kind == "region stroke" else None
        x, y = rng.uniform(10, 38), rng.uniform(6, 34)
        e.begin_stroke(frame)
        e.add_stroke(Stroke(((x, y), (x + rng.uniform(-3, 3), y + 2)), positive=bool(rng.random() < 0.7)))
        session.settle()
    elif kind == "box":
        x, y = rng.uniform(0, 30), rng.uniform(0, 20)
        e.set_box((x, y, x + rng.uniform(5, 30), y + rng.uniform(5, 25)))
        session.settle()
    elif kind == "apply":
        e.commit(Mode(rng.choice([m.value for m in Mode])), refine=bool(rng.random() < 0.3))
    elif kind == "invert":
        e.invert()
    elif kind == "grow":
        e.grow(int(rng.integers(1, 3)))
    else:
        e.drop_proposal()


def retouch(snapshots: list[tuple], cursor: int, now: tuple) -> None:
    """What the model expects of a change that is not a step (Tab, a proposal landing): it changes
    the proposal on screen, and so every neighbouring snapshot that showed the same prompt with
    the same proposal (the steps between them left the prompt alone: paint, invert, ...)."""
    old = snapshots[cursor]
    for direction in (-1, 1):
        j = cursor + direction
        while 0 <= j < len(snapshots) and snapshots[j][1:5] == old[1:5]:
            snapshots[j] = (*snapshots[j][:4], now[4], snapshots[j][5])
            j += direction
    snapshots[cursor] = now


@pytest.mark.parametrize("seed", range(25))
def test_undo_and_redo_follow_a_plain_list_of_snapshots(seed: int) -> None:
    """Random interleavings of every kind of step and of undo/redo, checked at every point
    against the straightforward model: a list of whole-state snapshots and a cursor."""
    rng = np.random.default_rng(seed)
    session = Session()
    announced: list = []
    session.editor.listeners.append(announced.append)
    snapshots, cursor = [session.state()], 0
    for _ in range(60):
        seen, heard = session.state(), len(announced)
        r = rng.random()
        if r < 0.2:
            step = session.editor.undo()
            assert (step is None) == (cursor == 0)
            cursor = max(0, cursor - 1)
        elif r < 0.3:
            step = session.editor.redo()
            assert (step is None) == (cursor == len(snapshots) - 1)
            cursor = min(len(snapshots) - 1, cursor + 1)
        else:
            step, position = None, session.editor.history.position
            act(session, rng)
            if session.editor.history.position != position:  # the action was a step
                snapshots[cursor + 1:] = [session.state()]
                cursor += 1
            else:  # a proposal arrived, or Tab chose another candidate: not a step of its own
                retouch(snapshots, cursor, session.state())
                if session.state()[:5] != seen[:5]:
                    assert len(announced) > heard
                continue
        assert not session.editor.awaiting_answer, "undo/redo brought a prompt back without its proposal"
        assert session.state() == snapshots[cursor]
        if session.state()[:5] != seen[:5]:  # whatever the user sees changed: the editor said so
            assert len(announced) > heard
    # all the way back and forward again
    for k in range(cursor, 0, -1):
        session.editor.undo()
        assert session.state() == snapshots[k - 1]
    for k in range(1, len(snapshots)):
        session.editor.redo()
        assert session.state() == snapshots[k]


def test_redo_replays_steps_in_the_order_they_happened() -> None:
    """The bug of two stacks: paint, stroke, undo twice, redo once gave the stroke back, not the paint."""
    session = Session()
    e = session.editor
    e.paint(np.array([[5.0, 5.0], [20.0, 5.0]]), 3, add=True)
    painted = e.selection.copy()
    e.begin_stroke()
    e.add_stroke(Stroke(((30.0, 30.0),)))
    session.settle()
    assert e.undo().label == "Smart Brush stroke" and e.prompt.empty
    assert e.undo().label == "paint" and not e.selection.any()
    assert e.redo().label == "paint"
    np.testing.assert_array_equal(e.selection, painted)
    assert e.prompt.empty
    assert e.redo().label == "Smart Brush stroke" and len(e.prompt.strokes) == 1


def test_undoing_an_apply_brings_back_its_strokes() -> None:
    session = Session()
    e = session.editor
    e.begin_stroke()
    e.add_stroke(Stroke(((30.0, 24.0),)))
    session.settle()
    assert e.commit(Mode.REPLACE) and e.prompt.empty and e.selection.any()
    e.undo()
    assert len(e.prompt.strokes) == 1 and not e.selection.any()


def test_a_result_for_an_older_prompt_or_another_image_is_ignored() -> None:
    session = Session()
    e = session.editor
    e.begin_stroke()
    e.add_stroke(Stroke(((30.0, 24.0),)))
    old = e.decode_request()
    e.begin_stroke()
    e.add_stroke(Stroke(((10.0, 10.0),), positive=False))
    result = session.service.decode(session.handle, old.prompt).result()
    assert e.accept(old.revision, result) is None and e.proposal is None
    other = Session().editor
    assert other.accept(e.revision, result) is None
    current = e.decode_request()
    assert e.accept(current.revision, session.service.decode(session.handle, current.prompt).result()) is not None


def test_saved_follows_the_timeline() -> None:
    e = Session().editor
    assert not e.unsaved
    e.paint(np.array([[5.0, 5.0]]), 3, add=True)
    assert e.unsaved
    e.mark_saved()
    e.invert()
    assert e.unsaved
    e.undo()
    assert not e.unsaved  # back at what was saved
    e.undo()
    assert e.unsaved


def test_a_paint_stroke_records_only_its_own_box_on_a_12_megapixel_image() -> None:
    e = Editor(LoadedImage.from_rgba(np.full((3000, 4000, 4), 255, np.uint8)))
    assert e.paint(np.array([[1000.0, 1000.0], [1100.0, 1040.0]]), 10, add=True)
    (step,) = e.history._steps
    y0, y1, x0, x1 = step.box
    assert (y1 - y0) * (x1 - x0) < 130 * 70 and e.history.nbytes == 2 * (y1 - y0) * (x1 - x0)


@pytest.mark.parametrize("points,box,multimask", [
    (1, False, True), (0, True, True), (2, False, False), (1, True, False), (3, True, False)])
def test_one_candidate_rule(points: int, box: bool, multimask: bool) -> None:
    assert is_ambiguous(points, box) == multimask
    scores = np.array([0.1, 0.3, 0.9, 0.5])
    assert default_token(scores, points, box) == (2 if multimask else 0)


def test_a_paint_stroke_is_announced_with_its_rectangle() -> None:
    editor = Editor(image())
    heard = []
    editor.listeners.append(heard.append)
    assert editor.paint(np.array([[10.0, 12.0], [20.0, 12.0]]), 3.0, add=True)
    change = heard[-1]
    assert {"selection", "history"} <= change.parts and "proposal" not in change.parts
    x0, y0, x1, y1 = change.rect
    ys, xs = np.nonzero(editor.selection)
    assert (x0, y0) <= (xs.min(), ys.min()) and x1 > xs.max() and y1 > ys.max()  # the stroke's own box
    assert x1 - x0 < W and y1 - y0 < H
    editor.undo()
    assert heard[-1].rect == change.rect and not editor.selection.any()
