"""samcut serving a host interactively: the layer and selection open, Apply/Cancel answer, reuse."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samcut.cli.host import forward_to_running_samcut
from samcut.gui.host_session import HostServer
from samcut.plugin.protocol import Request, read_response
from samcut.plugin.transport import connect_to_server, read_endpoint, server_dir

from helpers import drag, wait_for_encode, wait_for_proposal
from loopback_server import read_until


def client_socket():
    """A connection to the test's server, the handshake done as ``samcut host`` does it (call it
    off the GUI thread: the server answers from the event loop)."""
    sock = connect_to_server(server_dir())
    assert sock is not None, "the server did not answer the handshake"
    return sock


def raw_socket():
    """A plain TCP connection to the test's server's port: no handshake (a stranger's)."""
    import socket

    endpoint = read_endpoint(server_dir())
    assert endpoint is not None
    return socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)


def write_request(folder: Path, name: str, with_selection: bool) -> Path:
    work = folder / name
    work.mkdir()
    rng = np.random.default_rng(len(name))
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(work / "layer.png")
    selection = None
    if with_selection:
        sel = np.zeros((200, 300), np.uint8)
        sel[10:50, 20:90] = 255
        Image.fromarray(sel).save(work / "selection.png")
        selection = str(work / "selection.png")
    req = Request(image=str(work / "layer.png"), response=str(work / "response.json"), selection=selection,
                  host="krita")
    (work / "request.json").write_text(req.to_json())
    return work / "request.json"


def test_apply_returns_the_selection_and_a_second_call_reuses_the_process(qtbot, window, runtime_dir) -> None:
    server = HostServer(window)
    assert server.listening
    first = write_request(runtime_dir, "one", with_selection=True)
    assert server.start(str(first))
    qtbot.waitUntil(lambda: server.session is not None, timeout=60_000)  # the layer is decoded off the GUI thread
    doc = window.editor
    assert doc.selection[20, 30] == 255 and doc.selection[100, 200] == 0  # the host's selection is loaded
    assert "selecting for Krita" in window.windowTitle()
    wait_for_encode(qtbot, window)
    drag(window.canvas, [(150, 120), (170, 130)])
    wait_for_proposal(qtbot, window)
    proposal = doc.proposal.full()
    window.bars.refine_action.setChecked(False)
    window.set_mode(window.mode.ADD)
    server.session.apply_action.trigger()  # Ctrl+Enter
    response = read_response(str(first.with_name("response.json")))
    assert response.status == "ok" and response.mode == "replace"
    mask = np.asarray(Image.open(response.mask)) > 127
    expected = proposal.copy()
    expected[10:50, 20:90] = True
    np.testing.assert_array_equal(mask, expected)
    assert not window.isVisible() and server.linger.isActive()

    engine = window.bridge.service.engine
    second = write_request(runtime_dir, "two", with_selection=False)
    answered = []
    client = threading.Thread(target=lambda: answered.append(forward_to_running_samcut(str(second))))
    client.start()
    qtbot.waitUntil(lambda: window.isVisible() and server.session.request.response.endswith("two/response.json"),
                    timeout=60_000)
    assert window.bridge.service.engine is engine  # the warm model is reused
    window.close()  # closing the window cancels the host call
    qtbot.waitUntil(lambda: not client.is_alive(), timeout=60_000)
    client.join()
    assert answered == [True]
    assert read_response(str(second.with_name("response.json"))).status == "cancel"


def test_no_running_samcut_means_no_forwarding(runtime_dir) -> None:
    assert not forward_to_running_samcut(str(runtime_dir / "nothing.json"))


def test_a_client_that_stalls_before_sending_freezes_nothing(qtbot, window, runtime_dir) -> None:
    import time

    from PySide6.QtCore import QTimer

    server = HostServer(window)
    request = write_request(runtime_dir, "slow", with_selection=False)
    replies = []

    def slow_client() -> None:
        with client_socket() as sock:
            time.sleep(1.5)  # connected, request not sent yet
            sock.sendall(str(request).encode() + b"\n")
            replies.append(read_until_done(sock))

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(50)
    client = threading.Thread(target=slow_client)
    client.start()
    qtbot.waitUntil(lambda: server.session is not None and window.isVisible(), timeout=60_000)
    timer.stop()
    # The event loop kept running while the client was silent: no gap of a second between ticks.
    assert len(ticks) > 10 and float(np.diff(ticks).max()) < 1.0
    assert server.session.request.response.endswith("slow/response.json")
    server.session.cancel()
    qtbot.waitUntil(lambda: not client.is_alive(), timeout=60_000)
    assert replies and replies[0].replace(b"wait\n", b"") == b"done\n"


def read_until_done(sock) -> bytes:
    """What the server said, up to and including its ``done`` line."""
    sock.settimeout(30)
    return read_until(sock, b"done\n")


