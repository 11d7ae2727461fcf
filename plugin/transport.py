"""The host bridge's transport: loopback TCP, a per-session secret and a mutual handshake, the same
code on Linux, macOS and Windows (the plug-ins never open it: they run ``samcut host REQUEST``,
whose client is the one speaking here; this module is not carried into the hosts).

Rendezvous: the serving samcut (``samcut host --serve``) listens on ``127.0.0.1`` at a port the OS
picks and writes ``ENDPOINT_FILE`` atomically, mode 0600, into the per-user folder
``server_dir()`` (``samcut.models.io.platform.host_folder``, checked by ``ensure_private_folder``
before every use)::

    {"transport": 1, "port": 40123, "secret": "<64 hex digits>", "pid": 4242}

The secret is new for each listening server (``secrets.token_hex(32)``); whoever can read it is
this user, so the folder's privacy is the peer check on every OS (the pid is for messages only).

Handshake, ASCII lines of at most ``MAX_HANDSHAKE_LINE`` bytes, before the request line::

    client: "samcut-host 1 <client nonce, 32 hex>"
    server: "<HMAC-SHA256(secret, b"server" + Nc + Ns), hex> <server nonce, 32 hex>"
    client: "<HMAC-SHA256(secret, b"client" + Nc + Ns), hex>"

Each side checks the other's proof (``hmac.compare_digest``); the roles in the MAC keep one side's
proof from serving as the other's, the two nonces keep an old answer from serving again. A failure
closes the connection: the server reads no request from a peer that did not prove it knows the
secret, and the client sends none to a process that did not (whatever listens on a stale port is
"no samcut running"). Nothing is encrypted: the request line is a file path in a private folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import stat
import time
from dataclasses import dataclass

from samcut.models.io.platform import (
    PRIVATE_FILE_MODE,
    ensure_private_folder,
    host_folder,
    open_binary,
    remove_file,
    replace_file,
)

TRANSPORT_VERSION = 1
HELLO = b"samcut-host"
ENDPOINT_FILE = "host.json"
LOOPBACK = "127.0.0.1"
NONCE_BYTES = 16
SECRET_BYTES = 32
MAX_HANDSHAKE_LINE = 256     # the longest handshake line is 97 bytes
MAX_ENDPOINT_BYTES = 4096    # the endpoint file is under 200 bytes
HANDSHAKE_TIMEOUT_S = 10.0   # a server that has not proved itself by then is not serving (a squatter, or hung)


class HandshakeFailed(ConnectionError):
    """The other end did not prove that it knows this session's secret (or spoke out of turn)."""


@dataclass(frozen=True)
class Endpoint:
    """Where the serving samcut listens (``port`` on ``LOOPBACK``) and its ``secret`` (hex)."""

    port: int
    secret: str
    pid: int = 0


def server_dir() -> str:
    """The per-user folder that holds ``ENDPOINT_FILE`` (and the server's log)."""
    return host_folder()


def new_endpoint(port: int) -> Endpoint:
    """This process's endpoint at ``port`` with a fresh secret."""
    return Endpoint(port=port, secret=secrets.token_hex(SECRET_BYTES), pid=os.getpid())


def write_endpoint(folder: str, endpoint: Endpoint) -> str:
    """Write ``endpoint`` to ``folder``/``ENDPOINT_FILE`` (mode 0600, through a temp file and a
    rename, so a client never reads half of it); the folder is checked private first."""
    ensure_private_folder(folder)
    path = os.path.join(folder, ENDPOINT_FILE)
    text = json.dumps({"transport": TRANSPORT_VERSION, "port": endpoint.port, "secret": endpoint.secret,
                       "pid": endpoint.pid})
    temp = os.path.join(folder, f".{ENDPOINT_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = open_binary(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode())
        replace_file(temp, path)
    except BaseException:
        remove_file(temp)
        raise
    return path


def read_endpoint(folder: str) -> Endpoint | None:
    """The endpoint written in ``folder``, or None when there is none that samcut could have
    written (missing, not a regular file, too big, not JSON, another version, a bad port or secret)."""
    path = os.path.join(folder, ENDPOINT_FILE)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, "rb") as fh:
            data = json.loads(fh.read(MAX_ENDPOINT_BYTES + 1)[:MAX_ENDPOINT_BYTES])
        port, secret, pid = data["port"], data["secret"], data.get("pid", 0)
        if data.get("transport") != TRANSPORT_VERSION or type(port) is not int or not 0 < port < 65536:
            return None
        if not isinstance(secret, str) or _unhex(secret.encode(), SECRET_BYTES) is None:
            return None
        return Endpoint(port=port, secret=secret, pid=pid if type(pid) is int else 0)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def remove_endpoint(folder: str, endpoint: Endpoint) -> None:
    """Remove ``folder``'s endpoint file if it is still ``endpoint``'s (a newer server's stays)."""
    found = read_endpoint(folder)
    if found is not None and hmac.compare_digest(found.secret, endpoint.secret):
        remove_file(os.path.join(folder, ENDPOINT_FILE))


