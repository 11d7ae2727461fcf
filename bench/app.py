"""The app's own figures: stroke-to-mask as the user sees it, memory with a 12 MP photo, idle CPU.

    python bench/app.py [--models DIR] [--runs N]

Runs the real window offscreen in a child process (so that this script's own memory does not
count) with a 12-megapixel photo: encodes it, then times each stroke from the decode request to
the proposal's overlay being drawn for the visible region (what the user waits for), reports
the process's peak resident memory and its CPU use while idle. Ratios are to the decoder's
float32 matmul floor measured in the same run (see ``bench/engine.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from engine import DECODER_GFLOP, cpu_name, ensure_models, sgemm_gflops  # noqa: E402


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def thread_cpu() -> dict[str, float]:
    """CPU seconds used so far by each thread of this process, by thread name."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            continue
    return out


def overlay_drawn(canvas) -> bool:  # noqa: ANN001
    """Whether the canvas has painted the overlay of its current proposal (it caches the overlay
    it drew, keyed by the proposal): a stroke is timed to its first paint, not to a second one."""
    cached = canvas._overlay_cache.get("proposal")
    return cached is not None and cached[0][0] == id(canvas._proposal)


def make_photo(path: Path) -> Path:
    """A 4000 x 3000 JPEG (12 MP) built from a reference photo, written once."""
    if not path.exists():
        from PIL import Image

        sys.path.insert(0, str(ROOT / "tests"))
        from reference import synthetic_dir

        Image.open(synthetic_dir() / "composite_0.png").convert("RGB").resize((4000, 3000)).save(path, quality=92)
    return path


def child(models: Path, runs: int, photo: Path) -> dict:
    """In the child: the real window, a 12 MP photo, strokes, memory and idle CPU."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from samcut.gui.app import return_freed_memory_to_the_system
    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import SegmentationService

    return_freed_memory_to_the_system()  # as the app does at start-up
    app = QApplication.instance() or QApplication([])

    def wait(condition, timeout: float = 120.0) -> None:  # noqa: ANN001
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError("the app did not answer in time")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)  # sleeps until something happens

    window = MainWindow(EngineBridge(SegmentationService(SamEngine(models))), Preferences())
    window.resize(1280, 860)
    window.show()
    window.files.open_path(photo)  # the app's own loading path
    wait(lambda: window.status.encoder_label.text().startswith("Ready"))
    canvas = window.canvas
    window.actions_by_name["auto_encode_view"].setChecked(False)  # no region encode competing here
    decoder_ms: list[float] = []
    window.bridge.proposalReady.connect(lambda result: decoder_ms.append(result.elapsed_ms))
    results = {"fit": [], "zoomed": []}
    for view in ("fit", "zoomed"):
        if view == "zoomed":
            canvas.zoom_to((1500, 1000, 2500, 1700))
        for i in range(runs + 1):
            from samcut.models.document.strokes import Stroke

            window.drop_proposal()
            stroke = Stroke(((1800.0 + 10 * i, 1300.0), (2000.0, 1350.0 + 5 * i)), True)
            window.editor.begin_stroke()
            window.editor.add_stroke(stroke)
            start = time.perf_counter()
            window._decode()
            wait(lambda: window.editor.proposal is not None and not window.bridge.busy)
            if not overlay_drawn(canvas):  # else the event loop has already painted it
                canvas.repaint()  # the proposal overlay for the visible region, drawn now
            if i:  # the first is a warm-up
                results[view].append((time.perf_counter() - start) * 1000)
    results["decoder"] = decoder_ms[2:]
    window.drop_proposal()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(1000, app.quit)  # let the last repaints and deferred deletions settle
    app.exec()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before, idle_start = usage.ru_utime + usage.ru_stime, time.perf_counter()
    threads_before = thread_cpu()
    QTimer.singleShot(3000, app.quit)
    app.exec()  # the real event loop, idle
    usage = resource.getrusage(resource.RUSAGE_SELF)
    busy = {name: t - threads_before.get(name, 0.0) for name, t in thread_cpu().items()}
    results["busy_threads"] = {name: round(t, 3) for name, t in busy.items() if t > 0.005}
    results["idle_cpu_percent"] = 100 * (usage.ru_utime + usage.ru_stime - cpu_before) / (
        time.perf_counter() - idle_start)
    results["peak_rss_mb"] = peak_rss_mb()
    window.editor.mark_saved()  # a bench has nothing to keep: close without asking
    window.editor.drop_proposal()
    window.close()
    return results


def describe(label: str, times: list[float], floor_ms: float) -> str:
    med = statistics.median(times)
    p95 = sorted(times)[max(0, int(round(0.95 * len(times))) - 1)]
    return (f"{label:<52} median {med:7.1f} ms  p95 {p95:7.1f}  [{min(times):.1f}-{max(times):.1f}]  "
            f"{med / floor_ms:5.2f}x / p95 {p95 / floor_ms:5.2f}x floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = ensure_models(args.models)
    photo = make_photo(Path(tempfile.gettempdir()) / "samcut-bench-12mp.jpg")
    if args.child:
        print(json.dumps(child(models, args.runs, photo)))
        return
    import onnxruntime as ort

    gflops = sgemm_gflops()
    floor = DECODER_GFLOP / gflops * 1000
    print(f"# {time.strftime('%Y-%m-%d')}  {cpu_name()}, {os.cpu_count()} CPUs  python {sys.version.split()[0]}  "
          f"onnxruntime {ort.__version__}")
    print(f"sgemm {gflops:.1f} GFLOP/s -> decoder floor {floor:.2f} ms")
    out = subprocess.run([sys.executable, __file__, "--child", "--models", str(models), "--runs", str(args.runs)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(describe("decoder session (inside the strokes below)", result["decoder"], floor))
    print(describe("stroke-to-mask, 12 MP photo fitted in the window", result["fit"], floor))
    print(describe("stroke-to-mask, 12 MP photo zoomed to 1000 x 700 px", result["zoomed"], floor))
    print(f"peak RSS of the app, 12 MP photo encoded: {result['peak_rss_mb']:.0f} MB")
    print(f"idle CPU over 3 s after the work: {result['idle_cpu_percent']:.1f}%  busy threads: "
          f"{result['busy_threads'] or 'none'}")


if __name__ == "__main__":
    main()
