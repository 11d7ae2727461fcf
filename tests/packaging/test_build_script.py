"""packaging/build.py without building: its arguments, per-system paths and environments, the
bundle checks it runs (against a fake bundle that records its calls), and build.sh's forwarding."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path, PureWindowsPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import targets  # noqa: E402

# Loaded under its own name: "build" is also the name of PyPA's build front-end.
_spec = importlib.util.spec_from_file_location("samcut_build_script", ROOT / "packaging" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def test_arguments_are_build_sh_s_plus_fetch(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = build.parse_args(["--models", "m", "--checkpoint", "c.pt"])
    assert args.models == tmp_path / "m" and args.checkpoint == tmp_path / "c.pt" and not args.fetch
    assert build.parse_args(["--fetch"]).fetch
    with pytest.raises(SystemExit):
        build.parse_args(["--checkpoint", "c.pt", "--fetch"])  # one way to get the model, not two
    with pytest.raises(SystemExit):
        build.parse_args(["--bogus"])


def test_venv_layout_per_system(tmp_path) -> None:
    assert build.venv_python(tmp_path, "win32") == tmp_path / "Scripts" / "python.exe"
    assert build.venv_python(tmp_path, "linux") == tmp_path / "bin" / "python"
    assert build.venv_python(tmp_path, "darwin") == tmp_path / "bin" / "python"


def test_bare_environment_on_linux_and_macos_is_build_sh_s(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/leak")
    for platform in ("linux", "darwin"):
        assert build.bare_env(platform, tmp_path) == {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                                      "QT_QPA_PLATFORM": "offscreen"}


def test_bare_environment_on_windows_keeps_the_system_and_nothing_of_python(tmp_path) -> None:
    home = tmp_path / "home"
    given = {"SYSTEMROOT": r"D:\Win", "SYSTEMDRIVE": "D:", "PYTHONPATH": r"C:\leak", "VIRTUAL_ENV": r"C:\venv",
             "PATH": r"C:\hostedtoolcache\Python\3.12\x64;C:\Windows\System32"}
    env = build.bare_env("win32", home, given)
    assert env["SYSTEMROOT"] == env["WINDIR"] == r"D:\Win" and env["SYSTEMDRIVE"] == "D:"
    assert PureWindowsPath(env["PATH"].split(";")[0]) == PureWindowsPath(r"D:\Win\System32")
    assert "hostedtoolcache" not in env["PATH"]
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} & set(env)
    for key in ("USERPROFILE", "APPDATA", "LOCALAPPDATA", "TEMP", "SAMCUT_MODELS_ROOT", "SAMCUT_CONFIG_DIR"):
        assert Path(env[key]).is_relative_to(home), key  # nothing lands in the runner's own profile


def fake_bundle(dist: Path, spec: targets.Target, fail: str = "") -> Path:
    """An executable at ``dist/spec.cli`` that logs its arguments and HOME; exits 1 when ``fail`` is among them."""
    log = dist / "calls.jsonl"
    cli = dist / spec.cli
    cli.parent.mkdir(parents=True)
    cli.write_text(f"#!{sys.executable}\n"
                   "import json, os, sys\n"
                   f"open({str(log)!r}, 'a').write(json.dumps([sys.argv[1:], os.environ.get('HOME')]) + '\\n')\n"
                   f"sys.exit(1 if {fail!r} and {fail!r} in sys.argv else 0)\n")
    cli.chmod(0o755)
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line)[0] for line in log.read_text().splitlines()]


needs_posix = pytest.mark.skipif(sys.platform == "win32", reason="the fake bundle is a script with a shebang")


@needs_posix
def test_check_installs_the_checkpoint_then_self_tests_with_it(tmp_path) -> None:
    spec = targets.target("linux", "0.1.0")
    log = fake_bundle(tmp_path, spec)
    build.check(tmp_path, spec, None, Path("/data/model.pt"), fetch=False)
    assert calls(log) == [["models", "export", "/data/model.pt", "--name", "build-check"],
                          ["--self-test", "--models", "build-check"]]
    homes = {json.loads(line)[1] for line in log.read_text().splitlines()}
    assert len(homes) == 1 and Path(homes.pop()) != Path.home()  # one fresh home for both


@needs_posix
def test_check_fetches_the_official_model_as_a_first_run_does(tmp_path) -> None:
    spec = targets.target("darwin", "0.1.0")  # the macOS layout: the command line is inside samcut.app
    log = fake_bundle(tmp_path, spec)
    build.check(tmp_path, spec, None, None, fetch=True)
    assert calls(log) == [["models", "fetch"], ["--self-test"]]


@needs_posix
def test_check_without_a_model_only_starts_the_bundle(tmp_path, capsys) -> None:
    spec = targets.target("linux", "0.1.0")
    log = fake_bundle(tmp_path, spec)
    build.check(tmp_path, spec, None, None, fetch=False)
    assert calls(log) == [["--version"]]
    assert "self-test was skipped" in capsys.readouterr().err


@needs_posix
@pytest.mark.parametrize(("fail", "checkpoint", "fetch", "message"), [
    ("--self-test", Path("/x.pt"), False, "self-test failed"),
    ("export", Path("/x.pt"), False, "could not install"),
    ("fetch", None, True, "could not download"),
])
def test_a_failing_bundle_fails_the_build(tmp_path, fail, checkpoint, fetch, message) -> None:
    spec = targets.target("linux", "0.1.0")
    fake_bundle(tmp_path, spec, fail=fail)
    with pytest.raises(build.BuildError, match=message):
        build.check(tmp_path, spec, None, checkpoint, fetch=fetch)


def test_run_raises_with_the_command_when_it_fails() -> None:
    with pytest.raises(build.BuildError, match="failed \\(3\\)"):
        build.run([sys.executable, "-c", "raise SystemExit(3)"])
    assert build.run([sys.executable, "-c", "print('x')"], capture_output=True, text=True).stdout == "x\n"


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None,
                    reason="build.sh is the Linux and macOS spelling (Windows runs build.py)")
def test_build_sh_forwards_its_arguments_to_build_py() -> None:
    result = subprocess.run(["bash", str(ROOT / "packaging" / "build.sh"), "--help"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}, timeout=60)
    assert result.returncode == 0 and "--checkpoint FILE" in result.stdout and "--fetch" in result.stdout
    result = subprocess.run(["bash", str(ROOT / "packaging" / "build.sh"), "--no-such-option"], capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}, timeout=60)
    assert result.returncode == 2 and "usage: packaging/build.py" in result.stderr