def _unhex(text: bytes, size: int) -> bytes | None:
    """The ``size`` bytes that ``text`` spells in lowercase hex, else None."""
    try:
        raw = bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    return raw if len(raw) == size and raw.hex().encode() == text else None


def proof(secret: str, role: bytes, client_nonce: bytes, server_nonce: bytes) -> bytes:
    """HMAC-SHA256 of ``role + client_nonce + server_nonce`` under ``secret``, in hex."""
    return hmac.new(bytes.fromhex(secret), role + client_nonce + server_nonce, hashlib.sha256).hexdigest().encode()


class ServerHandshake:
    """The server's side of the handshake, fed one line at a time (Qt-free: the window's server
    feeds it from its socket). ``done`` once the client has proved itself."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.server_nonce = secrets.token_bytes(NONCE_BYTES)
        self.client_nonce: bytes | None = None
        self.done = False

    def take(self, line: bytes) -> bytes:
        """The answer to the client's next handshake ``line`` (b"" when none is due);
        ``HandshakeFailed`` when the line is not what a client that knows the secret sends."""
        words = line.strip().split(b" ")
        if self.done:
            raise HandshakeFailed("the handshake is over")
        if self.client_nonce is None:
            nonce = _unhex(words[2], NONCE_BYTES) if len(words) == 3 else None
            if words[:2] != [HELLO, str(TRANSPORT_VERSION).encode()] or nonce is None:
                raise HandshakeFailed("not a samcut host client")
            self.client_nonce = nonce
            said = proof(self.secret, b"server", nonce, self.server_nonce)
            return b"%s %s\n" % (said, self.server_nonce.hex().encode())
        expected = proof(self.secret, b"client", self.client_nonce, self.server_nonce)
        if len(words) != 1 or not hmac.compare_digest(words[0], expected):
            raise HandshakeFailed("the client does not know this session's secret")
        self.done = True
        return b""


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    """One line from ``sock`` (without its newline) by ``deadline`` (``time.monotonic``); the
    server sends nothing more before the client answers, so bytes after the newline are an error."""
    said = b""
    while not said.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server did not answer the handshake in time")
        sock.settimeout(remaining)
        chunk = sock.recv(MAX_HANDSHAKE_LINE + 1 - len(said))
        if not chunk:
            raise HandshakeFailed("the server hung up during the handshake")
        said += chunk
        if b"\n" in said[:-1] or (len(said) > MAX_HANDSHAKE_LINE and not said.endswith(b"\n")):
            raise HandshakeFailed("the server's handshake line is not one of samcut's")
    return said[:-1]


def client_handshake(sock: socket.socket, secret: str, timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
    """Prove to the server at ``sock`` that this client knows ``secret``, and check that it does;
    ``HandshakeFailed`` or another ``OSError`` (a timeout) when it does not."""
    deadline = time.monotonic() + timeout
    nonce = secrets.token_bytes(NONCE_BYTES)
    sock.settimeout(timeout)
    sock.sendall(b"%s %d %s\n" % (HELLO, TRANSPORT_VERSION, nonce.hex().encode()))
    words = _read_line(sock, deadline).split(b" ")
    server_nonce = _unhex(words[1], NONCE_BYTES) if len(words) == 2 else None
    if server_nonce is None or not hmac.compare_digest(words[0], proof(secret, b"server", nonce, server_nonce)):
        raise HandshakeFailed("whatever listens there does not know this session's secret: not samcut")
    sock.sendall(proof(secret, b"client", nonce, server_nonce) + b"\n")


def connect_to_server(folder: str | None = None, timeout: float | None = None) -> socket.socket | None:
    """A connection to this user's serving samcut, both sides proven, or None when none answers:
    the folder is not private, there is no (readable) endpoint file, nothing listens at its port,
    or what listens there fails the handshake within ``timeout`` seconds (``HANDSHAKE_TIMEOUT_S``)."""
    folder = server_dir() if folder is None else folder
    timeout = HANDSHAKE_TIMEOUT_S if timeout is None else timeout
    try:
        ensure_private_folder(folder)
    except OSError:
        return None  # not our folder: whatever it names is not ours to talk to
    endpoint = read_endpoint(folder)
    if endpoint is None:
        return None
    try:
        sock = socket.create_connection((LOOPBACK, endpoint.port), timeout=timeout)
    except OSError:
        return None
    try:
        client_handshake(sock, endpoint.secret, timeout)
    except OSError:
        sock.close()
        return None
    return sock
