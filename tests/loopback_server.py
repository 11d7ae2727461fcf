"""A loopback HTTP server for download tests (Range requests, transfers cut short)."""

from __future__ import annotations

import http.server
import threading
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
