"""The host bridge's transport without Qt: the endpoint file, the handshake, and the client meeting
stale endpoints, squatters and strangers (the window's server side is in tests/gui)."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time

import pytest

from samcut.cli.host import ServerSilent, forward_to_running_samcut, stop_running_samcut
from samcut.models.io import platform
from samcut.plugin import transport
from samcut.plugin.transport import (
    ENDPOINT_FILE,
    Endpoint,
    HandshakeFailed,
    ServerHandshake,
    client_handshake,
    connect_to_server,
    new_endpoint,
    read_endpoint,
    remove_endpoint,
    server_dir,
    write_endpoint,
)

from loopback_server import BridgeServer


@pytest.fixture()
def folder(tmp_path, monkeypatch) -> str:
    """This test's bridge folder (``XDG_RUNTIME_DIR`` points here), created private."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return platform.ensure_private_folder(server_dir())


def _free_port() -> int:
    """A loopback port where nothing listens (taken, then given back)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _serve_handshake(sock: socket.socket, secret: str) -> None:
    """The server's side of the handshake over a plain socket (as the Qt server feeds it)."""
    handshake = ServerHandshake(secret)
    reader = sock.makefile("rb")
    while not handshake.done:
        reply = handshake.take(reader.readline(transport.MAX_HANDSHAKE_LINE + 1))
        if reply:
            sock.sendall(reply)


def test_the_handshake_passes_only_where_both_sides_know_the_secret() -> None:
    secret, other = transport.new_endpoint(1).secret, transport.new_endpoint(1).secret
    for server_secret, client_secret, passes in ((secret, secret, True), (secret, other, False),
                                                 (other, secret, False)):
        server_side, client_side = socket.socketpair()
        outcome: list[BaseException | None] = []

        def serve(sock=server_side, key=server_secret, outcome=outcome) -> None:
            try:
                _serve_handshake(sock, key)
                outcome.append(None)
            except OSError as exc:
                outcome.append(exc)
            finally:
                sock.close()

        thread = threading.Thread(target=serve)
        thread.start()
        with client_side:
            if passes:
                client_handshake(client_side, client_secret, timeout=5)
            else:
                with pytest.raises(OSError):
                    client_handshake(client_side, client_secret, timeout=5)
        thread.join(timeout=10)
        assert (outcome[0] is None) == passes, outcome


def test_the_server_side_refuses_what_no_client_of_ours_sends() -> None:
    secret = new_endpoint(1).secret
    for first in (b"GET / HTTP/1.1\r\n", b"samcut-host 2 " + b"00" * 16 + b"\n", b"samcut-host 1 zz\n",
                  b"samcut-host 1 " + b"AB" * 16 + b"\n", b"/tmp/x/request.json\n", b"\n"):
        with pytest.raises(HandshakeFailed):
            ServerHandshake(secret).take(first)
    handshake = ServerHandshake(secret)
    answer = handshake.take(b"samcut-host 1 " + b"00" * 16 + b"\n")
    assert answer.endswith(handshake.server_nonce.hex().encode() + b"\n")
    forged = transport.proof(secret, b"server", b"\0" * 16, handshake.server_nonce)  # the server's own proof
    with pytest.raises(HandshakeFailed):
        handshake.take(forged + b"\n")  # reflected back: the roles differ
    assert not handshake.done


def test_the_endpoint_file_is_private_and_read_back(folder) -> None:
    endpoint = new_endpoint(40123)
    path = write_endpoint(folder, endpoint)
    assert path == os.path.join(folder, ENDPOINT_FILE)
    assert read_endpoint(folder) == endpoint and endpoint.pid == os.getpid()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert [name for name in os.listdir(folder)] == [ENDPOINT_FILE]  # no temp file left
    remove_endpoint(folder, new_endpoint(40123))  # another server's: this one stays
    assert read_endpoint(folder) == endpoint
    remove_endpoint(folder, endpoint)
    assert read_endpoint(folder) is None and not os.listdir(folder)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"transport": 1, "port": 0, "secret": "%s"}',
                                  '{"transport": 1, "port": 99999, "secret": "%s"}',
                                  '{"transport": 1, "port": "80", "secret": "%s"}',
                                  '{"transport": 2, "port": 80, "secret": "%s"}',
                                  '{"transport": 1, "port": 80, "secret": "abc"}',
                                  '{"transport": 1, "port": 80, "secret": "%s", "pid": "x"}'])
