"""Click-to-pixels in the real app on a real X display: where the time between a click and the
painted mask goes, stage by stage.

    python bench/click_to_pixels.py [--models DIR] [--runs N]

Starts Xvfb (1920 x 1200) and, in a child process, the real window on it (the xcb platform, not
offscreen) with a 1536 x 1024 photo, hover preview off (a click then always decodes) and
the Object Finder left to finish first. Each click is
a real X click sent with ``xdotool``; the child stamps, with the same monotonic clock
(``time.perf_counter``), when the click was sent, when Qt delivered the press and the release, when
the decode went to the worker, when the worker started and finished it (and the decoder session
inside), when the result reached the GUI thread, when the proposal was built, and when the
canvas's next paint began and ended. The decode goes out on the press (the click's live
stroke); the release asks for the same prompt and is served by that answer.
The ratio to beat is click-to-painted against the decoder
session alone (goal: within 1.5x). No figure is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from engine import ensure_models  # noqa: E402

SIZE = (1536, 1024)
STAGES = [  # (label, from stamp, to stamp)
    ("xdotool + X server -> Qt press event", "sent", "press"),
    ("press -> decode submitted (stroke to prompt)", "press", "submitted"),
    ("submitted -> worker starts (queue)", "submitted", "job_start"),
    ("decoder session(s)", "session_start", "session_end"),
    ("worker after the session (result object)", "session_end", "job_end"),
    ("worker -> GUI thread (queued signal)", "job_end", "gui_result"),
    ("proposal accepted + redraw requested", "gui_result", "proposal_done"),
    ("redraw requested -> paint starts", "proposal_done", "paint_start"),
    ("paint (overlay sampled and drawn)", "paint_start", "paint_end"),
]


def photo(folder: Path) -> tuple[Path, list[tuple[float, float]]]:
    """The synthetic composite at 1536 x 1024 and click points inside its pasted object."""
    import numpy as np
    from PIL import Image

    from reference import synthetic_dir

    path = folder / "photo.png"
    Image.open(synthetic_dir() / "composite_1.png").convert("RGB").resize(SIZE, Image.BILINEAR).save(path)
    mask = np.asarray(Image.open(synthetic_dir() / "composite_1_mask.png").convert("L").resize(SIZE)) > 127
    ys, xs = np.nonzero(mask)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(xs), 40, replace=False)
    return path, [(float(xs[i]), float(ys[i])) for i in picks]


def instrument(stamps: dict[str, float]) -> None:
    """Wrap the pipeline's own methods so that each stamps the clock (first call per click)."""
    from samcut.gui.canvas import Canvas
    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import SegmentationService

    def wrap(cls: type, name: str, before: str | None, after: str | None, first: bool = True) -> None:
        original = getattr(cls, name)

        def wrapped(*args: object, **kwargs: object) -> object:
            if before and (before not in stamps or not first) and stamps.get("armed"):
                stamps[before] = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if after and stamps.get("armed"):
                    stamps[after] = time.perf_counter()
                    if after == "session_end":
                        stamps["sessions"] = stamps.get("sessions", 0) + 1

        setattr(cls, name, wrapped)

    wrap(EngineBridge, "_submit", "submitted", None)
    wrap(SegmentationService, "_decode_job", "job_start", "job_end")
    wrap(SamEngine, "decode_low_res", "session_start", "session_end")
    wrap(EngineBridge, "_on_decode_done", "gui_result", None)
    wrap(MainWindow, "_on_proposal", None, "proposal_done")
    original_paint = Canvas.paintEvent

    def paint(self: Canvas, event: object) -> None:
        waiting = "proposal_done" in stamps and "paint_end" not in stamps
        if waiting:
            stamps["paint_start"] = time.perf_counter()
        original_paint(self, event)
        if waiting:
            stamps["paint_end"] = time.perf_counter()

    Canvas.paintEvent = paint


