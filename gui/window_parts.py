"""What the window's helpers may see of it: narrow views, not the ``MainWindow`` itself.

``FinderRun`` and ``HoverPreview`` are given the window, but typed as these Protocols, so each
reads only the parts named here (and a test can hand them anything that has those parts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # (annotations only: no import at run time, no circle with the window)
    from samcut.gui.canvas import Canvas
    from samcut.gui.chrome import StatusPanel
    from samcut.gui.engine_bridge import EngineBridge
    from samcut.gui.tasks import TaskRunner
    from samcut.models.editor import Editor
    from samcut.models.engine.finder import FoundObject


class FinderHost(Protocol):
    """What the Object Finder's run uses: the editor (it receives the objects), the engine, a
    background runner for deduplication, and the status panel's finder label."""

    editor: Editor | None
    bridge: EngineBridge | None
    runner: TaskRunner
    status: StatusPanel


class FoundObjects(Protocol):
    """The Object Finder's answer for the open image (``FinderRun``)."""

    objects: list[FoundObject] | None

    def under(self, x: float, y: float) -> FoundObject | None: ...


class HoverHost(Protocol):
    """What the hover preview uses: the editor's size, the engine, the canvas it draws on, and the
    finder's objects (hover shows what a click would take)."""

    editor: Editor | None
    bridge: EngineBridge | None
    canvas: Canvas
    finder: FoundObjects
