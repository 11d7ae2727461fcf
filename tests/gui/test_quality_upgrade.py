"""Fast first, exact later, through the real window: a quick and a quality fake model (two fakes
whose masks differ; the quality encode ends when the test opens its gate)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fake_engine import FakeEngine
from PIL import Image

from samcut.models.document.imageio import load_image
from samcut.models.document.selection import Mode
from samcut.models.editor.headless import segment
from samcut.models.engine.quality import QualityTier
from samcut.models.engine.service import SegmentationService

from conftest import close_discarding
from helpers import drag, open_now, wait_for_encode, wait_for_proposal

CLICKS = [(150.0, 100.0), (170.0, 110.0)]


def quality_window(qtbot, quick, better, expected_s: float = 0.5):
    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences

    tier = QualityTier(lambda: better, str(better.model_dir), "Fake Quality", expected_s)
    window = MainWindow(EngineBridge(SegmentationService(quick, quality=tier)), Preferences())
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    window.regions.automatic = False
    window.bars.refine_action.setChecked(False)
    window.hover.enabled = False  # (hover decodes would only add noise to the counts)
    return window


def photo(path, seed: int = 0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture()
def two_models(qtbot, tmp_path):
    gate = threading.Event()
    quick, better = FakeEngine("quick"), FakeEngine("quality", scale=1.6, gate=gate)
    window = quality_window(qtbot, quick, better)
    yield window, quick, better, gate
    gate.set()
    close_discarding(window)


def expected(model: FakeEngine, path, clicks) -> np.ndarray:
    """What ``samcut segment`` gives for ``clicks`` with this model alone (the same editor, headless)."""
    service = SegmentationService(FakeEngine(str(model.model_dir), model.scale), synchronous=True)
    try:
        return segment(service, load_image(path), [(x, y, 1) for x, y in clicks], None)
    finally:
        service.close()


def opened(qtbot, window, tmp_path):
    """A photo opened in ``window`` and encoded by the quick model; its path."""
    path = photo(tmp_path / "photo.png")
    assert open_now(qtbot, window, path)
    wait_for_encode(qtbot, window)
    return path


def click(window, x: float, y: float) -> None:
    drag(window.canvas, [(x, y)])


def clicked(editor) -> list[tuple[float, float]]:
    """The image points the clicks landed on (through the view's rounding)."""
    return [stroke.path[0] for stroke in editor.prompt.strokes]


def test_a_stroke_during_the_quality_encode_is_answered_quick_first_then_again_by_the_quality_model(
        qtbot, two_models, tmp_path) -> None:
    window, quick, better, gate = two_models
    path = opened(qtbot, window, tmp_path)
    qtbot.waitUntil(better.encoding.is_set, timeout=20_000)  # the quality model encodes now, in the background
    qtbot.waitUntil(lambda: window.status.quality_label.text().startswith("Refining: Fake Quality"),
                    timeout=20_000)
    assert window.status.quality_bar.isVisible()

    click(window, *CLICKS[0])
    wait_for_proposal(qtbot, window)
    editor = window.editor
    first = editor.proposal
    assert first.model == "quick"
    steps, revision = len(editor.history), editor.revision

    gate.set()
    qtbot.waitUntil(lambda: editor.proposal.model == "quality", timeout=20_000)
    assert len(editor.history) == steps and editor.revision == revision  # in place: no undo step
    assert window.status.quality_label.text().startswith("Now Fake Quality answers")
    assert not window.status.quality_bar.isVisible()
    assert not np.array_equal(editor.proposal.full(), first.full())

    click(window, *CLICKS[1])  # a later stroke: the quality model answers it
    qtbot.waitUntil(lambda: editor.proposal is not None and not editor.awaiting_answer
                    and len(editor.prompt.strokes) == 2, timeout=20_000)
    assert editor.proposal.model == "quality"
    points = clicked(editor)
    window.commit(Mode.REPLACE)
    np.testing.assert_array_equal(editor.selection, expected(better, path, points))
    assert quick.encodes == 1 and better.encodes == 1


def test_undo_and_redo_across_the_upgrade_restore_exact_states(qtbot, two_models, tmp_path) -> None:
    window, _quick, better, gate = two_models
    opened(qtbot, window, tmp_path)
    editor = window.editor
    click(window, *CLICKS[0])
    wait_for_proposal(qtbot, window)
    one_click = editor.proposal
    click(window, *CLICKS[1])
    qtbot.waitUntil(lambda: len(editor.prompt.strokes) == 2 and not editor.awaiting_answer, timeout=20_000)
    gate.set()
    qtbot.waitUntil(lambda: editor.proposal.model == "quality", timeout=20_000)
    upgraded = editor.proposal

    window.actions_by_name["undo"].trigger()
    assert len(editor.prompt.strokes) == 1
    assert editor.proposal.model == "quick"  # exactly what the one-click prompt showed
    np.testing.assert_array_equal(editor.proposal.low_res_logits, one_click.low_res_logits)
    window.actions_by_name["redo"].trigger()
    assert len(editor.prompt.strokes) == 2 and editor.proposal.model == "quality"
    np.testing.assert_array_equal(editor.proposal.low_res_logits, upgraded.low_res_logits)
    assert editor.proposal.chosen == upgraded.chosen


def test_nothing_lands_on_a_prompt_changed_while_the_quality_answer_was_on_its_way(
        qtbot, two_models, tmp_path) -> None:
    window, _quick, better, gate = two_models
    path = opened(qtbot, window, tmp_path)
    click(window, *CLICKS[0])
    wait_for_proposal(qtbot, window)
    editor = window.editor
    replayed: list[int] = []
    shown: list = []  # every quality proposal shown while the prompt had two clicks
    editor.listeners.append(lambda change: "proposal" in change.parts and editor.proposal is not None
                            and editor.proposal.model == "quality" and len(editor.prompt.strokes) == 2
                            and shown.append(editor.proposal))
    # Right after the window asked for the replay of the one-click prompt, the user clicks again.
    window.bridge.upgraded.connect(lambda *_: (replayed.append(editor.revision), click(window, *CLICKS[1])))
    gate.set()
    qtbot.waitUntil(lambda: bool(replayed) and len(editor.prompt.strokes) == 2 and not editor.awaiting_answer
                    and editor.proposal.model == "quality", timeout=20_000)
    assert editor.revision != replayed[0]
    assert shown and all(np.array_equal(p.low_res_logits, editor.proposal.low_res_logits) for p in shown)
    points = clicked(editor)
    window.commit(Mode.REPLACE)
    np.testing.assert_array_equal(editor.selection, expected(better, path, points))


def test_another_image_cancels_the_quality_encode_and_starts_its_own(qtbot, two_models, tmp_path) -> None:
    window, _quick, better, gate = two_models
    assert open_now(qtbot, window, photo(tmp_path / "a.png", 1))
    qtbot.waitUntil(better.encoding.is_set, timeout=20_000)
    assert open_now(qtbot, window, photo(tmp_path / "b.png", 2))
    qtbot.waitUntil(lambda: better.cancelled_encodes == 1 and better.encoding.is_set(), timeout=20_000)
    gate.set()
    qtbot.waitUntil(lambda: window.bridge.handle.model == "quality", timeout=20_000)
    assert window.bridge.handle.size == (200, 300) and better.encodes == 2


def test_choosing_other_models_cancels_the_quality_encode_and_answers_the_prompt_again(
        qtbot, two_models, tmp_path, monkeypatch) -> None:
    from samcut.gui import dialogs
    from samcut.gui.engine_bridge import EngineBridge

    window, _quick, better, _gate = two_models
    path = opened(qtbot, window, tmp_path)
    click(window, *CLICKS[0])
    wait_for_proposal(qtbot, window)
    qtbot.waitUntil(better.encoding.is_set, timeout=20_000)
    other = FakeEngine("other", scale=0.6)
    monkeypatch.setattr(dialogs, "make_bridge", lambda *_args: EngineBridge(SegmentationService(other)))
    window.switch_models()  # what the Model menu does once the choice is stored
    assert better.cancelled_encodes == 1
    editor = window.editor
    qtbot.waitUntil(lambda: editor.proposal.model == "other" and not editor.awaiting_answer, timeout=20_000)
    points = clicked(editor)
    window.commit(Mode.REPLACE)
    np.testing.assert_array_equal(editor.selection, expected(other, path, points))


def test_the_object_finder_waits_for_the_quality_model_and_finds_with_it(qtbot, two_models, tmp_path) -> None:
    window, quick, better, gate = two_models
    opened(qtbot, window, tmp_path)
    qtbot.waitUntil(better.encoding.is_set, timeout=20_000)
    assert window.finder.finder is None and quick.decodes == 0  # no grid decodes during the quality encode
    gate.set()
    qtbot.waitUntil(lambda: window.finder.objects is not None, timeout=60_000)
    assert better.decodes > 0 and quick.decodes == 0


def test_the_model_menu_lists_installed_models_and_stores_the_choice_for_everyone(
        qtbot, tmp_path, monkeypatch, test_model_dir, synthetic_model_dir) -> None:
    import shutil

    from samcut.gui import dialogs
    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences
    from samcut.models.store.choice import chosen_quality_dir

    root = tmp_path / "models"
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(root))
    quick, better = root / "quick_test", root / "synthetic"
    shutil.copytree(test_model_dir, quick)
    shutil.copytree(synthetic_model_dir, better)
    preferences = Preferences(model_dir=str(quick))
    loaded: list = []

    def fake_bridge(folder, prefs, quality=True):  # noqa: ANN001, ANN202 - what make_bridge is given, no model loaded
        loaded.append((folder, chosen_quality_dir(prefs, folder) if quality else None))
        tier = QualityTier(lambda: FakeEngine(str(better)), str(better)) if loaded[-1][1] else None
        return EngineBridge(SegmentationService(FakeEngine(str(folder)), quality=tier))

    monkeypatch.setattr(dialogs, "make_bridge", fake_bridge)
    window = MainWindow(fake_bridge(quick, preferences), preferences)
    try:
        window.show()
        menu = window.model_menu
        menu.rebuild()
        assert menu.actions[f"quick:{quick}"].isChecked() and menu.actions["quality:"].isChecked()
        assert f"quality:{quick}" not in menu.actions  # the quick model is not offered as its own quality model
        assert "install:sam2.1_hiera_small" in menu.actions and "SAM 2.1" in menu.actions[
            "install:sam2.1_hiera_small"].text()
        menu.actions[f"quality:{better}"].trigger()
        assert loaded[-1] == (quick, better)
        assert Preferences.load().quality_model == str(better)  # stored: the CLI and hosts read it
        menu.rebuild()
        assert menu.actions[f"quality:{better}"].isChecked()
        assert window.bridge.service.quality is not None
        menu.actions["quality:"].trigger()
        assert Preferences.load().quality_model == "" and window.bridge.service.quality is None
    finally:
        close_discarding(window)
