"""The Object Finder: candidates from a point grid, deduplicated; the subject rule; storage."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samcut.models.engine import SamEngine
from samcut.models.engine.finder import (
    FoundObject,
    ObjectFinder,
    find_objects,
    from_arrays,
    grid_points,
    main_subject,
    object_under,
    to_arrays,
)
from samcut.models.engine.postprocess import full_mask

from reference import synthetic_dir

SIZE = (1024, 1536)  # (H, W) of the composites
INPUT = (683, 1024)


def blob(cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[0:256, 0:256]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def found(mask: np.ndarray, score: float, box=(0, 0, 10, 10), area=None, point=(1.0, 1.0)) -> FoundObject:
    return FoundObject(mask, box, int(mask.sum() * 36) if area is None else area, score, point)


def test_duplicates_keep_the_better_one_and_the_rest_come_best_first() -> None:
    finder = ObjectFinder(SIZE, INPUT, per_side=2)
    logits = np.full((4, 256, 256), -5.0, np.float32)
    logits[1][blob(60, 60, 20)] = 5.0
    logits[2][blob(60, 61, 20)] = 5.0   # nearly the same mask: a duplicate
    logits[3][blob(120, 180, 30)] = 5.0
    finder.add((10.0, 10.0), logits, np.array([0.9, 0.5, 0.8, 0.6], np.float32))
    objects = finder.objects()
    assert len(objects) == 2 and [round(o.score, 2) for o in objects] == [0.8, 0.6]
    assert objects[0].mask[60, 61] and objects[1].mask[120, 180]


def test_objects_survive_storage_and_the_pointer_finds_the_smallest_good_one() -> None:
    part, whole = found(blob(100, 100, 10), 0.8), found(blob(100, 100, 40), 0.9)
    weak = found(blob(100, 100, 5), 0.2)
    back = from_arrays(to_arrays([whole, part, weak]))
    assert [o.score for o in back] == [0.9, 0.8, 0.2] and np.array_equal(back[1].mask, part.mask)
    point = (100 * 4 * SIZE[1] / INPUT[1], 100 * 4 * SIZE[0] / INPUT[0])  # image pixels over cell (100, 100)
    assert object_under(back, point, SIZE) is back[1]  # the part, not the group; the weak speck is skipped
    assert object_under(back, (5.0, 5.0), SIZE) is None

    with pytest.raises(ValueError):
        from_arrays({**to_arrays([part]), "object_scores": np.zeros(3)})


def test_the_subject_is_central_sizeable_good_and_not_the_background() -> None:
    h, w = SIZE
    background = found(blob(128, 128, 200), 0.95, box=(0, 0, w, h), area=int(0.9 * h * w))
    corner = found(blob(20, 20, 15), 0.9, box=(0, 0, 200, 200), area=int(0.03 * h * w))
    centre = found(blob(90, 128, 40), 0.7, box=(500, 300, 1000, 700), area=int(0.15 * h * w))
    speck = found(blob(90, 128, 2), 0.99, box=(760, 500, 776, 516), area=200)
    assert main_subject([background, corner, centre, speck], SIZE) is centre
    assert main_subject([], SIZE) is None
    assert len(grid_points(SIZE)) == 256 and grid_points(SIZE)[0] == (w / 32, h / 32)


def test_objects_on_the_synthetic_composites_include_the_pasted_object(synthetic_model_dir) -> None:
    """Of the listed objects, one matches the pasted object (IoU >= 0.5) on most composites.
    (The synthetic model's random encoder makes nearly the same features for every image, so
    its masks are blobs placed by the prompt: a test of the grid, frames and deduplication, not
    of finding what is there; its subject choice cannot be judged on it.)"""
    engine = SamEngine(synthetic_model_dir)
    matched = []
    for index in range(6):
        image = np.asarray(Image.open(synthetic_dir() / f"composite_{index}.png").convert("RGB"))
        truth = np.asarray(Image.open(synthetic_dir() / f"composite_{index}_mask.png").convert("L")) > 127
        embedding = engine.encode(image)
        objects = find_objects(lambda prompts, e=embedding: engine.decode_low_res_batch(e, prompts),
                               embedding.original_size,
                               embedding.input_size)
        assert objects and all(a.score >= b.score for a, b in zip(objects, objects[1:], strict=False))
        best = 0.0
        for obj in objects:
            mask = full_mask(obj.logits(), embedding.input_size, embedding.original_size)
            best = max(best, (mask & truth).sum() / (mask | truth).sum())
        matched.append(best)
    assert sum(iou >= 0.5 for iou in matched) >= 4, matched


def test_found_objects_keep_their_frame_through_storage() -> None:
    """SAM 2.1's objects lie on a stretched frame (the 256 grid over the whole image): hover, the click
    rule and the taken object's mask map them with it, and so after the cache too."""
    from samcut.models.engine.types import InputFrame

    stretched = InputFrame(1024, 1024, stretched=True)
    finder = ObjectFinder(SIZE, stretched, per_side=2)
    logits = np.full((4, 256, 256), -5.0, np.float32)
    logits[1][blob(128, 200, 30)] = 5.0
    finder.add((10.0, 10.0), logits, np.array([0.9, 0.9, 0.1, 0.1], np.float32))
    back = from_arrays(to_arrays(finder.objects()))
    assert back[0].frame == stretched
    # Cell (128, 200) of a stretched grid is image pixel (200 * 1536 / 256, 128 * 1024 / 256); in the padded
    # frame of the same image that cell would lie at other pixels.
    assert object_under(back, (200.5 * 1536 / 256, 128.5 * 1024 / 256), SIZE) is back[0]
    assert object_under(back, (200.5 * 4 * SIZE[1] / INPUT[1], 128.5 * 4 * SIZE[0] / INPUT[0]), SIZE) is None
