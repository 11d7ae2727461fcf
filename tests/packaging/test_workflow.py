"""The hosted-CI workflow (.github/workflows/bundles.yml) has the shape this repo relies on.

It cannot run here, so its structure is checked from the text (the dev venv has no YAML parser; a
full parse runs where PyYAML is installed): the matrix, the Python version against pyproject, the
steps and their order, pinned actions, and that every file it names exists and fits its step.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "bundles.yml"
SYSTEMS = {"windows-latest", "macos-15", "ubuntu-latest"}
REFERENCE_USE = re.compile(r"\b(test_model_dir|synthetic_model_dir|torch_export_dir|made_checkpoint|family_model_dir|"
                           r"engine|reference_dir|golden_files|generated_goldens|generated_checkpoint|synthetic_dir|"
                           r"CHECKPOINTS|hostile_checkpoint)\b")


def text() -> str:
    return WORKFLOW.read_text(encoding="utf-8")


def steps() -> list[dict[str, str]]:
    """The job's steps in order: ``name``, ``uses``, ``if`` and ``body`` (all of the step's text)."""
    lines = text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "steps:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    found: list[dict[str, str]] = []
    for line in lines[start + 1:]:
        depth = len(line) - len(line.lstrip())
        if line.strip() and depth <= indent:
            break
        if line.startswith(" " * (indent + 2) + "- "):
            found.append({"body": ""})
        if found:
            found[-1]["body"] += line + "\n"
            key = re.match(rf"^ {{{indent + 2}}}(?:- |  )(name|uses|if): (.*)$", line)
            if key:
                found[-1][key.group(1)] = key.group(2).strip()
    return found


def named(fragment: str) -> tuple[int, dict[str, str]]:
    matches = [(i, step) for i, step in enumerate(steps()) if fragment in step.get("name", "")]
    assert len(matches) == 1, f"one step named like {fragment!r}, found {len(matches)}"
    return matches[0]


def test_the_text_is_plain_yaml_block_style() -> None:
    for number, line in enumerate(text().splitlines(), 1):
        assert "\t" not in line, f"line {number}: a tab"
        assert (len(line) - len(line.lstrip())) % 2 == 0, f"line {number}: odd indentation"
        plain = re.match(r"^\s*(?:- )?[\w-]+: ([^\"'|>\[{].*)$", line)
        # In a plain scalar, ": " starts a mapping and " #" a comment: both have broken this file before.
        assert not (plain and ": " in plain.group(1).split(" #")[0]), f"line {number}: quote this value"


def test_triggers_and_matrix() -> None:
    body = text()
    assert re.search(r"^on:\n  push:\n    branches: \[main\]\n  pull_request:\n  workflow_dispatch:$", body, re.M)
    matrix = re.search(r"^\s+os: \[(.*)\]$", body, re.M)
    assert matrix and {name.strip() for name in matrix.group(1).split(",")} == SYSTEMS
    assert "runs-on: ${{ matrix.os }}" in body and "fail-fast: false" in body
    assert re.search(r"^    defaults:\n      run:\n        shell: bash", body, re.M)  # one script on all three


def test_python_version_meets_pyproject() -> None:
    wanted = re.search(r'python-version: "(\d+)\.(\d+)"', text())
    required = re.search(r'requires-python = ">=(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert wanted and required
    assert tuple(map(int, wanted.groups())) >= tuple(map(int, required.groups()))


def test_actions_are_pinned_to_a_major_version() -> None:
    uses = [step["uses"] for step in steps() if "uses" in step]
    assert {use.split("@")[0] for use in uses} == {"actions/checkout", "actions/setup-python",
                                                   "actions/upload-artifact"}
    assert all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+", use) for use in uses), uses


def test_steps_build_before_torch_and_test_after() -> None:
    checkout, _ = named("Check out")
    python, _ = named("Set up Python")
    built, build_step = named("Build the bundle")
    upload, _ = named("Upload")
    torch, torch_step = named("Test dependencies")
    quick, _ = named("need no reference")
    full, full_step = named("need the reference")
    assert checkout < python < built < upload < torch < quick < full
    assert "python packaging/build.py --checkpoint" in build_step["body"] and "--fetch" in build_step["body"]
    assert all("torch" not in step["body"] for step in steps()[:torch])  # nothing before the build sees torch
    assert "download.pytorch.org/whl/cpu" in torch_step["body"] and "-c constraints.txt" in torch_step["body"]
    assert full_step["if"] == "env.SAMCUT_REFERENCE_DIR != ''" and "tests/models tests/cli" in full_step["body"]


def test_the_macos_archive_keeps_the_signature() -> None:
    _, mac = named("Archive the bundle (macOS")
    assert mac["if"] == "runner.os == 'macOS'" and "ditto -c -k" in mac["body"] and "dist/samcut.app" in mac["body"]
    _, other = named("Archive the bundle (Windows")
    assert other["if"] == "runner.os != 'macOS'"


def test_every_file_the_workflow_names_exists() -> None:
    named_paths = set(re.findall(r"\b((?:tests|packaging)/[\w/.-]+\.py)\b", text()))
    assert "packaging/build.py" in named_paths
    assert [path for path in sorted(named_paths) if not (ROOT / path).is_file()] == []
    assert (ROOT / "constraints.txt").read_text().count("torch==") == 1  # the pin the torch step reads


def test_the_reference_free_step_lists_only_reference_free_tests() -> None:
    _, step = named("need no reference")
    listed = re.findall(r"tests/(?:models|cli)/\w+\.py", step["body"])
    assert len(listed) >= 8
    assert [path for path in listed if REFERENCE_USE.search((ROOT / path).read_text())] == []


def test_a_yaml_parser_reads_the_same_structure() -> None:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(text())
    job = data["jobs"]["bundle"]
    assert set(job["strategy"]["matrix"]["os"]) == SYSTEMS
    assert [step.get("name") for step in job["steps"]] == [step.get("name") for step in steps()]
    assert set(data[True]) == {"push", "pull_request", "workflow_dispatch"}  # YAML 1.1 reads "on" as true


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
