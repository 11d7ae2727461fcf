"""The quality model below the window: the editor's replay rule, the service's decode chains,
the quality lane's caches, cancellation and priority, and the shared decoder session."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fake_engine import FakeEngine

from samcut.models.document.imageio import LoadedImage
from samcut.models.document.strokes import Stroke
from samcut.models.editor import Editor
from samcut.models.editor.headless import segment
from samcut.models.engine.quality import QualityTier, load_quality_engine, same_decoder
from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService
from samcut.models.io.platform import BACKGROUND_NICE

RNG = np.random.default_rng(5)
IMAGE = LoadedImage(RNG.integers(0, 255, (120, 180, 3), dtype=np.uint8), None, "RGB")
BOX = (40.0, 30.0, 140.0, 100.0)
CLICKS = [(90.0, 60.0, 1), (70.0, 50.0, 1), (110.0, 70.0, 0)]


def settle(editor: Editor, service: SegmentationService, handle, request) -> None:
    editor.accept(request.revision, service.decode(handle, request.prompt, request.lead).result())


def build_prompt(editor: Editor, service: SegmentationService, handle) -> None:
    """A box, then the clicks, each decoded before the next (as a user waits for each answer)."""
    editor.set_box(BOX)
    settle(editor, service, handle, editor.decode_request(model=handle.model))
    for x, y, label in CLICKS:
        editor.begin_stroke()
        editor.add_stroke(Stroke(((x, y),), positive=bool(label)))
        settle(editor, service, handle, editor.decode_request(model=handle.model))


@pytest.mark.parametrize("models", ["fakes", "real"])
def test_a_replayed_prompt_gets_what_segment_gives_with_that_model(models, test_model_dir,
                                                                   synthetic_model_dir) -> None:
    if models == "fakes":
        quick, better = FakeEngine("quick"), FakeEngine("quality", scale=1.7)
        alone = FakeEngine("quality", scale=1.7)
    else:
        from samcut.models.engine import SamEngine

        quick, better, alone = SamEngine(test_model_dir), SamEngine(synthetic_model_dir), SamEngine(synthetic_model_dir)
    tier = QualityTier(lambda: better, str(better.model_dir), synchronous=True)
    service = SegmentationService(quick, synchronous=True, quality=tier)
    reference = SegmentationService(alone, synchronous=True)
    try:
        editor = Editor(IMAGE)
        handle = service.open_image(IMAGE.model_rgb())
        build_prompt(editor, service, handle)
        assert editor.proposal.model == service.model
        assert editor.replay_request(service.model) is None  # already that model's answer
        upgrade = service.upgrade(handle)
        request = editor.replay_request(upgrade.model)
        assert request.revision == editor.revision and len(request.lead) == 1 + len(CLICKS) - 1
        steps = len(editor.history)
        settle(editor, service, upgrade, request)
        assert editor.proposal.model == upgrade.model and len(editor.history) == steps
        editor.commit(editor_mode())
        expected = segment(reference, IMAGE, CLICKS, BOX)
        np.testing.assert_array_equal(editor.selection, expected)
    finally:
        service.close()
        reference.close()


def editor_mode():
    from samcut.models.document.selection import Mode

    return Mode.REPLACE


def test_a_stroke_on_another_models_proposal_replays_the_prompt_and_a_picked_candidate_is_kept() -> None:
    quick, better = FakeEngine("quick"), FakeEngine("quality", scale=1.7)
    tier = QualityTier(lambda: better, "quality", synchronous=True)
    service = SegmentationService(quick, synchronous=True, quality=tier)
    try:
        editor = Editor(IMAGE)
        handle = service.open_image(IMAGE.model_rgb())
        editor.begin_stroke()
        editor.add_stroke(Stroke(((90.0, 60.0),), positive=True))
        settle(editor, service, handle, editor.decode_request(model=handle.model))
        editor.choose(3)  # the user picks the largest candidate
        same = editor.decode_request(model="quick")
        assert same.lead == ()
        editor.begin_stroke()
        live = Stroke(((90.0, 60.0), (95.0, 62.0)), positive=True)
        assert editor.decode_request(live, model="quick").lead == ()
        other = editor.decode_request(live, model="quality")
        assert other.prompt.mask_input is None and len(other.lead) == 1  # the first click, then the whole
        editor.add_stroke(Stroke(((90.0, 60.0),), positive=True))
        editor.undo()
        assert editor.proposal.chosen == 3 and editor.proposal.model == "quick"
        settle(editor, service, service.upgrade(handle), editor.replay_request("quality"))
        assert editor.proposal.model == "quality" and editor.proposal.chosen == 3  # kept: same token, same meaning
    finally:
        service.close()


def test_a_reopened_image_gets_its_quality_embedding_from_the_cache(tmp_path) -> None:
    def service_with(better: FakeEngine) -> SegmentationService:
        disk = EmbeddingDiskCache(tmp_path / "quality", "quality-model")
        tier = QualityTier(lambda: better, "quality", disk_cache=disk, synchronous=True)
        return SegmentationService(FakeEngine("quick"), synchronous=True, quality=tier)

    first, second = FakeEngine("quality"), FakeEngine("quality")
    for better in (first, second):
        service = service_with(better)
        try:
            handle = service.open_image(IMAGE.model_rgb())
            upgrade = service.upgrade(handle)
            upgrade.embedding.result()
        finally:
            service.close()
    assert first.encodes == 1 and second.encodes == 0 and upgrade.source == ["disk"]


def test_the_quality_encode_is_cancelled_by_another_image_and_by_close() -> None:
    gate = threading.Event()
    better = FakeEngine("quality", gate=gate)
    service = SegmentationService(FakeEngine("quick"), quality=QualityTier(lambda: better, "quality"))
    try:
        first = service.open_image(IMAGE.model_rgb())
        first_upgrade = service.upgrade(first)
        assert better.encoding.wait(20)
        second = service.open_image(IMAGE.model_rgb()[:60])
        assert service.upgrade(first) is None and service.upgrade(second) is not None
        with pytest.raises(Exception, match="cancelled"):
            first_upgrade.embedding.result(timeout=20)
        assert better.encoding.wait(20)  # the second image's quality encode runs now
    finally:
        service.close()
    assert better.cancelled_encodes == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are read from Linux")
def test_the_quality_lane_yields_the_cpu_and_its_pool_threads_inherit_that(test_model_dir, tmp_path) -> None:
    from samcut.models.engine import SamEngine

    quick = SamEngine(test_model_dir, threads=2)
    before = set(os.listdir("/proc/self/task"))
    tier = QualityTier(lambda: load_quality_engine(test_model_dir, quick, threads=2, precision="fp32"), "q")
    service = SegmentationService(quick, quality=tier)
    try:
        handle = service.open_image(IMAGE.model_rgb())
        service.upgrade(handle).embedding.result(timeout=120)
        new = sorted(set(os.listdir("/proc/self/task")) - before)
        nice = {int(t): os.getpriority(os.PRIO_PROCESS, int(t)) for t in new if os.path.exists(f"/proc/self/task/{t}")}
        lane = next(t for t in threading.enumerate() if t.name.startswith("samcut-quality"))
        assert nice[lane.native_id] == BACKGROUND_NICE
        assert sorted(nice.values()).count(BACKGROUND_NICE) >= 2  # the lane and ONNX Runtime's pool thread made in it
        assert threading.current_thread() is threading.main_thread()
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0  # nobody else was lowered
    finally:
        service.close()


def test_one_decoder_session_serves_two_models_whose_decoders_are_the_same_file(test_model_dir, synthetic_model_dir,
                                                                                 tmp_path) -> None:
    from samcut.models.engine import SamEngine
    from samcut.models.engine.manifest import read_manifest_files

    quick = SamEngine(test_model_dir)
    twin = tmp_path / "twin"
    shutil.copytree(test_model_dir, twin)
    manifests = [read_manifest_files(Path(f))[0] for f in (test_model_dir, twin, synthetic_model_dir)]
    assert same_decoder(manifests[0], manifests[1]) and not same_decoder(manifests[0], manifests[2])
    assert load_quality_engine(twin, quick).decoder is quick.decoder
    other = load_quality_engine(synthetic_model_dir, quick)
    assert other.decoder is not quick.decoder and other.encoder is None  # made by its first encode
