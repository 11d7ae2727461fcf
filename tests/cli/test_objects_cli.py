"""``samcut objects`` and ``samcut segment --subject``."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from samcut.cli.main import main

from reference import synthetic_dir


def test_objects_writes_masks_and_a_list_best_first_and_reuses_the_cache(synthetic_model_dir, tmp_path,
                                                                         capsys) -> None:
    image = synthetic_dir() / "composite_1.png"
    out = tmp_path / "objects"
    assert main(["objects", str(image), "--out", str(out), "--models", str(synthetic_model_dir),
                 "--max-objects", "5"]) == 0
    listed = json.loads((out / "objects.json").read_text())["objects"]
    assert [o["file"] for o in listed] == [f"object_{i:03d}.png" for i in range(1, 6)]
    assert [o["score"] for o in listed] == sorted((o["score"] for o in listed), reverse=True)
    for entry in listed:
        mask = np.asarray(Image.open(out / entry["file"]))
        x0, y0, x1, y1 = entry["box"]
        ys, xs = np.nonzero(mask)
        assert mask.shape == (1024, 1536) and set(np.unique(mask)) <= {0, 255}
        assert abs(int(xs.min()) - x0) <= 8 and abs(int(ys.max()) + 1 - y1) <= 8
        assert abs(int((mask > 0).sum()) - entry["area"]) <= 0.05 * entry["area"]
    err = capsys.readouterr().err
    assert "finding objects" in err and "256/256 points" in err
    assert main(["objects", str(image), "--out", str(tmp_path / "again"), "--models", str(synthetic_model_dir),
                 "--max-objects", "5"]) == 0  # from the cache: no grid this time
    assert "256/256" not in capsys.readouterr().err
    assert json.loads((tmp_path / "again" / "objects.json").read_text())["objects"] == listed
    assert main(["segment", str(image), "--subject", "--mask", str(tmp_path / "subject.png"),
                 "--models", str(synthetic_model_dir)]) == 0
    subject = np.asarray(Image.open(tmp_path / "subject.png"))
    assert 0.01 < (subject > 0).mean() < 0.7
    assert main(["segment", str(image), "--subject", "--point", "5,5", "--mask", str(tmp_path / "s.png")]) == 2
