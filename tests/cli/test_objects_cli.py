"""``samcut objects`` and ``samcut segment --subject``."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from samcut.cli.main import main
from samcut.models.engine import SamEngine
from samcut.models.engine.postprocess import full_mask
from samcut.models.engine.types import Prompt

from reference import synthetic_dir

LOOSE = ["--pred-iou-thresh", "0.38", "--stability-score-thresh", "0.5"]  # (these weights pass none of SAM's)


def test_objects_writes_the_decoders_masks_and_a_list_best_first_and_reuses_the_cache(synthetic_model_dir, tmp_path,
                                                                                      capsys) -> None:
    image = synthetic_dir() / "composite_1.png"
    out = tmp_path / "objects"
    assert main(["objects", str(image), "--out", str(out), "--models", str(synthetic_model_dir),
                 "--max-objects", "5", *LOOSE]) == 0
    listed = json.loads((out / "objects.json").read_text())["objects"]
    assert [o["file"] for o in listed] == [f"object_{i:03d}.png" for i in range(1, len(listed) + 1)]
    assert 1 <= len(listed) <= 5
    assert [o["predicted_iou"] for o in listed] == sorted((o["predicted_iou"] for o in listed), reverse=True)
    engine = SamEngine(synthetic_model_dir)
    embedding = engine.encode(np.asarray(Image.open(image).convert("RGB")))
    for entry in listed:
        mask = np.asarray(Image.open(out / entry["file"]))
        assert mask.shape == (1024, 1536) and set(np.unique(mask)) <= {0, 255}
        assert entry["predicted_iou"] > 0.38 and entry["stability_score"] >= 0.5
        ys, xs = np.nonzero(mask)
        assert entry["box"] == [xs.min(), ys.min(), xs.max(), ys.max()] and entry["area"] == int((mask > 0).sum())
        # the file is the decoder's own mask for that grid point (one of its three candidates)
        low, _ = engine.decode_low_res_batch(embedding, [Prompt(points=[tuple(entry["point"])], labels=[1])])
        ious = []
        for token in (1, 2, 3):
            decoded = full_mask(low[0, token], embedding.input_size, embedding.original_size)
            ious.append((decoded & (mask > 0)).sum() / (decoded | (mask > 0)).sum())
        assert max(ious) > 0.995, ious
    err = capsys.readouterr().err
    assert "finding objects" in err and "256/256 points" in err
    assert main(["objects", str(image), "--out", str(tmp_path / "again"), "--models", str(synthetic_model_dir),
                 "--max-objects", "5", *LOOSE]) == 0  # from the cache: no grid this time
    assert "256/256" not in capsys.readouterr().err
    assert json.loads((tmp_path / "again" / "objects.json").read_text())["objects"] == listed


def test_at_sams_defaults_these_weights_keep_nothing_and_the_subject_says_it_is_a_guess(synthetic_model_dir,
                                                                                     tmp_path, capsys) -> None:
    image = synthetic_dir() / "composite_1.png"
    assert main(["objects", str(image), "--out", str(tmp_path / "none"), "--models", str(synthetic_model_dir)]) == 0
    assert json.loads((tmp_path / "none" / "objects.json").read_text())["objects"] == []
    err = capsys.readouterr().err
    assert "none passed --pred-iou-thresh 0.88 and --stability-score-thresh 0.95" in err
    assert main(["segment", str(image), "--subject", "--mask", str(tmp_path / "subject.png"),
                 "--models", str(synthetic_model_dir)]) == 0
    assert "subject: no object passed SAM's quality thresholds" in capsys.readouterr().err
    subject = np.asarray(Image.open(tmp_path / "subject.png"))
    assert 0.001 < (subject > 0).mean() < 0.7
    assert main(["segment", str(image), "--subject", "--point", "5,5", "--mask", str(tmp_path / "s.png")]) == 2
    assert main(["objects", str(image), "--out", str(tmp_path / "x"), "--pred-iou-thresh", "1.5"]) == 2
    assert "--pred-iou-thresh must be between 0 and 1" in capsys.readouterr().err
