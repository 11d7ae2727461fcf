"""GUI fixtures: offscreen Qt, isolated settings, a real engine, and no thread left behind."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMCUT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SAMCUT_MODELS_ROOT", str(tmp_path / "no-models"))


@pytest.fixture()
def runtime_dir(monkeypatch):
    """A private ``XDG_RUNTIME_DIR``, where the host server's endpoint file (host.json) goes."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = tempfile.mkdtemp(prefix="sc-", dir="/tmp")  # (short, as a runtime folder is)
    monkeypatch.setenv("XDG_RUNTIME_DIR", folder)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_threads_left():
    """Fail any test that leaves a samcut worker thread running."""
    yield
    left = [t for t in threading.enumerate() if t.name.startswith("samcut-") and t.is_alive()]
    if left:  # where each one is: the reason, not only the name
        import sys
        import traceback

        frames = sys._current_frames()
        where = {t.name: "".join(traceback.format_stack(frames[t.ident])[-6:]) for t in left if t.ident in frames}
        raise AssertionError(f"threads still running after the test: {[t.name for t in left]}\n"
                             + "\n".join(f"{name}:\n{stack}" for name, stack in where.items()))


def make_window(qtbot, model_dir, synchronous: bool = False, engine=None):
    """A shown window on the model in ``model_dir`` (or on ``engine``, e.g. a ``FakeEngine``)."""
    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.main_window import MainWindow
    from samcut.models.document.preferences import Preferences
    from samcut.models.engine import SamEngine
    from samcut.models.engine.service import SegmentationService

    engine = engine if engine is not None else SamEngine(model_dir)
    bridge = EngineBridge(SegmentationService(engine, synchronous=synchronous))
    window = MainWindow(bridge, Preferences())  # not qtbot.addWidget: its closing would ask Save changes?
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    return window


def close_discarding(win) -> None:
    """Close a test's window without the Save changes? question (it would wait for an answer);
    the window fixtures call it, tests that make a window themselves close it."""
    if win.editor is not None:
        win.editor.mark_saved()
        win.editor.drop_proposal()
    win.close()


@pytest.fixture()
def window(qtbot, test_model_dir):
    win = make_window(qtbot, test_model_dir)
    yield win
    close_discarding(win)


@pytest.fixture()
def synthetic_window(qtbot, synthetic_model_dir):
    win = make_window(qtbot, synthetic_model_dir)
    yield win
    close_discarding(win)


@pytest.fixture()
def fake_window(qtbot):
    """A window on ``FakeEngine`` (masks from the prompt's geometry): for the window's logic,
    no model needed."""
    from fake_engine import FakeEngine

    win = make_window(qtbot, None, engine=FakeEngine())
    yield win
    close_discarding(win)


@pytest.fixture()
def window_on(qtbot):
    """Make windows on a given engine (``window_on(engine)``); each is closed after the test."""
    made = []

    def make(engine):
        made.append(make_window(qtbot, None, engine=engine))
        return made[-1]

    yield make
    for win in made:
        close_discarding(win)
