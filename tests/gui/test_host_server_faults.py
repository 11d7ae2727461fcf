"""A running host server meets clients that die, flood it, or send what no host would."""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest
from test_host_session import ask_in_background, client_socket, raw_socket, write_request

from samcut.gui.host_session import MAX_WAITING_PEERS, HostServer
from samcut.plugin import transport
from samcut.plugin.protocol import read_response
from samcut.plugin.transport import ENDPOINT_FILE, new_endpoint, read_endpoint, server_dir, write_endpoint

from loopback_server import BridgeServer, read_until


def test_a_client_that_vanishes_while_served_is_forgotten_cleanly(qtbot, window, runtime_dir, capfd) -> None:
    """The client is killed while the user works: Cancel then touches no deleted socket, the
    heartbeat goes on quietly and the linger timer starts."""
    server = HostServer(window)
    server.heartbeat.setInterval(50)
    request = write_request(runtime_dir, "gone", with_selection=False)
    clients = []

    def send() -> None:
        sock = client_socket()
        sock.sendall(str(request).encode() + b"\n")
        clients.append(sock)

    threading.Thread(target=send).start()
    qtbot.waitUntil(lambda: bool(clients) and server.session is not None and window.isVisible(), timeout=60_000)
    clients[0].close()  # as a kill -9 of the host's samcut would
    qtbot.waitUntil(lambda: server._peer is None, timeout=60_000)
    qtbot.wait(200)  # heartbeats fire meanwhile
    server.session.cancel_action.trigger()
    assert read_response(str(request.with_name("response.json"))).status == "cancel"
    assert server.linger.isActive()
    assert "Traceback" not in capfd.readouterr().err


def test_a_flood_of_idle_connections_is_refused_and_the_server_keeps_serving(qtbot, window, runtime_dir) -> None:
    server = HostServer(window)
    idle = []

    def flood() -> None:  # off the GUI thread: a full backlog blocks connect() until Qt accepts
        for _ in range(4 * MAX_WAITING_PEERS):
            try:
                idle.append(raw_socket())
            except OSError:
                continue

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
    server = HostServer(window)
    folder = runtime_dir / "bad"
    folder.mkdir()
    head = f'"protocol": 1, "image": "{folder / "layer.png"}", "response": "{folder / "response.json"}"'
    (folder / "request.json").write_text("{" + head + ', "points": ' + points + "}")
    thread, said = ask_in_background(folder / "request.json")
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert said and said[0].endswith(b"done\n") and server.session is None and server.refused == 1


def _until_hung_up(sock: socket.socket) -> bytes:
    """Everything ``sock`` hears until the other end closes it."""
    sock.settimeout(30)
    said = b""
    try:
        while chunk := sock.recv(256):
            said += chunk
    except ConnectionResetError:
        pass  # (closed with our bytes unread: a reset)
    return said


@pytest.mark.parametrize("stranger", ["no handshake", "wrong secret", "nonsense"])
def test_a_client_without_the_secret_is_refused_and_the_server_keeps_serving(qtbot, window, runtime_dir,
                                                                             stranger) -> None:
    """A local process that cannot read the secret (another user's) connects and sends a request
    path: it is hung up on without a word, nothing is shown, no response is written."""
    server = HostServer(window)
    request = write_request(runtime_dir, "stolen", with_selection=False)
    heard = []

    def stranger_client() -> None:
        with raw_socket() as sock:
            if stranger == "wrong secret":  # speaks the handshake, with a guessed secret
                nonce = os.urandom(16)
                sock.sendall(b"samcut-host 1 " + nonce.hex().encode() + b"\n")
                line = read_until(sock, b"\n", 1)
                server_nonce = bytes.fromhex(line.split()[1].decode())
                sock.sendall(transport.proof(new_endpoint(1).secret, b"client", nonce, server_nonce) + b"\n")
            elif stranger == "nonsense":
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            sock.sendall(str(request).encode() + b"\n")
            heard.append(_until_hung_up(sock))

    thread = threading.Thread(target=stranger_client)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert heard == [b""]
    qtbot.waitUntil(lambda: not server._waiting, timeout=10_000)
    assert server.session is None and server.loading is None and server.refused == 0
    assert not request.with_name("response.json").exists()
    thread, said = ask_in_background(write_request(runtime_dir, "after", with_selection=False))
    qtbot.waitUntil(lambda: server.session is not None and window.isVisible(), timeout=60_000)
    server.session.cancel()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert said and said[0].endswith(b"done\n")


def test_a_silent_connection_is_dropped_by_the_servers_deadline(qtbot, window, runtime_dir) -> None:
    """A peer that connects and says nothing, or proves itself and then sends no request, is hung
    up on after ``line_wait_ms``; the event loop never waits for it."""
    server = HostServer(window)
    server.line_wait_ms = 200
    ended = []

    def silent(proven: bool) -> None:
        with (client_socket() if proven else raw_socket()) as sock:
            ended.append(_until_hung_up(sock))

    for proven in (False, True):
        thread = threading.Thread(target=silent, args=(proven,))
        thread.start()
        qtbot.waitUntil(lambda t=thread: not t.is_alive(), timeout=30_000)
    assert ended == [b"", b""]
    qtbot.waitUntil(lambda: not server._waiting, timeout=10_000)
    assert server.session is None and server.server.isListening()


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.mark.parametrize("before", ["nothing", "a stale endpoint", "a squatter"])
def test_the_endpoint_is_private_and_published_over_a_dead_servers(qtbot, window, runtime_dir, before) -> None:
    """The server publishes its port and a fresh secret in a 0600 file in the 0700 folder, over
    what a samcut that died left (its file, or a program now on its port), and removes it on
    close."""
    folder = server_dir()
    squatter = None
    if before == "a stale endpoint":
        write_endpoint(folder, new_endpoint(_free_port()))
    elif before == "a squatter":
        squatter = BridgeServer(folder, lambda peer: None, handshake=False)
    try:
        server = HostServer(window)
    finally:
        if squatter is not None:
            squatter.close()
    assert server.listening and not server.another_serves, server.refusal
    endpoint = read_endpoint(folder)
    assert endpoint == server.endpoint and endpoint.port == server.server.serverPort()
    path = os.path.join(folder, ENDPOINT_FILE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert server.address == f"127.0.0.1:{endpoint.port}"
    server.close()
    assert not os.path.exists(path) and not server.server.isListening()


def test_a_second_server_leaves_a_live_ones_endpoint_alone(qtbot, window, runtime_dir) -> None:
    """Another samcut that proves itself at the published endpoint already serves: this one does
    not listen, and the endpoint stays the other's."""
    with BridgeServer(server_dir(), lambda peer: None) as other:
        server = HostServer(window)
        assert not server.listening and server.another_serves
        assert read_endpoint(server_dir()) == other.endpoint
        server.close()
        assert read_endpoint(server_dir()) == other.endpoint
