"""The files the Krita plug-in carries run on Python 3.8 (Krita 5.1 embeds 3.8 on Windows and macOS).

Each carried file (``plugin/krita/**/*.py`` and ``plugin/protocol.py``, which GIMP carries too) must
parse with ``ast.parse(feature_version=(3, 8))``. That refuses 3.9+ *syntax*: ``match``,
parenthesised context managers, ``except*``, ``type`` aliases, PEP 646 unpacking. It does not catch
what 3.8 only fails on at *run time*, so the tree is walked for:

- ``zip(..., strict=...)`` (3.10) and ``dataclass(slots=/kw_only=/match_args=)`` (3.10);
- ``.removeprefix`` / ``.removesuffix`` (3.9), ``.bit_count`` (3.10), ``.is_relative_to`` and
  ``.with_stem`` (3.9), ``.waitstatus_to_exitcode`` (3.9), ``.randbytes`` (3.9), ``.pairwise`` (3.10);
- ``functools.cache``, ``math.lcm``/``nextafter``/``ulp`` (3.9), ``datetime.UTC`` (3.11);
- the builtins ``aiter``, ``anext`` (3.10), ``ExceptionGroup``, ``BaseExceptionGroup`` (3.11),
  ``EncodingWarning`` (3.10);
- modules new since 3.8: ``zoneinfo``, ``graphlib`` (3.9), ``tomllib`` (3.11), and names such as
  ``typing.TypeAlias``/``ParamSpec``/``Self``, ``functools.cache``, ``itertools.pairwise``,
  ``contextlib.chdir``, ``enum.StrEnum`` imported from older modules;
- PEP 585/604 types evaluated at run time: ``list[int]``, ``dict[...]`` (and ``tuple``, ``set``,
  ``frozenset``, ``type``) subscripted, or ``X | None``, outside annotations, and inside
  annotations too unless the file has ``from __future__ import annotations``;
- PEP 701 f-strings (3.12): an expression inside an f-string that reuses its quote or has a backslash.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "plugin"
CARRIED = sorted([*(PLUGIN / "krita").rglob("*.py"), PLUGIN / "protocol.py"])

NEW_METHODS = {"removeprefix", "removesuffix", "bit_count", "is_relative_to", "with_stem",
               "waitstatus_to_exitcode", "randbytes", "pairwise"}
NEW_MODULE_ATTRIBUTES = {("functools", "cache"), ("math", "lcm"), ("math", "nextafter"), ("math", "ulp"),
                         ("datetime", "UTC"), ("itertools", "pairwise"), ("contextlib", "chdir"),
                         ("enum", "StrEnum"), ("typing", "TypeAlias"), ("typing", "ParamSpec"),
                         ("typing", "Concatenate"), ("typing", "TypeGuard"), ("typing", "Self"),
                         ("typing", "Annotated"), ("typing", "Never"), ("typing", "LiteralString")}
NEW_BUILTINS = {"aiter", "anext", "ExceptionGroup", "BaseExceptionGroup", "EncodingWarning"}
NEW_MODULES = {"zoneinfo", "graphlib", "tomllib"}
NEW_KEYWORDS = {"zip": {"strict"}, "dataclass": {"slots", "kw_only", "match_args"}}
GENERIC_BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _called_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """The ids of every node inside an annotation (arguments, returns, annotated assignments)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _fstring_problems(source: str, tree: ast.AST) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = ast.get_source_segment(source, node) or ""
        quote = text.lstrip("rRbBfFuU")[:1]
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                inner = ast.get_source_segment(source, value.value) or ""
                if (quote and quote in inner) or "\\" in inner:
                    problems.append(f"line {node.lineno}: f-string expression {inner!r} needs Python 3.12")
    return problems


def python38_problems(source: str) -> list[str]:
    """What in ``source`` Python 3.8 cannot run (empty when nothing): see the module docstring."""
    try:
        tree = ast.parse(source, feature_version=(3, 8))
    except SyntaxError as exc:
        return [f"line {exc.lineno}: {exc.msg}"]
    lazy = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    in_annotation = _annotation_nodes(tree) if lazy else set()
    problems = _fstring_problems(source, tree)
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            bad = NEW_KEYWORDS.get(_called_name(node), set()) & {kw.arg for kw in node.keywords}
            problems += [f"{where}: {_called_name(node)}({name}=...) needs Python 3.10" for name in sorted(bad)]
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if node.attr in NEW_METHODS or (owner, node.attr) in NEW_MODULE_ATTRIBUTES:
                problems.append(f"{where}: .{node.attr} is newer than Python 3.8")
        if isinstance(node, ast.Name) and node.id in NEW_BUILTINS:
            problems.append(f"{where}: {node.id} is newer than Python 3.8")
        if isinstance(node, ast.Import):
            problems += [f"{where}: module {a.name} is newer than Python 3.8" for a in node.names
                         if a.name.split(".")[0] in NEW_MODULES]
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in NEW_MODULES:
                problems.append(f"{where}: module {node.module} is newer than Python 3.8")
            problems += [f"{where}: {node.module}.{a.name} is newer than Python 3.8" for a in node.names
                         if (node.module, a.name) in NEW_MODULE_ATTRIBUTES]
        if id(node) in in_annotation:
            continue
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in GENERIC_BUILTINS:
            problems.append(f"{where}: {node.value.id}[...] evaluated at run time needs Python 3.9")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and any(
                isinstance(side, ast.Constant) and side.value is None
                or isinstance(side, ast.Name) and side.id in GENERIC_BUILTINS | {"str", "int", "float", "bool", "bytes"}
                for side in (node.left, node.right)):
            problems.append(f"{where}: a type union with | evaluated at run time needs Python 3.10")
    return problems


