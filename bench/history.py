"""What one paint stroke costs the undo history on a 12 MP image, before and after the editor core.

    python bench/history.py [ROUNDS]

"before" is the old rule, rebuilt here as the baseline of the same run: the brush paints into a
full copy of the selection and the history diffs old and new over the whole image to find the
changed rectangle, then copies it twice. "after" is ``Editor.paint``: the brush's own box is the
step's box; only that rectangle is read, compared and copied. Prints median milliseconds per
stroke for short and long strokes, the ratio, and the bytes each step holds.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from samcut.models.document import selection as ops
from samcut.models.document.imageio import LoadedImage
from samcut.models.editor import Editor
from samcut.models.editor.history import changed_box

H, W = 3000, 4000


def old_paint(selection: np.ndarray, path: np.ndarray, radius: float) -> tuple[np.ndarray, int]:
    new = ops.paint(selection, path, radius, True)  # full copy
    box = changed_box(selection, new)                # whole-image diff
    if box is None:
        return selection, 0
    y0, y1, x0, x1 = box
    kept = selection[y0:y1, x0:x1].copy(), new[y0:y1, x0:x1].copy()
    return new, sum(k.nbytes for k in kept)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rng = np.random.default_rng(0)
    image = LoadedImage.from_rgba(np.full((H, W, 4), 255, np.uint8))
    print(f"{W} x {H} selection, {rounds} strokes per case (median ms per stroke)")
    for name, length, radius in (("dab", 5, 12), ("short stroke", 150, 20), ("long stroke", 1200, 40)):
        before, after, bytes_before, bytes_after = [], [], [], []
        editor = Editor(image)
        selection = np.zeros((H, W), np.uint8)
        for _ in range(rounds):
            x, y = rng.uniform(200, W - 1400), rng.uniform(200, H - 400)
            t = np.linspace(0, 1, 24)
            path = np.stack([x + length * t, y + 80 * np.sin(6 * t)], axis=1)
            start = time.perf_counter()
            selection, held = old_paint(selection, path, radius)
            before.append((time.perf_counter() - start) * 1000)
            bytes_before.append(held)
            held_now = editor.history.nbytes
            start = time.perf_counter()
            editor.paint(path, radius, add=True)
            after.append((time.perf_counter() - start) * 1000)
            bytes_after.append(editor.history.nbytes - held_now)
        assert np.array_equal(selection, editor.selection)
        b, a = statistics.median(before), statistics.median(after)
        held_b, held_a = statistics.median(bytes_before) / 1e3, statistics.median(bytes_after) / 1e3
        print(f"{name:13s} before {b:7.2f} ms  after {a:6.2f} ms  x{b / a:5.1f} faster; "
              f"step holds {held_b:.0f} kB / {held_a:.0f} kB")


if __name__ == "__main__":
    main()
