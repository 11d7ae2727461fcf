"""Plug-ins that find and start samcut on every OS (issue 28): the command resolved at install
time, ``$SAMCUT_COMMAND`` and ``samcut_command.json`` read back, the plug-in folders of each OS
with a fake home and environment, and no console window when GIMP starts samcut on Windows.
(Krita's runner: test_krita_runner.py; Python 3.8 syntax: test_carried_python38.py.)"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from samcut.cli import plugins_cmd
from samcut.plugin import locations, protocol
from samcut.plugin.locations import Machine, resolve_samcut_command

SPACED = "Program Files"  # every Windows install path has a space in it


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


# the command resolved at install time ---------------------------------------------------------
def test_a_frozen_bundle_is_started_as_its_own_executable(tmp_path) -> None:
    exe = touch(tmp_path / SPACED / "samcut" / "samcut")
    assert resolve_samcut_command("linux", str(exe), True, None) == [str(exe)]
    assert resolve_samcut_command("darwin", str(exe), True, "/ignored") == [str(exe)]  # never "-m samcut.cli"


def test_a_windows_bundle_prefers_its_console_sibling(tmp_path) -> None:
    exe = touch(tmp_path / SPACED / "samcut" / "samcut.exe")
    assert resolve_samcut_command("win32", str(exe), True, None) == [str(exe)]
    cli = touch(exe.with_name("samcut-cli.exe"))
    assert resolve_samcut_command("win32", str(exe), True, None) == [str(cli)]
    assert resolve_samcut_command("linux", str(exe), True, None) == [str(exe)]  # only Windows has two


def test_a_windows_venv_uses_its_scripts_samcut_exe(tmp_path) -> None:
    scripts = tmp_path / SPACED / "venv" / "Scripts"
    python = touch(scripts / "python.exe")
    assert resolve_samcut_command("win32", str(python), False, str(scripts)) == [str(python), "-m", "samcut.cli"]
    touch(scripts / "samcut")  # a POSIX script name is no Windows program
    assert resolve_samcut_command("win32", str(python), False, str(scripts)) == [str(python), "-m", "samcut.cli"]
    exe = touch(scripts / "samcut.exe")
    command = resolve_samcut_command("win32", str(python), False, str(scripts))
    assert command == [str(exe)] and SPACED in command[0]  # one argument, spaces and all


def test_a_system_python_on_windows_finds_the_scripts_folder(tmp_path) -> None:
    python = touch(tmp_path / "Python312" / "python.exe")
    exe = touch(tmp_path / "Python312" / "Scripts" / "samcut.exe")
    assert resolve_samcut_command("win32", str(python), False, str(exe.parent)) == [str(exe)]


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_posix_uses_the_samcut_script_next_to_the_interpreter_else_dash_m(tmp_path, platform) -> None:
    python = touch(tmp_path / "venv" / "bin" / "python")
    assert resolve_samcut_command(platform, str(python), False, None) == [str(python), "-m", "samcut.cli"]
    touch(python.with_name("samcut.exe"))
    assert resolve_samcut_command(platform, str(python), False, None) == [str(python), "-m", "samcut.cli"]
    script = touch(python.with_name("samcut"))
    assert resolve_samcut_command(platform, str(python), False, None) == [str(script)]
    other = touch(tmp_path / "scripts" / "samcut")
    assert resolve_samcut_command(platform, str(python), False, str(other.parent)) == [str(other)]


def test_this_samcut_resolves_to_a_program_that_exists() -> None:
    command = locations.this_samcut_command(sys.platform)
    assert Path(command[0]).is_file()
    assert command[1:] in ([], ["-m", "samcut.cli"])


def test_this_samcut_frozen_is_its_executable_without_asking_sysconfig(monkeypatch) -> None:
    import sysconfig

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sysconfig, "get_path", lambda *_: pytest.fail("a bundle has no scripts folder"))
    assert locations.this_samcut_command("linux") == [sys.executable]


# $SAMCUT_COMMAND and samcut_command.json read back --------------------------------------------
def test_the_environment_takes_a_json_list_one_spaced_path_or_words(tmp_path) -> None:
    spaced = touch(tmp_path / SPACED / "samcut.exe")
    read = protocol.samcut_command
    assert read(str(tmp_path), {"SAMCUT_COMMAND": json.dumps([str(spaced), "--x"])}) == [str(spaced), "--x"]
    assert read(str(tmp_path), {"SAMCUT_COMMAND": str(spaced)}) == [str(spaced)]  # an existing program, whole
    assert read(str(tmp_path), {"SAMCUT_COMMAND": "chroot /host /opt/samcut"}) == ["chroot", "/host", "/opt/samcut"]
    assert read(str(tmp_path), {"SAMCUT_COMMAND": "samcut"}) == ["samcut"]


@pytest.mark.parametrize("value", ['["a", ', "[]", "[1]", '["samcut", ""]', '[["samcut"]]'])
def test_a_malformed_environment_list_is_refused_in_one_line(tmp_path, value) -> None:
    with pytest.raises(protocol.ProtocolError, match="SAMCUT_COMMAND") as info:
        protocol.samcut_command(str(tmp_path), {"SAMCUT_COMMAND": value})
    assert len(str(info.value).splitlines()) == 1


def test_the_command_file_round_trips_and_the_environment_wins(tmp_path) -> None:
    command = [str(tmp_path / SPACED / "samcut" / "samcut-cli.exe")]
    (tmp_path / protocol.COMMAND_FILE).write_text(protocol.command_file_text(command))
    assert protocol.samcut_command(str(tmp_path), {}) == command
    assert protocol.samcut_command(str(tmp_path), {"SAMCUT_COMMAND": "other"}) == ["other"]
    (tmp_path / protocol.COMMAND_FILE).write_text(json.dumps(["/opt/samcut", "--x"]))  # a bare list too
    assert protocol.samcut_command(str(tmp_path), {}) == ["/opt/samcut", "--x"]
    (tmp_path / protocol.COMMAND_FILE).unlink()
    assert protocol.samcut_command(str(tmp_path), {}) == ["samcut"]  # nothing installed: samcut on PATH


@pytest.mark.parametrize("text", [
    '{"command": "C:/Program Files/samcut/samcut.exe"}',  # the old split-on-spaces string
    '{"command": []}', '{"command": [1, 2]}', '{"command": ["samcut", null]}', '{"other": ["samcut"]}',
    '"samcut"', "{", "\u00e9",  # not a list, not JSON, not UTF-8
])
def test_a_malformed_command_file_is_refused_in_one_line(tmp_path, text) -> None:
    (tmp_path / protocol.COMMAND_FILE).write_bytes(text.encode("latin-1"))
    with pytest.raises(protocol.ProtocolError, match="samcut plugins install") as info:
        protocol.samcut_command(str(tmp_path), {})
    message = str(info.value)
    assert len(message.splitlines()) == 1 and protocol.COMMAND_FILE in message


def test_command_file_text_refuses_what_the_reader_would() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.command_file_text([])
    assert json.loads(protocol.command_file_text(["a b", "c"])) == {"command": ["a b", "c"]}


def test_console_windows_are_hidden_only_on_windows() -> None:
    assert protocol.no_window_options("win32") == {"creationflags": 0x08000000}
    assert protocol.no_window_options("linux") == protocol.no_window_options("darwin") == {}


# plug-in folders of each OS, with a fake home and environment ---------------------------------
def fake_machine(tmp_path: Path, platform: str) -> Machine:
    home = tmp_path / "home"
    env = {"PATH": str(tmp_path / "nobin")}
    if platform == "win32":
        env.update(APPDATA=str(home / "AppData" / "Roaming"), LOCALAPPDATA=str(home / "AppData" / "Local"))
    return Machine(platform, env, home)


WHERE = {  # (krita pykrita, kritarc, gimp plug-ins) under the fake home, as HOSTS.md lists them
    "linux": (".local/share/krita/pykrita", ".config/kritarc", ".config/GIMP/3.0/plug-ins"),
    "win32": ("AppData/Roaming/krita/pykrita", "AppData/Local/kritarc", "AppData/Roaming/GIMP/3.0/plug-ins"),
    "darwin": ("Library/Application Support/krita/pykrita", "Library/Preferences/kritarc",
               "Library/Application Support/GIMP/3.0/plug-ins"),
}


@pytest.mark.parametrize("platform", sorted(WHERE))
def test_install_paths_and_uninstall_on_each_os(tmp_path, capsys, platform) -> None:
    """``plugins install|paths|uninstall`` with the machine passed in: every file lands where that
    OS's Krita and GIMP 3 look, and each plug-in reads back the command it was installed with."""
    machine = fake_machine(tmp_path, platform)
    krita, rc, gimp = (machine.home / part for part in WHERE[platform])
    command = [str(tmp_path / SPACED / "samcut" / "samcut-cli.exe")]

    def run(action: str, host: str | None = None) -> str:
        args = argparse.Namespace(action=action, host=host, flatpak=False)
        assert plugins_cmd.run(args, machine=machine, command=command) == 0
        return capsys.readouterr().out

    said = run("paths")
    for line, path in (("krita plug-ins", krita), ("krita settings", rc), ("gimp plug-ins", gimp)):
        assert f"{line}: {path}" in said.replace("  ", " ")
    assert f"samcut command: {json.dumps(command)}" in said
    run("install", "krita")
    run("install", "gimp")
    package = krita / plugins_cmd.KRITA_NAME
    assert (krita / "samcut_krita.desktop").is_file() and (package / "runner.py").is_file()
    assert "enable_samcut_krita=true" in rc.read_text()
    assert (gimp / "samcut" / "samcut.py").stat().st_mode & 0o100
    for folder in (package, gimp / "samcut"):
        assert protocol.samcut_command(str(folder), {}) == command
    run("uninstall", "krita")
    run("uninstall", "gimp")
    assert not package.exists() and not (gimp / "samcut").exists()
    assert "enable_samcut_krita=false" in rc.read_text()


