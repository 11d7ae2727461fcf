"""The bridge outside the hosts: protocol, plug-in logic, install locations, ``samcut host``."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samcut.cli.main import main
from samcut.plugin import locations
from samcut.plugin.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    Request,
    Response,
    clean_environment,
    read_response,
)


def test_request_round_trip_and_validation() -> None:
    req = Request(image="/a.png", response="/r.json", points=[[1.5, 2, 1]], box=[1, 2, 3, 4], mode="add")
    again = Request.from_json(req.to_json())
    assert again == req
    with pytest.raises(ProtocolError, match="unknown mode"):
        Request.from_json(json.dumps({**json.loads(req.to_json()), "mode": "xor"}))
    with pytest.raises(ProtocolError, match="version mismatch"):
        Request.from_json(json.dumps({**json.loads(req.to_json()), "protocol": PROTOCOL_VERSION + 1}))
    with pytest.raises(ProtocolError, match="not JSON"):
        Request.from_json("{")


def test_response_errors(tmp_path) -> None:
    with pytest.raises(ProtocolError, match="without an answer"):
        read_response(str(tmp_path / "missing.json"))
    (tmp_path / "r.json").write_text(json.dumps({"protocol": PROTOCOL_VERSION, "status": "maybe"}))
    with pytest.raises(ProtocolError, match="status"):
        read_response(str(tmp_path / "r.json"))
    assert Response.from_json(Response("ok", "/m.png", "subtract").to_json()).mode == "subtract"


def test_clean_environment_drops_host_leaks() -> None:
    env = clean_environment({"PYTHONPATH": "/krita", "QT_QPA_PLATFORM": "xcb", "QT_PLUGIN_PATH": "/x",
                             "HOME": "/h", "SAMCUT_MODELS_ROOT": "/m"})
    assert env == {"HOME": "/h", "SAMCUT_MODELS_ROOT": "/m"}


@pytest.mark.parametrize("platform,env,krita,rc,gimp", [
    ("linux", {}, ".local/share/krita/pykrita", ".config/kritarc", ".config/GIMP/3.0/plug-ins"),
    ("linux", {"XDG_DATA_HOME": "/d", "XDG_CONFIG_HOME": "/c"}, "/d/krita/pykrita", "/c/kritarc",
     "/c/GIMP/3.0/plug-ins"),
    ("win32", {"APPDATA": "/ad", "LOCALAPPDATA": "/la"}, "/ad/krita/pykrita", "/la/kritarc", "/ad/GIMP/3.0/plug-ins"),
    ("darwin", {}, "Library/Application Support/krita/pykrita", "Library/Preferences/kritarc",
     "Library/Application Support/GIMP/3.0/plug-ins"),
])
def test_plugin_locations(platform, env, krita, rc, gimp) -> None:
    home = Path("/home/u")
    assert locations.krita_pykrita_dir(platform, env, home) == home / krita
    assert locations.krita_rc(platform, env, home) == home / rc
    assert locations.gimp_plugins_dir(platform, env, home) == home / gimp
    assert locations.gimp_plugins_dir("linux", {}, home, flatpak=True) == \
        home / ".var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins"


def test_install_uninstall_krita_and_gimp(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "kritarc").write_text("[General]\nsomeKey=1\n")
    assert main(["plugins", "install", "krita"]) == 0
    package = tmp_path / "data/krita/pykrita/samcut_krita"
    assert (package / "protocol.py").is_file() and (package / "samcut_command.json").is_file()
    rc = (tmp_path / "config/kritarc").read_text()
    assert "someKey=1" in rc and "enable_samcut_krita=true" in rc
    assert main(["plugins", "install", "gimp"]) == 0
    script = tmp_path / "config/GIMP/3.0/plug-ins/samcut/samcut.py"
    assert script.stat().st_mode & 0o111
    assert main(["plugins", "uninstall", "krita"]) == 0 and not package.exists()
    assert "enable_samcut_krita=false" in (tmp_path / "config/kritarc").read_text()
    assert main(["plugins", "uninstall", "gimp"]) == 0 and not script.exists()
    assert main(["plugins", "paths"]) == 0
    assert "gimp plug-ins:" in capsys.readouterr().out


def test_krita_package_imports_outside_krita(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["plugins", "install", "krita"]) == 0
    monkeypatch.syspath_prepend(str(tmp_path / "data/krita/pykrita"))
    package = importlib.import_module("samcut_krita")
    assert package.Krita is None  # guarded: nothing registered outside Krita
    logic = importlib.import_module("samcut_krita.logic")
    assert logic.parse_points("1,2;3.5,4,0") == [[1.0, 2.0, 1], [3.5, 4.0, 0]]
    assert logic.samcut_command(str(tmp_path), {"SAMCUT_COMMAND": "/opt/samcut --x"}) == ["/opt/samcut", "--x"]
    command = logic.samcut_command(str(tmp_path / "data/krita/pykrita/samcut_krita"), {})
    assert command[0].endswith("samcut") or command[-1] == "samcut.cli"
    req = logic.build_request("/w", has_selection=True, interactive=False, points=[[1, 2, 1]])
    assert req.selection == "/w/selection.png" and req.host == "krita" and not req.interactive
    assert logic.gray_rows(b"abcXdefX", 3, 2, 4) == b"abcdef"
    assert logic.bgra_from_alpha(b"\x00\x80") == b"\xff\xff\xff\x00\xff\xff\xff\x80"
    assert set(logic.SELECT_OPAQUE_ACTIONS) == {"replace", "add", "subtract", "intersect"}
    with pytest.raises(logic.protocol.ProtocolError, match="10x10 mask for a 20x10 layer"):
        logic.check_response(logic.protocol.Response("ok", "/m.png"), 20, 10, (10, 10))


def test_krita_qt_shim_prefers_pyqt6_then_pyqt5(tmp_path, monkeypatch) -> None:
    """The shim picks PyQt6 when it exists, else PyQt5 (faked modules: neither is needed here)."""
    import types

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["plugins", "install", "krita"]) == 0
    monkeypatch.syspath_prepend(str(tmp_path / "data/krita/pykrita"))

    def fake(api: str, nested_enums: bool) -> None:
        class QImage:
            if nested_enums:
                class Format:
                    Format_ARGB32, Format_Grayscale8 = "argb6", "gray6"
            else:
                Format_ARGB32, Format_Grayscale8 = "argb5", "gray5"
        core = types.SimpleNamespace(QProcess=object, QProcessEnvironment=object, QTimer=object)
        monkeypatch.setitem(sys.modules, api, types.ModuleType(api))
        monkeypatch.setitem(sys.modules, f"{api}.QtCore", core)
        monkeypatch.setitem(sys.modules, f"{api}.QtGui", types.SimpleNamespace(QImage=QImage))
        monkeypatch.setitem(sys.modules, f"{api}.QtWidgets", types.SimpleNamespace(QMessageBox=object))

    fake("PyQt5", nested_enums=False)
    monkeypatch.setitem(sys.modules, "PyQt6", None)  # not installed
    sys.modules.pop("samcut_krita.qt_shim", None)
    shim = importlib.import_module("samcut_krita.qt_shim")
    assert shim.QT_API == "PyQt5" and shim.FORMAT_GRAY8 == "gray5"
    fake("PyQt6", nested_enums=True)
    shim = importlib.reload(shim)
    assert shim.QT_API == "PyQt6" and shim.FORMAT_ARGB32 == "argb6"


def _request(tmp_path, **kw) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path / "layer.png")
    req = Request(image=str(tmp_path / "layer.png"), response=str(tmp_path / "response.json"), **kw)
    path = tmp_path / "request.json"
    path.write_text(req.to_json())
    return path


def test_host_command_headless_answers_like_segment(tmp_path, test_model_dir) -> None:
    path = _request(tmp_path, interactive=False, points=[[40, 30, 1]], mode="intersect")
    assert main(["host", str(path), "--models", str(test_model_dir)]) == 0
    response = read_response(str(tmp_path / "response.json"))
    assert response.status == "ok" and response.mode == "intersect"
    assert main(["segment", str(tmp_path / "layer.png"), "--point", "40,30", "--models", str(test_model_dir),
                 "--mask", str(tmp_path / "ref.png")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(response.mask)), np.asarray(Image.open(tmp_path / "ref.png")))


def test_host_command_reports_errors_in_the_response(tmp_path, test_model_dir) -> None:
    path = _request(tmp_path, interactive=False, points=[[40, 30, 1]])
    (tmp_path / "layer.png").write_bytes(b"broken")
    result = subprocess.run([sys.executable, "-m", "samcut.cli", "host", str(path), "--models", str(test_model_dir)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    response = read_response(str(tmp_path / "response.json"))
    assert response.status == "error" and "not an image" in response.message


def test_host_command_version_mismatch(tmp_path) -> None:
    path = _request(tmp_path)
    data = json.loads(path.read_text())
    data["protocol"] = 99
    path.write_text(json.dumps(data))
    assert main(["host", str(path)]) == 2  # a request samcut cannot take: a usage error
    assert "version mismatch" in json.loads((tmp_path / "response.json").read_text())["message"]


def test_the_bridge_folder_must_be_private_to_the_user(tmp_path, monkeypatch) -> None:
    import os

    from samcut.cli.host import forward_to_running_samcut
    from samcut.models.io import platform
    from samcut.plugin import transport

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    folder = transport.server_dir()
    assert folder == str(tmp_path / f"samcut-{os.getuid()}")
    platform.ensure_private_folder(folder)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    os.chmod(folder, 0o777)  # as if another user had made it first, open to all
    with pytest.raises(PermissionError, match="open to others"):
        platform.ensure_private_folder(folder)
    assert not forward_to_running_samcut(str(tmp_path / "request.json"))  # the client will not talk there
    os.rmdir(folder)
    os.symlink(tmp_path, folder)
    with pytest.raises(PermissionError, match="not a folder"):
        platform.ensure_private_folder(folder)


def test_request_files_are_read_only_when_regular_and_answered_into_their_own_folder(tmp_path) -> None:
    import os
    import time

    from samcut.plugin.protocol import ProtocolError, Request, read_request_file

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(ProtocolError, match="not a regular file"):
        read_request_file(str(fifo))
    assert time.perf_counter() - started < 1
    elsewhere = tmp_path / "req.json"
    elsewhere.write_text(Request(image="x.png", response=str(tmp_path.parent / "victim.json")).to_json())
    with pytest.raises(ProtocolError, match="own folder"):
        read_request_file(str(elsewhere))
    (tmp_path / "latin1.json").write_bytes(b'{"image": "\xe9"}')
    with pytest.raises(ProtocolError, match="not UTF-8"):
        read_request_file(str(tmp_path / "latin1.json"))
    with pytest.raises(ProtocolError):
        read_request_file(str(tmp_path) + "/a\0b.json")
    good = tmp_path / "good.json"
    good.write_text(Request(image="x.png", response=str(tmp_path / "response.json")).to_json())
    assert read_request_file(str(good)).response == str(tmp_path / "response.json")


def test_host_with_a_missing_request_file_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["host", str(tmp_path / "nothing.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("samcut: cannot read the request") and len(err.splitlines()) == 1


def test_install_says_when_the_host_is_not_on_this_machine(tmp_path, monkeypatch, capsys) -> None:
    """No program on PATH and no settings: the plug-in is still put in place, and a note says that
    the host was not found (instead of "restart GIMP"); with the host's program on PATH, it is named."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(locations, "_FLATPAK_IDS", {"krita": "none.krita", "gimp": "none.gimp"})
    for host, title in (("gimp", "GIMP"), ("krita", "Krita")):
        assert main(["plugins", "install", host]) == 0
        said = capsys.readouterr()
        assert f"note: {title} was not found on this machine" in said.err and "restart" not in said.out
    assert (tmp_path / "config/GIMP/3.0/plug-ins/samcut/samcut.py").is_file()  # in place all the same
    assert main(["plugins", "install", "krita"]) == 0  # what installing wrote is no sign of Krita
    assert "note: Krita was not found" in capsys.readouterr().err
    (tmp_path / "config" / "kritarc").write_text("[MainWindow]\nState=1\n[python]\nenable_samcut_krita=true\n")
    assert main(["plugins", "install", "krita"]) == 0  # Krita has started once: its settings say so
    assert "Krita found" in capsys.readouterr().out
    (tmp_path / "bin").mkdir()
    program = tmp_path / "bin" / "gimp-3.0"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert main(["plugins", "install", "gimp"]) == 0
    said = capsys.readouterr()
    assert f"GIMP found ({program}): restart it" in said.out and "note:" not in said.err


