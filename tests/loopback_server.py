"""Loopback servers for tests: HTTP for downloads (Range requests, transfers cut short), and a
stand-in for samcut's host server (the bridge's endpoint and handshake, then scripted behaviour)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from samcut.models.io.hashing import git_blob_sha1


class Server:
    """A loopback HTTP server serving ``PAYLOAD`` with Range support; can cut a transfer short."""

    def __init__(self, payload: bytes, send_length: bool = True) -> None:
        self.payload = payload
        self.send_length = send_length  # False: no Content-Length (a stream of unknown size)
        self.cut_after: int | None = None
        self.requests: list[str | None] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                owner.requests.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(owner.payload):
                    self.send_response(416)
                    self.end_headers()
                    return
                body = owner.payload[start:]
                self.send_response(206 if rng else 200)
                if owner.send_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if owner.cut_after is not None:
                    self.wfile.write(body[: owner.cut_after])
                    owner.cut_after = None
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (a size cap, a cancel): nothing to report

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mobile_sam.pt"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def blob_sha1(data: bytes, tmp: Path) -> str:
    path = tmp / "blob"
    path.write_bytes(data)
    return git_blob_sha1(path)


def read_until(sock: socket.socket, ending: bytes, chunk: int = 64) -> bytes:
    """What ``sock`` says up to and including ``ending`` (or until it hangs up), read ``chunk``
    bytes at a time (1: nothing after ``ending`` is taken)."""
    said = b""
    while not said.endswith(ending):
        part = sock.recv(chunk)
        if not part:
            break
        said += part
    return said


class BridgeServer:
    """A stand-in for samcut's host server in a thread: it listens on a free loopback port and
    publishes it in ``folder``'s endpoint file (with ``secret``, or a fresh one). Each connection
    first gets the real server handshake (unless ``handshake`` is False: a squatter), then
    ``behave(peer)``; ``heard`` keeps every byte the server read, per connection."""

    def __init__(self, folder: str, behave: Callable[[socket.socket], None], handshake: bool = True,
                 secret: str | None = None) -> None:
        from samcut.plugin.transport import Endpoint, new_endpoint, write_endpoint

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        port = self.listener.getsockname()[1]
        self.endpoint = new_endpoint(port) if secret is None else Endpoint(port=port, secret=secret)
        write_endpoint(folder, self.endpoint)
        self.behave, self.handshake = behave, handshake
        self.heard: list[bytes] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from samcut.plugin.transport import ServerHandshake

        while not self._stop.is_set():
            try:
                peer, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with peer:
                peer.settimeout(10)
                self.heard.append(b"")
                try:
                    if self.handshake:
                        handshake = ServerHandshake(self.endpoint.secret)
                        while not handshake.done:
                            reply = handshake.take(self.line(peer))
                            if reply:
                                peer.sendall(reply)
                    self.behave(peer)
                except OSError:
                    pass

    def line(self, peer: socket.socket) -> bytes:
        """One line from ``peer`` (byte by byte: nothing after it is taken), kept in ``heard``."""
        said = read_until(peer, b"\n", 1)
        self.heard[-1] += said
        return said

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)
        self.listener.close()

    def __enter__(self) -> BridgeServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