def test_windows_folders_without_appdata_fall_back_to_the_profile() -> None:
    home = Path("/users/u")
    for env in ({}, {"APPDATA": "", "LOCALAPPDATA": ""}):  # unset or empty: never the current folder
        assert locations.krita_pykrita_dir("win32", env, home) == home / "AppData/Roaming/krita/pykrita"
        assert locations.krita_rc("win32", env, home) == home / "AppData/Local/kritarc"
        assert locations.gimp_plugins_dir("win32", env, home) == home / "AppData/Roaming/GIMP/3.0/plug-ins"


def test_the_machine_is_read_in_one_place(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("HOME", str(tmp_path))
    machine = locations.current()
    assert machine.platform == "darwin" and machine.home == tmp_path and machine.env["HOME"] == str(tmp_path)


# GIMP starts samcut without a console window on Windows ---------------------------------------
@pytest.fixture()
def gimp_plugin(tmp_path, monkeypatch):
    """The installed GIMP plug-in imported outside GIMP, with a stand-in for PyGObject."""
    folder = plugins_cmd.install_gimp(fake_machine(tmp_path, "linux"), ["/opt/samcut"], flatpak=False)[0]
    gi = types.ModuleType("gi")
    gi.require_version = lambda *_: None
    repository = types.ModuleType("gi.repository")
    repository.Gimp = types.SimpleNamespace(PlugIn=object, ChannelOps=types.SimpleNamespace(
        REPLACE=0, ADD=1, SUBTRACT=2, INTERSECT=3))
    repository.Gio = repository.GLib = repository.GObject = types.SimpleNamespace()
    gi.repository = repository
    for name, module in (("gi", gi), ("gi.repository", repository)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "samcut_protocol", raising=False)
    spec = importlib.util.spec_from_file_location("samcut_gimp_plugin", folder / "samcut.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("samcut_protocol", None)


@pytest.mark.parametrize("platform,flags", [("win32", {"creationflags": 0x08000000}), ("linux", {})])
def test_gimp_starts_samcut_from_the_installed_command_without_a_console(gimp_plugin, tmp_path, monkeypatch,
                                                                         platform, flags) -> None:
    calls = []

    def fake_run(command, **kwargs):
        calls.append((command, kwargs))
        (tmp_path / "response.json").write_text(protocol.Response("cancel").to_json())
        return types.SimpleNamespace(returncode=0, stderr=b"")

    monkeypatch.setattr(gimp_plugin.subprocess, "run", fake_run)
    monkeypatch.delenv("SAMCUT_COMMAND", raising=False)
    request = gimp_plugin.protocol.Request(image=str(tmp_path / "layer.png"), response=str(tmp_path / "response.json"))
    assert gimp_plugin.run_samcut(request, str(tmp_path), platform=platform).status == "cancel"
    command, kwargs = calls[0]
    assert command == ["/opt/samcut", "host", str(tmp_path / "request.json")]
    assert {k: v for k, v in kwargs.items() if k == "creationflags"} == flags


def test_gimp_says_what_is_wrong_with_a_broken_command_file(gimp_plugin, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SAMCUT_COMMAND", raising=False)
    (Path(gimp_plugin.HERE) / protocol.COMMAND_FILE).write_text('{"command": "samcut host"}')
    monkeypatch.setattr(gimp_plugin.subprocess, "run", lambda *a, **k: pytest.fail("samcut must not start"))
    request = gimp_plugin.protocol.Request(image="x.png", response=str(tmp_path / "response.json"))
    with pytest.raises(gimp_plugin.protocol.ProtocolError, match="non-empty JSON list of strings"):
        gimp_plugin.run_samcut(request, str(tmp_path))
