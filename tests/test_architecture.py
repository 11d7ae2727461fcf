"""Layering rules (import-linter contracts in pyproject.toml) and code style hold for the whole tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def test_import_contracts_hold() -> None:
    result = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_ruff_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_imports_itself_round_a_circle() -> None:
    """No import circle between samcut's modules (imports inside functions count too)."""
    import grimp

    graph = grimp.build_graph("samcut.models", "samcut.cli", "samcut.gui", "samcut.plugin")
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in modules}
    # Tarjan's strongly connected components
    order, low, on_stack, stack, circles = {}, {}, set(), [], []

    def visit(m: str) -> None:
        order[m] = low[m] = len(order)
        stack.append(m)
        on_stack.add(m)
        for n in edges[m]:
            if n not in order:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], order[n])
        if low[m] == order[m]:
            component = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                component.append(n)
                if n == m:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(modules)))
    for m in modules:
        if m not in order:
            visit(m)
    assert not circles, circles
    assert len(index) > 50  # the graph really holds the package


def test_the_window_paints_before_onnxruntime_is_imported() -> None:
    """The app's modules (window, editor, bridge, service) load without ONNX Runtime: it is
    imported after the first paint, when the model loads."""
    code = ("import sys, samcut.gui.app, samcut.gui.main_window, samcut.gui.engine_bridge, samcut.models.editor; "
            "import samcut.models.engine.service; print(sorted(m for m in sys.modules if m.startswith('onnxruntime')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"QT_QPA_PLATFORM":
                            "offscreen", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_staleness_decision_outside_the_editor_and_the_scheduler() -> None:
    """Whether an answer is still wanted is decided by the editor (revisions) and the decode
    scheduler (which job is its own); the GUI and CLI only pass revisions through. A comparison of
    revisions, or a queue of decode requests, anywhere else is a second answer to the same question."""
    import ast

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for folder in ("gui", "cli", "plugin"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare):
                    names = [n.attr if isinstance(n, ast.Attribute) else getattr(n, "id", "")
                             for n in (node.left, *node.comparators)]
                    if any("revision" in name for name in names):
                        offenders.append(f"{path.relative_to(root)}:{node.lineno}")
                if isinstance(node, ast.Attribute) and node.attr in ("_pending", "_pending_hover", "_in_flight"):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders
