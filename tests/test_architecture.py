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


# Every OS-specific call lives in the platform module (models/io/platform.py and its platform_*
# siblings), with no exception: the host bridge is loopback TCP on every OS (plugin/transport.py),
# and only its per-user folder is the platform module's (platform_sockets.py).
PLATFORM_MODULES = ("models/io/platform.py", "models/io/platform_files.py", "models/io/platform_memory.py",
                    "models/io/platform_sockets.py")
FORBIDDEN_MODULES = {"fcntl", "msvcrt"}
FORBIDDEN_ANYWHERE = {"AF_UNIX", "SO_PEERCRED", "LOCAL_PEERCRED"}  # as attributes or names, of any module
FORBIDDEN_OS = {"kill", "getuid", "geteuid"}  # as attributes of os


def forbidden_os_calls(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each direct OS-specific call in ``source``: an import of ``fcntl`` or
    ``msvcrt``; ``os.kill``, ``os.getuid``; ``AF_UNIX``, ``SO_PEERCRED``, ``LOCAL_PEERCRED`` (as an
    attribute, an imported name, or the name asked of ``hasattr``/``getattr``)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{a.name}") for a in node.names
                      if a.name in FORBIDDEN_ANYWHERE or (module == "os" and a.name in FORBIDDEN_OS)]
        elif isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else ""
            if node.attr in FORBIDDEN_ANYWHERE or (base == "os" and node.attr in FORBIDDEN_OS):
                found.append((node.lineno, f"{base or '?'}.{node.attr}"))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("hasattr", "getattr") \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in FORBIDDEN_ANYWHERE | FORBIDDEN_OS:
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"))
    return found


def test_the_scan_for_os_specific_calls_finds_each_kind() -> None:
    """The scanner below finds every form of the forbidden calls (else a clean tree proves nothing)."""
    sample = ("import fcntl\nimport msvcrt as m\nfrom fcntl import flock\nimport os, socket\nos.kill(1, 0)\n"
              "os.getuid()\nsocket.socket(socket.AF_UNIX)\nsocket.SO_PEERCRED\nfrom socket import AF_UNIX\n"
              "from os import getuid\nhasattr(socket, 'AF_UNIX')\ngetattr(os, 'getuid', None)\n"
              "os.replace('a', 'b')\nsocket.AF_INET\nprocess.kill()\n")
    assert sorted(line for line, _what in forbidden_os_calls(sample)) == [1, 2, 3, *range(5, 13)]


def test_os_specific_calls_live_in_the_platform_module() -> None:
    """No module of models/, cli/, gui/ or plugin/ calls ``os.kill`` (on Windows it ends the
    process it should probe), ``fcntl``/``msvcrt``, ``os.getuid``, ``AF_UNIX`` or ``SO_PEERCRED``
    directly: each has a branch per OS in the platform module, the one place to port."""
    allowed = set(PLATFORM_MODULES)
    offenders = []
    for folder in ("models", "cli", "gui", "plugin"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name not in allowed:
                offenders += [f"{name}:{line}: {what}" for line, what in forbidden_os_calls(path.read_text())]
    assert not offenders, offenders
    assert all((ROOT / name).is_file() for name in allowed)


def test_tests_write_into_no_user_folder(tmp_path) -> None:
    """The root conftest's autouse fixture points preferences, caches, installed models and
    downloads into each test's own folder (on every OS, whatever platformdirs would say)."""
    from samcut.models.document.preferences import cache_dir, config_dir
    from samcut.models.store.registry import downloads_dir, models_root

    for folder in (config_dir(), cache_dir(), models_root(), downloads_dir()):
        assert folder.is_relative_to(tmp_path), folder


HOST_BRIDGE = ("plugin/transport.py", "cli/host.py", "gui/host_session.py")
PER_OS_NAMES = {"IS_WINDOWS", "IS_LINUX", "QLocalServer", "QLocalSocket"}


def test_the_host_bridge_is_one_code_path_on_every_os() -> None:
    """The host bridge's client and server do not branch per OS (no ``sys.platform``, ``os.name``,
    ``IS_WINDOWS``) and use no per-OS transport (Qt's local sockets are named pipes on Windows):
    what the suite tests here on Linux is what runs on Windows and macOS. Where its folder lies is
    the platform module's question."""
    import ast

    offenders = []
    for name in HOST_BRIDGE:
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    (node.value.id, node.attr) in (("sys", "platform"), ("os", "name")):
                offenders.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id in PER_OS_NAMES:
                offenders.append(f"{name}:{node.lineno}: {node.id}")
            elif isinstance(node, ast.alias) and node.name in PER_OS_NAMES:
                offenders.append(f"{name}: imports {node.name}")
    assert not offenders, offenders