def child(models: Path, runs: int, folder: Path) -> list[dict[str, float]]:
    from PySide6.QtCore import QEvent, QEventLoop, QObject
    from PySide6.QtWidgets import QApplication

    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import SegmentationService

    stamps: dict[str, float] = {}
    instrument(stamps)
    app = QApplication.instance() or QApplication([])

    def wait(condition, timeout: float = 120.0) -> None:  # noqa: ANN001
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError("the app did not answer in time")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    class Clicks(QObject):
        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            if stamps.get("armed"):
                if event.type() == QEvent.Type.MouseButtonPress:
                    stamps.setdefault("press", time.perf_counter())
                elif event.type() == QEvent.Type.MouseButtonRelease:
                    stamps.setdefault("release", time.perf_counter())
            return False

    image, points = photo(folder)
    window = MainWindow(EngineBridge(SegmentationService(SamEngine(models))), Preferences())
    window.actions_by_name["hover_preview"].setChecked(False)
    window.setGeometry(0, 0, 1800, 1150)
    window.show()
    window.files.open_path(image)
    wait(lambda: window.status.encoder_label.text().startswith("Ready"))
    print("encoded", file=sys.stderr, flush=True)
    wait(lambda: window.finder.objects is not None, 300)  # the Object Finder done: nothing else decodes
    canvas = window.canvas
    filter_ = Clicks()
    canvas.installEventFilter(filter_)
    results = []
    for i in range(runs + 2):
        window.drop_proposal()
        wait(lambda: window.bridge.idle)
        deadline = time.perf_counter() + 0.3
        wait(lambda d=deadline: time.perf_counter() > d)  # quiet before each click
        x, y = points[i % len(points)]
        spot = canvas.mapToGlobal(canvas.to_widget(x, y).toPoint())
        subprocess.run(["xdotool", "mousemove", str(spot.x()), str(spot.y())], check=True)
        settle = time.perf_counter() + 0.1
        wait(lambda d=settle: time.perf_counter() > d)
        stamps.clear()
        stamps["armed"] = 1
        stamps["sent"] = time.perf_counter()
        subprocess.Popen(["xdotool", "click", "1"])
        try:
            wait(lambda: "paint_end" in stamps, 10)
        except TimeoutError:
            raise TimeoutError(f"click {i}: only {sorted(stamps)}") from None
        print(f"click {i} done", file=sys.stderr, flush=True)
        stamps["armed"] = 0
        if i >= 2:  # two warm-ups
            results.append(dict(stamps))
    window.editor.mark_saved()
    return results  # the caller exits at once: closing the window is not what is measured


def describe(results: list[dict[str, float]]) -> None:
    def ms(stage: tuple[str, str, str]) -> list[float]:
        return [(r[stage[2]] - r[stage[1]]) * 1000 for r in results if stage[1] in r and stage[2] in r]

    total = [(r["paint_end"] - r["press"]) * 1000 for r in results]
    session = [(r["session_end"] - r["session_start"]) * 1000 for r in results]
    print(f"{len(results)} clicks on a {SIZE[0]} x {SIZE[1]} image, medians [min-max]:")
    for stage in STAGES:
        values = ms(stage)
        print(f"  {stage[0]:<50} {statistics.median(values):7.1f} ms  [{min(values):.1f}-{max(values):.1f}]")
    sessions = statistics.median(r.get("sessions", 0) for r in results)
    full = [(r["paint_end"] - r["sent"]) * 1000 for r in results]
    print(f"  decoder sessions per click: {sessions:g}")
    print(f"press -> mask painted: median {statistics.median(total):.1f} ms = "
          f"{statistics.median(total) / statistics.median(session):.2f}x the decoder session "
          f"({statistics.median(session):.1f} ms); from the click being sent: {statistics.median(full):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = ensure_models(args.models)
    if args.child:
        print(json.dumps(child(models, args.runs, args.child)), flush=True)
        os._exit(0)
    for program in ("Xvfb", "xdotool"):
        if shutil.which(program) is None:
            sys.exit(f"{program} is needed (apt-get install xvfb xdotool)")
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        with tempfile.TemporaryDirectory() as folder:
            out = subprocess.run([sys.executable, __file__, "--child", folder, "--models", str(models),
                                  "--runs", str(args.runs)], capture_output=True, text=True, env=env, check=False)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        print(out.stderr[-300:], file=sys.stderr)
        describe(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
