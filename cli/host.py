"""``samcut host REQUEST.json``: answer a host plug-in (GIMP, Krita) through the bridge protocol.

Non-interactive requests (prompts in the request) are answered by the engine at once, like
``samcut segment``. Interactive ones go to a samcut window served by a samcut process of its own
(``samcut host --serve``, detached): the running one, over the bridge's loopback connection
(``samcut.plugin.transport``: both sides prove they know the session's secret; its model and
embedding cache stay warm), or one started for this request. The same on every OS. Either way this process is only the
host's client: it returns as soon as the answer is written (Apply or Cancel), never waiting for
the window's process to end.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from samcut.cli.segment import segment_image
from samcut.models.document.cutout import save_mask
from samcut.models.document.imageio import load_image
from samcut.models.io.platform import ensure_private_folder, samcut_argv, spawn_detached
from samcut.models.store.choice import answering_model
from samcut.plugin.protocol import (
    PROTOCOL_VERSION,
    SILENCE_LIMIT_S,
    ProtocolError,
    Request,
    Response,
    in_request_folder,
    read_request_file,
    read_request_text,
    write_atomic,
)
from samcut.plugin.transport import connect_to_server, server_dir


def respond(request: Request, response: Response) -> None:
    write_atomic(request.response, response.to_json())


def answer_headless(request: Request, models: Path | None = None) -> Response:
    """Segment with the request's prompts; writes ``mask.png`` beside the response."""
    if not request.points and request.box is None:
        raise ProtocolError("a non-interactive request needs points or a box")
    box = tuple(request.box) if request.box else None
    models = answering_model(models, request.model) if request.model else models
    mask = segment_image(load_image(request.image), request.points, box, models)
    mask_path = str(Path(request.response).with_name("mask.png"))
    save_mask(mask_path, mask)
    return Response(status="ok", mask=mask_path, mode=request.mode, output=request.output)


class ServerSilent(RuntimeError):
    """The running samcut took the request and then stopped answering (no heartbeat)."""


def forward_to_running_samcut(request_path: str, silence_limit: float = SILENCE_LIMIT_S) -> bool:
    """Hand the request to a running samcut; True once it has answered, False if none is running.

    While the user works, the server sends a ``wait`` line every ``HEARTBEAT_S``; a server that is
    silent for ``silence_limit`` seconds (hung, or stopped) raises ``ServerSilent``, so the host
    never waits forever. A connection closed without ``done`` is not an answer (False).
    """
    sock = _connect()
    if sock is None:
        return False
    return _ask(sock, os.path.abspath(request_path).encode(), silence_limit)


def _connect() -> socket.socket | None:
    """A connection to this user's running samcut (it proved it knows the session's secret), or
    None when none answers (no endpoint file, nothing at its port, or a stranger there)."""
    return connect_to_server(server_dir())


def _ask(sock: socket.socket, line: bytes, silence_limit: float = SILENCE_LIMIT_S) -> bool:
    """Send one line and wait for ``done`` (True) or the end of the connection (False)."""
    with sock:
        sock.settimeout(silence_limit)
        sock.sendall(line + b"\n")
        pending = b""
        while True:
            try:
                chunk = sock.recv(256)
            except TimeoutError:
                raise ServerSilent(f"the running samcut has not answered for {silence_limit:g} s; "
                                   "close it and try again") from None
            if not chunk:
                return False
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if any(said.strip() == b"done" for said in lines):
                return True
            if len(pending) > 256:  # no line of ours is this long
                return False


SERVER_LOG = "server.log"        # in ``server_dir()``: what the detached server prints
SERVER_START_LIMIT_S = 15 * 60   # a first start may show the model install dialog; the user takes time


class ServerStartFailed(RuntimeError):
    """The samcut window's process ended (or hung) before it listened."""


def server_command(models: Path | None) -> list[str]:
    """How the detached server is started: ``samcut host --serve [--models DIR]``."""
    return samcut_argv("host", "--serve", *(["--models", str(models)] if models is not None else []))


def serve_interactively(request_path: str, models: Path | None = None,
                        start_limit: float = SERVER_START_LIMIT_S) -> None:
    """Have the request answered in a samcut window: by the running samcut, else by one started
    now, detached (``spawn_detached``: it keeps serving later requests, warm, while this process
    returns as soon as the answer is written). ``ServerStartFailed`` when the new one ends or
    does not listen within ``start_limit`` seconds."""
    if forward_to_running_samcut(request_path):
        return
    log = Path(server_dir()) / SERVER_LOG
    ensure_private_folder(server_dir())
    process = spawn_detached(server_command(models), log, env=dict(os.environ))
    deadline = time.monotonic() + start_limit
    line = os.path.abspath(request_path).encode()
    while True:
        sock = _connect()
        if sock is not None:
            if _ask(sock, line):
                return
            raise ServerStartFailed(f"samcut's window ended without an answer{_last_line(log)}")
        ended = process.poll() is not None
        if ended and _connect() is None:  # (another samcut may have won the race to listen: ask it)
            raise ServerStartFailed(f"samcut's window could not start{_last_line(log)}")
        if time.monotonic() > deadline:
            process.terminate()
            raise ServerStartFailed(f"samcut's window did not start within {start_limit:g} s{_last_line(log)}")
        time.sleep(0.05)


def stop_running_samcut() -> bool:
    """Ask this user's running host server to end (its open host call is cancelled); True if one did."""
    sock = _connect()
    return sock is not None and _ask(sock, b"quit")


def _last_line(log: Path) -> str:
    """``": <the log's last line>"``, or nothing."""
    try:
        lines = [t for t in log.read_text(errors="replace")[-4000:].splitlines() if t.strip()]
    except OSError:
        return ""
    return f": {lines[-1].strip()}" if lines else ""


def run(request_path: str, models: Path | None = None) -> int:
    """Answer one request; the status goes into the response file (exit 0 ok/cancel, 1 error;
    2 when the request file itself is missing, unreadable or malformed, like other usage errors)."""
    try:
        request = read_request_file(request_path)
    except ProtocolError as exc:
        _respond_somehow(request_path, str(exc))
        print(f"samcut: {exc}", file=sys.stderr)
        return 2
    try:
        if not request.interactive:
            response = answer_headless(request, models)
        else:
            serve_interactively(request_path, models)
            return 0
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the host as a message
        response = Response(status="error", message=str(exc) or exc.__class__.__name__)
    respond(request, response)
    if response.status == "error":
        print(f"samcut: {response.message}", file=sys.stderr)
        return 1
    return 0


def _respond_somehow(request_path: str, message: str) -> None:
    """Best effort: answer an unreadable request where its response was supposed to go (found by
    reading just the ``"response"`` string when the whole file is not JSON samcut can take, e.g.
    nested too deeply)."""
    import json
    import re

    try:
        text = read_request_text(request_path)
        try:
            target = json.loads(text).get("response")
        except RecursionError:
            found = re.search(r'"response"\s*:\s*(?=")', text)
            target = json.JSONDecoder().raw_decode(text, found.end())[0] if found else None
        if isinstance(target, str) and target and in_request_folder(request_path, target):
            write_atomic(target, Response(status="error", message=message).to_json())
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        pass  # ProtocolError is a ValueError: the file itself cannot be read


def serve(models: Path | None = None) -> int:
    """``samcut host --serve``: the window process that answers interactive requests."""
    from samcut.gui.host_session import serve as serve_hosts

    return serve_hosts(models)


__all__ = ["PROTOCOL_VERSION", "run", "serve", "server_dir", "stop_running_samcut"]
