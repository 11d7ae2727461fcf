"""One editor behind every door: the same prompt gives the same mask in the app (real mouse
events), ``samcut segment`` and ``samcut host`` (synthetic model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main

from helpers import drag, open_now, wait_for_encode
from reference import synthetic_dir

INDEX = 1


def interior(truth: np.ndarray) -> list[tuple[int, int]]:
    """Two points well inside the object, (x, y)."""
    ys, xs = np.nonzero(truth)
    order = np.argsort(ys)
    picks = [order[len(order) // 3], order[2 * len(order) // 3]]
    return [(int(xs[i]), int(ys[i])) for i in picks]


def through_segment(tmp_path, image, points, box, models) -> np.ndarray:
    out = tmp_path / "segment.png"
    args = ["segment", str(image), "--models", str(models), "--mask", str(out)]
    for x, y, label in points:
        args += ["--point", f"{x!r},{y!r},{label}"]
    if box is not None:
        args += ["--box", ",".join(repr(v) for v in box)]
    assert main(args) == 0
    return np.asarray(Image.open(out))


def through_host(tmp_path, image, points, box, models) -> np.ndarray:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"protocol": 1, "image": str(image), "response": str(tmp_path / "response.json"),
                                   "interactive": False, "points": points, "box": box}))
    assert main(["host", str(request), "--models", str(models)]) == 0
    response = json.loads((tmp_path / "response.json").read_text())
    assert response["status"] == "ok", response
    return np.asarray(Image.open(response["mask"]))


@pytest.mark.parametrize("prompt", ["1 click", "2 clicks", "box + click", "box"])
def test_app_segment_and_host_agree(qtbot, synthetic_window, synthetic_model_dir, tmp_path, prompt) -> None:
    window = synthetic_window
    window.regions.automatic = False  # the whole image's encode, as the CLI uses
    window.bars.refine_action.setChecked(False)
    image = synthetic_dir() / f"composite_{INDEX}.png"
    truth = np.asarray(Image.open(synthetic_dir() / f"composite_{INDEX}_mask.png").convert("L")) > 127
    assert open_now(qtbot, window, image)
    wait_for_encode(qtbot, window)
    editor = window.editor
    clicks = interior(truth)[: 0 if prompt == "box" else 1 if prompt in ("1 click", "box + click") else 2]
    if "box" in prompt:
        ys, xs = np.nonzero(truth)
        window.bars.tool_actions["box"].trigger()
        drag(window.canvas, [(xs.min() - 8, ys.min() - 8), (xs.mean(), ys.mean()), (xs.max() + 8, ys.max() + 8)])
        window.bars.tool_actions["smart"].trigger()
        qtbot.waitUntil(lambda: editor.proposal is not None and not editor.awaiting_answer, timeout=60_000)
    for x, y in clicks:
        count = len(editor.prompt.strokes)
        before = editor.proposal
        drag(window.canvas, [(x, y)])
        qtbot.waitUntil(lambda c=count, b=before: len(editor.prompt.strokes) == c + 1
                        and editor.proposal is not b and not editor.awaiting_answer, timeout=60_000)
    # What the mouse gave the editor, to the pixel's fraction, is what the CLI and host are given.
    points = [[*stroke.path[0], 1] for stroke in editor.prompt.strokes]
    box = list(editor.prompt.box) if editor.prompt.box is not None else None
    window.actions_by_name["commit"].trigger()
    app = window.editor.selection.copy()
    assert app.any() and app.max() == 255
    seg = through_segment(tmp_path, image, points, box, synthetic_model_dir)
    host = through_host(tmp_path, image, points, box, synthetic_model_dir)
    np.testing.assert_array_equal(seg, app)
    np.testing.assert_array_equal(host, app)
    inside = truth[app > 127].mean()
    assert inside > 0.5, f"{prompt}: only {inside:.0%} of the selection is on the object"


def test_a_click_on_a_found_object_means_the_same_in_app_and_cli(qtbot, synthetic_window, synthetic_model_dir,
                                                                 tmp_path) -> None:
    """The click rule, once the Object Finder is done: the app's click takes the object that hover
    highlights there (one candidate with its own score), ``segment --snap`` takes the same, and
    Select > Subject equals ``segment --subject``."""
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest

    from helpers import widget_point

    window = synthetic_window
    window.regions.automatic = False
    window.bars.refine_action.setChecked(False)
    image = synthetic_dir() / f"composite_{INDEX}.png"
    truth = np.asarray(Image.open(synthetic_dir() / f"composite_{INDEX}_mask.png").convert("L")) > 127
    assert open_now(qtbot, window, image)
    wait_for_encode(qtbot, window)
    qtbot.waitUntil(lambda: window.finder.objects is not None, timeout=300_000)  # found while the test is idle
    editor = window.editor
    x, y = interior(truth)[0]
    QTest.mouseMove(window.canvas, widget_point(window.canvas, x, y))
    hovered = window.finder.under(x, y)
    assert hovered is not None and window.hover._shown_object is hovered  # what hover highlights...
    drag(window.canvas, [(x, y)])
    proposal = editor.proposal
    assert proposal is not None and proposal.count == 1 and not editor.awaiting_answer  # ...a click takes
    assert abs(proposal.score - hovered.predicted_iou) < 1e-6
    # ... and it is the decoder's own mask for that object: one of the three candidates of its grid point
    from samcut.models.engine.postprocess import full_mask, upsample_logits
    from samcut.models.engine.types import Prompt

    engine, embedding = window.bridge.service.engine, window.bridge.handle.embedding.result()
    low, _ = engine.decode_low_res(embedding, Prompt(points=[hovered.point], labels=[1]))
    shown = proposal.mask()
    decoded = [full_mask(low[token], embedding.input_size, embedding.original_size) for token in (1, 2, 3)]
    token = 1 + int(np.argmax([(d == shown).mean() for d in decoded]))
    near_zero = np.abs(upsample_logits(low[token], embedding.input_size, embedding.original_size)[0]) < 0.05
    assert np.array_equal(decoded[token - 1][~near_zero], shown[~near_zero])  # (float16 logits: equal but at ~0)
    assert near_zero.mean() < 0.01
    point = editor.prompt.strokes[0].path[0]
    window.actions_by_name["commit"].trigger()
    app = editor.selection.copy()
    out = tmp_path / "snap.png"
    assert main(["segment", str(image), "--models", str(synthetic_model_dir), "--mask", str(out), "--snap",
                 "--point", f"{point[0]!r},{point[1]!r}"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), app)

    window.actions_by_name["select_none"].trigger()
    window.select_subject()
    window.actions_by_name["commit"].trigger()
    out = tmp_path / "subject.png"
    assert main(["segment", str(image), "--models", str(synthetic_model_dir), "--mask", str(out), "--subject"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), editor.selection)
    subject = window.finder.subject()  # the subject is the decoder's mask for its object too
    low, _ = engine.decode_low_res(embedding, Prompt(points=[subject.point], labels=[1]))
    decoded = [full_mask(low[token], embedding.input_size, embedding.original_size) for token in (1, 2, 3)]
    assert max((d == (editor.selection > 127)).mean() for d in decoded) > 0.9999
    QTest.mouseMove(window.canvas, QPoint(1, 1))


@pytest.mark.parametrize("name", ["sam_vit_b", "sam2.1_hiera_tiny"])
def test_every_family_gives_the_same_mask_in_app_segment_and_host(qtbot, window_on, family_model_dir, tmp_path,
                                                                  name) -> None:
    """SAM ViT-B and SAM 2.1 through the same doors: a box and a click (SAM 2.1 puts the box's tokens
    first and picks its single mask by stability) give one mask in the app, ``segment`` and ``host``."""
    from samcut.models.engine import SamEngine

    from reference import generated_goldens

    folder = family_model_dir(name)
    window = window_on(SamEngine(folder))
    window.regions.automatic = False
    window.bars.refine_action.setChecked(False)
    image = tmp_path / "coffee.png"
    Image.fromarray(np.load(generated_goldens(name)[-1])["image"]).save(image)  # coffee_600x400
    assert open_now(qtbot, window, image)
    wait_for_encode(qtbot, window)
    editor = window.editor
    window.bars.tool_actions["box"].trigger()
    drag(window.canvas, [(180, 90), (300, 200), (470, 330)])
    window.bars.tool_actions["smart"].trigger()
    qtbot.waitUntil(lambda: editor.proposal is not None and not editor.awaiting_answer, timeout=120_000)
    before = editor.proposal
    drag(window.canvas, [(300, 180)])
    qtbot.waitUntil(lambda: editor.proposal is not before and not editor.awaiting_answer, timeout=120_000)
    points = [[*stroke.path[0], 1] for stroke in editor.prompt.strokes]
    box = list(editor.prompt.box)
    window.actions_by_name["commit"].trigger()
    app = editor.selection.copy()
    assert app.any() and not app.all()
    np.testing.assert_array_equal(through_segment(tmp_path, image, points, box, folder), app)
    np.testing.assert_array_equal(through_host(tmp_path, image, points, box, folder), app)