def ask_in_background(request: Path) -> tuple[threading.Thread, list[bytes]]:
    """A client thread that sends ``request``'s path to the server and keeps what it hears up to
    ``done`` (in the returned list, once the thread ends)."""
    said: list[bytes] = []

    def client() -> None:
        with client_socket() as sock:
            sock.sendall(str(request).encode() + b"\n")
            said.append(read_until_done(sock))

    thread = threading.Thread(target=client)
    thread.start()
    return thread, said


def test_a_waiting_client_hears_a_heartbeat_until_the_answer(qtbot, window, runtime_dir) -> None:

    server = HostServer(window)
    server.heartbeat.setInterval(100)
    request = write_request(runtime_dir, "beat", with_selection=False)
    thread, said = ask_in_background(request)
    qtbot.waitUntil(lambda: server.session is not None and window.isVisible(), timeout=60_000)
    qtbot.wait(600)  # the user works; the client hears "wait" meanwhile
    server.session.apply_action.trigger()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert said[0].endswith(b"done\n") and said[0].count(b"wait\n") >= 3


def test_a_garbled_request_line_is_released_not_raised(qtbot, window, runtime_dir) -> None:
    server = HostServer(window)
    replies = []

    def client() -> None:
        with client_socket() as sock:
            sock.sendall(b"\xff\xfe not a path\n")
            sock.settimeout(30)
            replies.append(sock.recv(64))

    thread = threading.Thread(target=client)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert replies == [b"done\n"]
    assert server.session is None  # no session was opened for it


def test_a_request_whose_layer_cannot_be_read_gets_an_error_response(qtbot, window, runtime_dir) -> None:
    server = HostServer(window)
    request = write_request(runtime_dir, "broken", with_selection=False)
    (request.parent / "layer.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert server.start(str(request))
    qtbot.waitUntil(lambda: server.refused == 1, timeout=60_000)
    response = read_response(str(request.with_name("response.json")))
    assert response.status == "error" and "layer.png" in response.message
    assert server.session is None and not window.runner.busy and server.linger.isActive()


@pytest.mark.parametrize("line", [b"x" * 10_000, b"/tmp/a\x00b.json\n", b"/nonexistent/request.json\n"])
def test_every_request_line_gets_an_answer(qtbot, window, runtime_dir, line) -> None:
    """An endless line, a NUL byte, a missing file: the client is released, nothing is shown."""
    server = HostServer(window)
    replies = []

    def client() -> None:
        with client_socket() as sock:
            sock.sendall(line)
            sock.settimeout(30)
            replies.append(sock.recv(64))

    thread = threading.Thread(target=client)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert replies == [b"done\n"] and server.session is None


def test_apply_as_new_layer_or_layer_mask_says_so_in_the_answer(qtbot, window, runtime_dir) -> None:
    server = HostServer(window)
    for name, action in (("layer", "layer_action"), ("mask", "mask_action")):
        request = write_request(runtime_dir, f"as-{name}", with_selection=True)
        assert server.start(str(request))
        qtbot.waitUntil(lambda r=request: server.session is not None and not server.session.done
                        and server.session.request.response.startswith(str(r.parent)), timeout=60_000)
        assert getattr(server.session, action).text().startswith("Apply as")
        offered = window.bars.host_toolbar.actions()  # Krita too: its transparency mask now works
        assert server.session.mask_action in offered and server.session.layer_action in offered
        getattr(server.session, action).trigger()
        response = read_response(str(request.with_name("response.json")))
        assert response.status == "ok" and response.output == name
        mask = np.asarray(Image.open(response.mask)) > 127
        assert mask[20, 30] and not mask[100, 200]  # the host's selection, sent back as asked


def test_a_request_naming_a_model_is_answered_by_it_and_the_next_one_by_the_users_choice(
        qtbot, window, runtime_dir, test_model_dir, synthetic_model_dir, tmp_path, monkeypatch) -> None:
    """``Request.model``: "quality" is the user's quality model, alone; a request without one is
    answered by the user's quick model again (with the quality model behind it); the window says
    which model answers."""
    import dataclasses

    monkeypatch.setenv("SAMCUT_MODEL_DIR", str(test_model_dir))
    window.preferences.quality_model = str(synthetic_model_dir)
    server = HostServer(window)
    first = write_request(runtime_dir, "one", with_selection=False)
    request = dataclasses.replace(Request.from_json(first.read_text()), model="quality")
    first.write_text(request.to_json())
    assert server.start(str(first))
    qtbot.waitUntil(lambda: server.session is not None, timeout=60_000)
    assert window.bridge.model == str(synthetic_model_dir) and window.bridge.service.quality is None
    wait_for_encode(qtbot, window)
    assert "mobile_sam_synthetic" in window.status.encoder_label.text() or \
        synthetic_model_dir.name in window.status.encoder_label.text()
    server.session.cancel()
    second = write_request(runtime_dir, "two", with_selection=False)
    assert server.start(str(second))
    qtbot.waitUntil(lambda: server.session is not None and server.session.request.response.endswith(
        "two/response.json"), timeout=60_000)
    assert window.bridge.service.model == str(test_model_dir)
    assert window.bridge.service.quality is not None and window.bridge.service.quality.name == str(synthetic_model_dir)
    server.session.cancel()