@pytest.mark.parametrize("path", CARRIED, ids=[str(p.relative_to(PLUGIN)) for p in CARRIED])
def test_carried_files_run_on_python38(path) -> None:
    assert python38_problems(path.read_text(encoding="utf-8")) == []


def test_the_krita_package_is_all_checked() -> None:
    names = {p.name for p in CARRIED}
    assert {"protocol.py", "__init__.py", "extension.py", "logic.py", "qt_shim.py", "runner.py"} <= names


NEWER = {
    "zip strict": "pairs = list(zip(a, b, strict=True))\n",
    "removeprefix": "name = text.removeprefix('samcut: ')\n",
    "removesuffix": "name = text.removesuffix('.png')\n",
    "match": "match mode:\n    case 'add':\n        pass\n",
    "parenthesised with": "with (open(a) as f, open(b) as g):\n    pass\n",
    "list[str] at run time": "Points = list[list[float]]\n",
    "annotation without future import": "def f(x: list[str]) -> None:\n    pass\n",
    "union at run time": "ok = isinstance(x, int | None)\n",
    "union annotation without future import": "def f(x: str | None): pass\n",
    "functools.cache": "import functools\n@functools.cache\ndef f(): pass\n",
    "from functools import cache": "from functools import cache\n",
    "zoneinfo": "import zoneinfo\n",
    "bit_count": "n = (5).bit_count()\n",
    "anext": "async def f(it):\n    return await anext(it)\n",
    "dataclass slots": "@dataclass(slots=True)\nclass A:\n    x: int = 0\n",
    "f-string reusing its quote": "x = f\"{d[\"k\"]}\"\n",
}


@pytest.mark.parametrize("source", NEWER.values(), ids=NEWER.keys())
def test_the_check_refuses_what_python38_cannot_run(source) -> None:
    assert python38_problems(source)


def test_the_check_accepts_what_python38_runs() -> None:
    fine = ("from __future__ import annotations\n"
            "def f(x: list[str] | None, y: dict[str, int]) -> tuple[int, ...]:\n"
            "    z: set[int] | None = None\n"
            "    return tuple(a for a, b in zip(x, y))\n"
            "flags = 1 | 2\n"
            "name = 'samcut: x'[len('samcut: '):] if s.startswith('samcut: ') else s\n"
            "text = f\"{d['k']} {n:>4}\"\n")
    assert python38_problems(fine) == []


def _python38() -> str | None:
    """A Python 3.8 interpreter on this machine (``$SAMCUT_PYTHON38``, ``python3.8`` on PATH, pyenv's)."""
    import os
    import shutil
    import subprocess

    candidates = [os.environ.get("SAMCUT_PYTHON38"),
                  *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.8*/bin/python3.8")),
                  shutil.which("python3.8")]  # last: a pyenv shim may say "command not found"
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=30)
            if probe.stdout.strip() == "(3, 8)":
                return candidate
    return None


RUN_ON_38 = """
import json, os, sys
import samcut_krita
from samcut_krita import logic, protocol, runner
assert samcut_krita.Krita is None and sys.version_info[:2] == (3, 8)
folder = sys.argv[1]
assert protocol.samcut_command(folder, {}) == ["C:/Program Files/samcut/samcut-cli.exe"]
assert protocol.samcut_command(folder, {"SAMCUT_COMMAND": '["a b", "c"]'}) == ["a b", "c"]
request = logic.build_request(folder, True, interactive=False, points=[[1, 2, 1]])
assert protocol.Request.from_json(request.to_json()) == request
assert logic.cutout_bgra(b"\\x01\\x02\\x03\\xff", b"\\x80") == b"\\x01\\x02\\x03\\x80"
finished = []
queue = []
polled = runner.PolledRunner(lambda ms, cb: queue.append(cb), {}, lambda *r: finished.append(r))
polled.start([sys.executable, "-c", "import sys; sys.exit(4)"], None, folder)
polled.process.wait()
while queue:
    queue.pop(0)()
assert finished == [(4, "")], finished
print("ok")
"""


def test_the_installed_krita_plugin_runs_on_a_real_python38(tmp_path) -> None:
    """Where a Python 3.8 exists here: every carried file compiles with it, and the Qt-free modules
    (protocol, logic, runner) import and work under it as Krita 5.1 would run them."""
    import subprocess

    from samcut.cli import plugins_cmd
    from samcut.plugin.locations import Machine

    python38 = _python38()
    if python38 is None:
        pytest.skip("no Python 3.8 on this machine")
    home = tmp_path / "home"
    plugins_cmd.install_krita(Machine("linux", {}, home), ["C:/Program Files/samcut/samcut-cli.exe"])
    pykrita = home / ".local/share/krita/pykrita"
    package = pykrita / plugins_cmd.KRITA_NAME
    compiled = subprocess.run([python38, "-m", "py_compile", *map(str, sorted(package.glob("*.py")))],
                              capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 0, compiled.stderr
    env = {"PYTHONPATH": str(pykrita), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([python38, "-c", RUN_ON_38, str(package)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
