"""The Object Finder's time, and hover latency in the real window, as ratios to the decoder floor.

    python bench/finder.py MODEL_DIR [IMAGE]

Baseline, measured in the same run: the decoder session's floor, the fastest of 40 single-point
decodes on the image's embedding. Then:

- the grid's 256 decodes alone (batched as ``samcut objects`` runs them), then the finder over
  the same grid with SAM's defaults (what the app and ``samcut objects`` run) and with no
  thresholds (every one of the 768 candidates measured at full resolution, ``mask_stats``), each
  as a ratio to the decodes alone and to 256 decodes at the floor;
- hover latency in the real window (offscreen Qt): from a pointer-move event sent to the canvas
  to the preview painted, while the finder is not done (one decode each) and once it is (no
  decode), as medians over 30 moves and ratios to the floor.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from reference import synthetic_dir  # noqa: E402


def decoder_floor_ms(engine, embedding) -> float:  # noqa: ANN001
    from samcut.models.engine.types import Prompt

    h, w = embedding.original_size
    times = []
    for i in range(40):
        prompt = Prompt(points=[((i * 37) % w, (i * 53) % h)], labels=[1])
        started = time.perf_counter()
        engine.decode_low_res(embedding, prompt)
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def hover_latencies(window, app, points, timeout_s: float = 10.0) -> list[float]:  # noqa: ANN001
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    out = []
    for x, y in points:
        window.canvas.set_hover(None)
        window.hover._shown_object = None
        widget = window.canvas.to_widget(x, y)
        point = QPointF(widget.x(), widget.y())
        started = time.perf_counter()
        app.sendEvent(window.canvas, QMouseEvent(QEvent.Type.MouseMove, point, window.canvas.mapToGlobal(point),
                                                 Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                                 Qt.KeyboardModifier.NoModifier))
        while window.canvas._hover is None and time.perf_counter() - started < timeout_s:
            app.processEvents()
            time.sleep(0.0005)
        window.canvas.repaint()  # the preview on screen
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.imageio import load_image
    from samcut.models.document.preferences import Preferences
    from samcut.models.engine import SamEngine
    from samcut.models.engine.finder import find_objects
    from samcut.models.engine.service import SegmentationService

    models = Path(sys.argv[1])
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else synthetic_dir() / "composite_0.png"
    engine = SamEngine(models)
    image = load_image(path)
    embedding = engine.encode(image.model_rgb())
    floor = decoder_floor_ms(engine, embedding)
    from samcut.models.engine.finder import FinderSettings, grid_points
    from samcut.models.engine.types import Prompt

    print(f"image {path.name} {image.size[1]}x{image.size[0]}, {os.cpu_count()} CPUs")
    print(f"decoder floor (fastest of 40 single decodes): {floor:.1f} ms")
    grid = grid_points(embedding.original_size)
    started = time.perf_counter()
    for first in range(0, len(grid), 16):
        engine.decode_low_res_batch(embedding, [Prompt(points=[p], labels=[1]) for p in grid[first:first + 16]])
    decodes_ms = (time.perf_counter() - started) * 1000
    print(f"256 grid decodes alone (16 per run): {decodes_ms / 1000:.2f} s = {decodes_ms / (256 * floor):.2f}x "
          "256 decodes at the floor")
    for label, settings in (("SAM's defaults", FinderSettings()),
                            ("no thresholds", FinderSettings(pred_iou_thresh=0, stability_score_thresh=0))):
        started = time.perf_counter()
        objects = find_objects(lambda p: engine.decode_low_res_batch(embedding, p), embedding.original_size,
                               embedding.input_size, settings)
        finder_ms = (time.perf_counter() - started) * 1000
        passed = sum(o.passed for o in objects)
        print(f"finder, 16x16 grid, {label}: {passed} passed, {len(objects) - passed} stand-ins: "
              f"{finder_ms / 1000:.2f} s = {finder_ms / decodes_ms:.2f}x the decodes alone, "
              f"{finder_ms / (256 * floor):.2f}x 256 decodes at the floor")

    app = QApplication.instance() or QApplication([])
    window = MainWindow(EngineBridge(SegmentationService(SamEngine(models))), Preferences())
    window.resize(1200, 800)
    window.show()
    window.finder.start = lambda _ticket: None  # first: hover while no objects are known
    window.files.open_path(path)
    deadline = time.perf_counter() + 120
    while ((window.bridge.handle is None or not window.bridge.handle.embedding.done())
           and time.perf_counter() < deadline):
        app.processEvents()
        time.sleep(0.01)
    h, w = image.size
    points = [(w * (0.15 + 0.7 * ((i * 7) % 30) / 30), h * (0.15 + 0.7 * ((i * 11) % 30) / 30)) for i in range(30)]
    decoding = hover_latencies(window, app, points)
    window.finder.objects = objects  # as once the background finder is done (no thresholds: the most objects)
    looked_up = hover_latencies(window, app, points)
    for label, values in (("hover, decoding", decoding), ("hover, objects known", looked_up)):
        median = statistics.median(values)
        print(f"{label}: median {median:.1f} ms (p90 {sorted(values)[int(0.9 * len(values))]:.1f}) "
              f"= {median / floor:.2f}x the decoder floor")
    window.editor.mark_saved()
    window.close()


if __name__ == "__main__":
    main()