def test_an_endpoint_file_samcut_did_not_write_names_no_server(folder, text) -> None:
    secret = new_endpoint(1).secret
    with open(os.path.join(folder, ENDPOINT_FILE), "w") as fh:
        fh.write(text.replace("%s", secret))
    found = read_endpoint(folder)
    if '"pid": "x"' in text:
        assert found == Endpoint(port=80, secret=secret, pid=0)  # (the pid is for messages only)
    else:
        assert found is None


def test_a_stale_endpoint_of_a_dead_server_means_no_samcut_running(folder) -> None:
    write_endpoint(folder, new_endpoint(_free_port()))
    started = time.monotonic()
    assert connect_to_server() is None
    assert not forward_to_running_samcut(os.path.join(folder, "request.json"))
    assert not stop_running_samcut()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("squatter", ["hangs up", "talks nonsense", "echoes", "says nothing"])
def test_a_squatter_on_the_endpoints_port_is_no_samcut_and_hears_no_request(folder, squatter, monkeypatch) -> None:
    """A program that took the port of a samcut that died cannot answer the handshake: the client
    takes it for "no samcut running" (within the handshake's time limit) and tells it nothing."""
    def behave(peer: socket.socket) -> None:
        if squatter == "hangs up":
            return
        line = server.line(peer)
        if squatter == "talks nonsense":
            peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        elif squatter == "echoes":
            peer.sendall(line)
        server.line(peer)  # whatever comes next, until the client hangs up

    monkeypatch.setattr(transport, "HANDSHAKE_TIMEOUT_S", 1.0)
    with BridgeServer(folder, behave, handshake=False) as server:
        started = time.monotonic()
        assert connect_to_server() is None
        assert not forward_to_running_samcut(os.path.join(folder, "request.json"))
        assert time.monotonic() - started < 5  # within the handshake's limit, twice
        assert all(b"request.json" not in heard for heard in server.heard)
        assert all(heard.startswith(b"samcut-host 1 ") or not heard for heard in server.heard)


def test_a_server_that_knows_another_secret_hears_no_request(folder) -> None:
    """The endpoint file names a port whose server holds another secret (a stale file, a port
    reused by another user's samcut): the client does not talk to it."""
    with BridgeServer(folder, lambda peer: None) as server:
        write_endpoint(folder, Endpoint(port=server.endpoint.port, secret=new_endpoint(1).secret))
        assert connect_to_server(timeout=2.0) is None
    assert all(b"request.json" not in heard for heard in server.heard)


def test_the_client_asks_a_proven_server_and_hears_done(folder) -> None:
    with BridgeServer(folder, lambda peer: (server.line(peer), peer.sendall(b"wait\ndone\n"))) as server:
        assert forward_to_running_samcut(os.path.join(folder, "request.json"))
    assert server.heard[0].endswith(os.path.join(folder, "request.json").encode() + b"\n")


def test_a_folder_open_to_others_is_not_used(folder) -> None:
    with BridgeServer(folder, lambda peer: peer.sendall(b"done\n")):
        os.chmod(folder, 0o755)
        assert connect_to_server(timeout=2.0) is None  # whatever it names is not ours to talk to
        with pytest.raises(PermissionError, match="open to others"):
            write_endpoint(folder, new_endpoint(1))
        os.chmod(folder, 0o700)


@pytest.mark.parametrize("beats,answer", [(0, None), (8, b"done\n")])
def test_the_client_gives_up_on_a_silent_server_but_not_on_a_working_one(folder, beats, answer) -> None:
    """A server that takes the request and says nothing is given up after the silence limit; one
    that keeps saying "wait" (the user is still selecting) is waited for past that limit."""
    stop = threading.Event()

    def behave(peer: socket.socket) -> None:
        server.line(peer)
        for _ in range(beats):
            time.sleep(0.15)
            peer.sendall(b"wait\n")
        if answer is not None:
            peer.sendall(answer)
        else:
            stop.wait(5)

    with BridgeServer(folder, behave) as server:
        started = time.perf_counter()
        try:
            if answer is None:
                with pytest.raises(ServerSilent, match="has not answered for 0.5 s"):
                    forward_to_running_samcut(os.path.join(folder, "request.json"), silence_limit=0.5)
                assert time.perf_counter() - started < 1.5
            else:
                assert forward_to_running_samcut(os.path.join(folder, "request.json"), silence_limit=0.5)
                assert time.perf_counter() - started > 1.0  # longer than the limit, heard all along
        finally:
            stop.set()
