"""The last selection per image file: kept, recalled only for the same file, never trusted blindly."""

from __future__ import annotations

import numpy as np
from PIL import Image

from samcut.models.document.selection_memory import SelectionMemory


def test_recall_gives_back_the_selection_of_that_file_only(tmp_path) -> None:
    image = tmp_path / "a.png"
    Image.new("RGB", (40, 30)).save(image)
    memory = SelectionMemory(tmp_path / "mem")
    selection = np.zeros((30, 40), np.uint8)
    selection[5:20, 10:30] = 200
    memory.remember(image, selection)
    np.testing.assert_array_equal(memory.recall(image, (30, 40)), selection)
    assert memory.recall(image, (31, 40)) is None  # another size: not this image's (the entry goes)
    memory.remember(image, selection)
    (entry,) = (tmp_path / "mem").glob("*.png")
    entry.write_bytes(b"\x89PNG damaged")
    assert memory.recall(image, (30, 40)) is None and not entry.exists()
    memory.remember(image, selection)
    memory.remember(image, np.zeros_like(selection))  # an empty selection forgets
    assert memory.recall(image, (30, 40)) is None
    assert memory.recall(tmp_path / "missing.png", (30, 40)) is None