HOSTILE_REQUESTS = {
    "infinite coordinate": '"points": [[5, 5, 1], [Infinity, 5, 1]]',
    "NaN coordinate": '"points": [[NaN, 5, 1]]',
    "400-digit coordinate": '"points": [[' + "9" * 400 + ', 5, 1]]',
    "label 5": '"points": [[5, 5, 5]]',
    "label as text": '"points": [[5, 5, "1"]]',
    "point of 2 numbers": '"points": [[5, 5]]',
    "points not a list": '"points": "5,5"',
    "deep nesting": '"points": ' + "[" * 200_000 + "]" * 200_000,
    "box infinite": '"box": [0, 0, Infinity, 9]',
    "image as a number": '"image": 7',
}


@pytest.mark.parametrize("field", HOSTILE_REQUESTS.values(), ids=HOSTILE_REQUESTS.keys())
def test_a_malformed_request_is_answered_with_an_error_in_one_line(tmp_path, capsys, field) -> None:
    """Whatever the request holds, ``samcut host`` writes an error response and prints one line:
    no OverflowError, RecursionError or traceback, and never a host left waiting."""
    import json

    image = "" if field.startswith('"image"') else f'"image": "{tmp_path / "layer.png"}", '
    response = f'"response": "{tmp_path / "response.json"}"'
    text = "{" + f'"protocol": 1, {image}{response}, "interactive": false, ' + field + "}"
    (tmp_path / "request.json").write_text(text)
    assert main(["host", str(tmp_path / "request.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("samcut: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    response = json.loads((tmp_path / "response.json").read_text())
    assert response["status"] == "error" and response["message"] == err.removeprefix("samcut: ")


def test_a_point_off_the_image_is_refused_as_by_segment(tmp_path, capsys, test_model_dir) -> None:
    """The host's prompt is checked by the same rule as ``samcut segment --point``."""
    import json

    from PIL import Image

    Image.new("RGB", (160, 90), "white").save(tmp_path / "layer.png")
    request = Request(image=str(tmp_path / "layer.png"), response=str(tmp_path / "response.json"),
                      interactive=False, points=[[500.0, 20.0, 1]])
    (tmp_path / "request.json").write_text(request.to_json())
    assert main(["host", str(tmp_path / "request.json"), "--models", str(test_model_dir)]) == 1
    message = json.loads((tmp_path / "response.json").read_text())["message"]
    assert message == "point 500,20 is outside the 160x90 image (x 0..160, y 0..90)"
    assert capsys.readouterr().err.strip() == f"samcut: {message}"
