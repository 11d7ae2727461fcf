"""A running host server meets clients that die, flood it, or send what no host would."""

from __future__ import annotations

import socket
import threading

import pytest
from test_host_session import ask_in_background, write_request

from samcut.cli.host import server_address
from samcut.gui.host_session import MAX_WAITING_PEERS, HostServer
from samcut.plugin.protocol import read_response


def test_a_client_that_vanishes_while_served_is_forgotten_cleanly(qtbot, window, runtime_dir, capfd) -> None:
    """The client is killed while the user works: Cancel then touches no deleted socket, the
    heartbeat goes on quietly and the linger timer starts."""
    server = HostServer(window, server_address())
    server.heartbeat.setInterval(50)
    request = write_request(runtime_dir, "gone", with_selection=False)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(server_address())
    sock.sendall(str(request).encode() + b"\n")
    qtbot.waitUntil(lambda: server.session is not None and window.isVisible(), timeout=60_000)
    sock.close()  # as a kill -9 of the host's samcut would
    qtbot.waitUntil(lambda: server._peer is None, timeout=60_000)
    qtbot.wait(200)  # heartbeats fire meanwhile
    server.session.cancel_action.trigger()
    assert read_response(str(request.with_name("response.json"))).status == "cancel"
    assert server.linger.isActive()
    assert "Traceback" not in capfd.readouterr().err


def test_a_flood_of_idle_connections_is_refused_and_the_server_keeps_serving(qtbot, window, runtime_dir) -> None:
    server = HostServer(window, server_address())
    idle = []

    def flood() -> None:  # off the GUI thread: a full backlog blocks connect() until Qt accepts
        for _ in range(4 * MAX_WAITING_PEERS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            try:
                sock.connect(server_address())
            except OSError:
                sock.close()
                continue
            idle.append(sock)

    flooding = threading.Thread(target=flood)
    flooding.start()
    qtbot.waitUntil(lambda: not flooding.is_alive(), timeout=60_000)
    qtbot.waitUntil(lambda: len(server._waiting) == MAX_WAITING_PEERS, timeout=60_000)
    qtbot.wait(300)  # the surplus is closed at once, not kept
    assert len(server._waiting) == MAX_WAITING_PEERS
    for sock in idle:
        sock.close()
    qtbot.waitUntil(lambda: not server._waiting, timeout=60_000)
    assert server.server.isListening()
    thread, said = ask_in_background(write_request(runtime_dir, "after", with_selection=False))
    qtbot.waitUntil(lambda: server.session is not None and window.isVisible(), timeout=60_000)
    server.session.apply_action.trigger()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert said and said[0].endswith(b"done\n")


@pytest.mark.parametrize("points", ["[[5, 5, Infinity]]", "[[" + "9" * 400 + ", 5, 1]]", "[" * 100_000])
def test_a_running_server_answers_a_malformed_request(qtbot, window, runtime_dir, points) -> None:
    """The client hears ``done`` and the response says why (no traceback, no endless heartbeat)."""
    server = HostServer(window, server_address())
    folder = runtime_dir / "bad"
    folder.mkdir()
    head = f'"protocol": 1, "image": "{folder / "layer.png"}", "response": "{folder / "response.json"}"'
    (folder / "request.json").write_text("{" + head + ', "points": ' + points + "}")
    thread, said = ask_in_background(folder / "request.json")
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert said and said[0].endswith(b"done\n") and server.session is None and server.refused == 1


def test_without_unix_sockets_the_request_is_served_in_the_calling_process(qtbot, runtime_dir, monkeypatch,
                                                                              test_model_dir) -> None:
    """Where the client cannot reach a detached server (no AF_UNIX: Windows for now), 'samcut host'
    shows the window itself and answers, as before."""
    import socket as socket_module

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from samcut.cli import host
    from samcut.gui import host_session

    monkeypatch.delattr(socket_module, "AF_UNIX")
    request = write_request(runtime_dir, "here", with_selection=True)

    def apply_when_shown() -> None:
        server = next((s for w in QApplication.topLevelWidgets() for s in w.findChildren(HostServer)
                       if s.session is not None and not s.session.done), None)
        if server is None:
            QTimer.singleShot(50, apply_when_shown)
            return
        server.session.apply_action.trigger()
        server.quit()

    QTimer.singleShot(50, apply_when_shown)
    monkeypatch.setattr(host_session, "LINGER_MS", 50)
    host.serve_interactively(str(request), test_model_dir)
    assert read_response(str(request.with_name("response.json"))).status == "ok"
    from samcut.gui.main_window import MainWindow

    from conftest import close_discarding

    for window in [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]:
        close_discarding(window)  # (the process would end here)


def test_without_unix_sockets_a_request_that_cannot_be_shown_ends_the_process_at_once(qtbot, runtime_dir,
                                                                                     monkeypatch,
                                                                                     test_model_dir) -> None:
    """The host waits for this process there: a layer that cannot be read is an error now, not
    after ten minutes of lingering."""
    import socket as socket_module

    from PySide6.QtWidgets import QApplication

    from samcut.cli import host
    from samcut.gui.main_window import MainWindow

    from conftest import close_discarding

    monkeypatch.delattr(socket_module, "AF_UNIX")
    request = write_request(runtime_dir, "broken", with_selection=False)
    (request.parent / "layer.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(host.ServerStartFailed):
        host.serve_interactively(str(request), test_model_dir)
    response = read_response(str(request.with_name("response.json")))
    assert response.status == "error" and "layer.png" in response.message
    for window in [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]:
        close_discarding(window)
