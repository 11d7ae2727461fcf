"""samcut serving GIMP/Krita: a window opened on the host's layer, "Apply" sends the mask back.

``samcut host --serve`` (started detached by the first interactive ``samcut host`` call) listens
on loopback TCP and writes its endpoint (port and a fresh secret) into the per-user folder
(``samcut.plugin.transport``). Each connection first proves that it knows the secret (the mutual
handshake; a peer that does not, or says nothing for ``LINE_WAIT_MS``, is hung up on), then sends
one request path and hears ``wait`` lines while the user works, then ``done`` once the response
file is written. It stays alive, idle, for ``LINGER_MS`` after its window is hidden, so that the
next host call reuses the loaded model and the embedding cache; ``quit`` on the socket ends it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtNetwork import QAbstractSocket, QHostAddress, QTcpServer, QTcpSocket
from PySide6.QtWidgets import QApplication

from samcut.gui import dialogs
from samcut.gui.main_window import MainWindow
from samcut.models.document.cutout import save_mask
from samcut.models.document.imageio import LoadedImage, load_image
from samcut.models.engine.errors import ModelError
from samcut.models.io.platform import ensure_private_folder
from samcut.plugin.protocol import (
    HEARTBEAT_S,
    MAX_REQUEST_LINE,
    Request,
    Response,
    read_request_file,
    write_atomic,
)
from samcut.plugin.transport import (
    MAX_HANDSHAKE_LINE,
    Endpoint,
    HandshakeFailed,
    ServerHandshake,
    connect_to_server,
    new_endpoint,
    remove_endpoint,
    server_dir,
    write_endpoint,
)

LINGER_MS = 10 * 60 * 1000
MAX_WAITING_PEERS = 32      # connections that have not sent their request line yet; more are refused
LINE_WAIT_MS = 10_000       # a connection that has not proved itself and sent its request line by then is dropped
HOST_NAMES = {"gimp": "GIMP", "krita": "Krita"}  # as each host spells itself
QUIT_LINE = "quit"          # a request line that ends the server (``samcut host --stop``)


class HostSession(QObject):
    """One host request shown in ``window``; ``finished`` after Apply or Cancel (response written)."""

    finished = Signal()

    def __init__(self, window: MainWindow, request: Request, image: LoadedImage,
                 selection: np.ndarray | None) -> None:
        super().__init__(window)
        self.window = window
        self.request = request
        self.done = False
        self._awaiting: str | None = None  # Apply asked for while the last click's mask was on its way
        window.set_image(image, Path(request.image))
        host = HOST_NAMES.get(request.host, request.host.capitalize())
        window.setWindowTitle(f"samcut — selecting for {host}")
        if selection is not None and selection.shape == window.editor.selection.shape:
            window.editor.load_selection(selection)  # what the host gave is not unsaved work
        self.apply_action = QAction(f"Apply to {host}", window)
        self.apply_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.apply_action.setStatusTip(f"Send the selection back to {host} (Ctrl+Enter)")
        self.apply_action.triggered.connect(lambda: self.apply("selection"))
        self.layer_action = QAction("Apply as New Layer", window)
        self.layer_action.setStatusTip(f"Send the cut-out back to {host} as a new layer above this one")
        self.layer_action.triggered.connect(lambda: self.apply("layer"))
        self.mask_action = QAction("Apply as Layer Mask", window)
        self.mask_action.setStatusTip(f"Send the selection back to {host} as this layer's "
                                      + ("transparency mask" if request.host == "krita" else "layer mask"))
        self.mask_action.triggered.connect(lambda: self.apply("mask"))
        self.cancel_action = QAction("Cancel", window)
        self.cancel_action.setStatusTip(f"Close without changing anything in {host}")
        self.cancel_action.triggered.connect(self.cancel)
        window.bars.host_toolbar.clear()
        for action in (self.apply_action, self.layer_action, self.mask_action, self.cancel_action):
            window.bars.host_toolbar.addAction(action)
        window.bars.host_toolbar.setVisible(True)
        window.addAction(self.apply_action)
        window.close_hook = self.cancel

    def _finish(self, response: Response) -> None:
        if self.done:
            return
        self.done = True
        write_atomic(self.request.response, response.to_json())
        if self.window.editor is not None:
            self.window.editor.mark_saved()  # applied or cancelled, the host decided
        self.window.close_hook = None
        self.window.removeAction(self.apply_action)
        self.window.bars.host_toolbar.setVisible(False)
        self.window.hide()
        self.finished.emit()

    def apply(self, output: str = "selection") -> None:
        """Send samcut's selection back (a pending proposal is applied first, in the current mode)
        as the host's selection, a new layer holding the cut-out, or the layer's mask (``output``).
        Asked while the mask of the last click is still being decoded, it applies once that mask
        is there (a click and at once Ctrl+Enter sends what was clicked)."""
        doc, bridge = self.window.editor, self.window.bridge
        if doc is not None and doc.awaiting_answer and bridge is not None and self._awaiting is None:
            self._awaiting = output
            self.window.status.say("Applying as soon as the mask is ready…", 5000)
            bridge.proposalReady.connect(self._answer_arrived)
            for signal in (bridge.decodeFailed, bridge.encodeFailed):
                signal.connect(self._apply_awaited)
            return
        self._send(output)

    def _send(self, output: str) -> None:
        doc = self.window.editor
        if doc is not None and doc.proposal is not None:
            self.window.apply_proposal()
        mask_path = str(Path(self.request.response).with_name("mask.png"))
        save_mask(mask_path, doc.selection)
        # The host's selection was loaded into samcut and the user's modes were applied here,
        # so the host replaces its selection with the result.
        self._finish(Response(status="ok", mask=mask_path, mode="replace", output=output))

    def _answer_arrived(self, *_args: object) -> None:
        """A proposal landed: apply if it is the one asked for."""
        doc = self.window.editor
        if doc is None or not doc.awaiting_answer:
            self._apply_awaited()

    def _apply_awaited(self, *_args: object) -> None:
        """Apply what was asked for (the mask is there, or a failure means it never will be)."""
        bridge = self.window.bridge
        bridge.proposalReady.disconnect(self._answer_arrived)
        for signal in (bridge.decodeFailed, bridge.encodeFailed):
            signal.disconnect(self._apply_awaited)
        output, self._awaiting = self._awaiting, None
        if not self.done:
            self._send(output)

    def cancel(self) -> None:
        self._finish(Response(status="cancel", message="cancelled in samcut"))


def _alive(peer: QTcpSocket | None) -> bool:
    """Whether ``peer`` still has its C++ object (a client that vanished is deleted by Qt)."""
    return peer is not None and shiboken6.isValid(peer)


def _connected(peer: QTcpSocket | None) -> bool:
    return _alive(peer) and peer.state() == QAbstractSocket.SocketState.ConnectedState


def _release(peer: QTcpSocket | None) -> None:
    """Tell a client its request is over (answered, refused or busy) and hang up; nothing when
    the client is already gone."""
    if not _connected(peer):
        return
    peer.write(b"done\n")
    peer.flush()
    peer.disconnectFromHost()


def _hang_up(peer: QTcpSocket) -> None:
    """Close a connection that is not (or not yet) a client of ours, saying nothing."""
    if _alive(peer):
        peer.abort()
        peer.deleteLater()


def _load_request(request: Request) -> tuple[LoadedImage, np.ndarray | None]:
    """The request's layer and (if any) selection, decoded (on the open lane)."""
    image = load_image(request.image)
    selection = None
    if request.selection and os.path.exists(request.selection):
        selection = np.asarray(load_image(request.selection).rgb[..., 0])
    return image, selection


def another_server_listens(folder: str) -> bool:
    """Whether a live samcut already answers at the endpoint in ``folder``, proving it knows its
    secret (its endpoint must not be taken over; a server that does not prove itself within
    ``HANDSHAKE_TIMEOUT_S`` is taken for hung or gone)."""
    probe = connect_to_server(folder)
    if probe is None:
        return False
    probe.close()
    return True


class HostServer(QObject):
    """Accepts request paths from proven clients on loopback TCP (its endpoint in ``folder``,
    by default ``server_dir()``) and shows them one at a time in ``window``."""

    def __init__(self, window: MainWindow, folder: str | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.folder = server_dir() if folder is None else folder
        self.endpoint: Endpoint | None = None  # where it listens, once it does
        self.session: HostSession | None = None
        self._peer: QTcpSocket | None = None   # the client whose request is being served
        # connected, request line not read yet: id -> (the client, its handshake)
        self._waiting: dict[int, tuple[QTcpSocket, ServerHandshake]] = {}
        self.line_wait_ms = LINE_WAIT_MS
        self.server = QTcpServer(self)
        self.refusal = ""  # why the server does not listen, if it does not
        self.another_serves = False  # it does not because a live samcut already does
        self.listening = self._listen()
        self.server.newConnection.connect(self._on_connection)
        self.loading = None  # the Task decoding a request's layer
        self.refused = 0     # requests answered with an error
        self.linger = QTimer(self)
        self.linger.setSingleShot(True)
        self.linger.timeout.connect(QApplication.quit)
        self.heartbeat = QTimer(self)  # the waiting client hears "wait" while the user works
        self.heartbeat.setInterval(int(HEARTBEAT_S * 1000))
        self.heartbeat.timeout.connect(self._beat)
        self.heartbeat.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` where it listens (for messages)."""
        return f"{self.server.serverAddress().toString()}:{self.server.serverPort()}"

    def _listen(self) -> bool:
        """Listen on a free loopback port and publish it with a fresh secret; False (and why in
        ``refusal``) when the folder is not this user's alone or another samcut serves already."""
        try:  # the endpoint's folder must be this user's alone, or nobody is served through it
            ensure_private_folder(self.folder)
            if another_server_listens(self.folder):
                self.another_serves = True
                self.refusal = "another samcut already serves host requests"
                return False
            if not self.server.listen(QHostAddress(QHostAddress.SpecialAddress.LocalHost), 0):
                self.refusal = self.server.errorString()
                return False
            self.endpoint = new_endpoint(self.server.serverPort())
            write_endpoint(self.folder, self.endpoint)  # (replaces the file of a samcut that died)
            return True
        except OSError as exc:
            self.server.close()
            self.refusal = str(exc)
        return False

    def close(self) -> None:
        """Stop listening and remove the endpoint file if it is still this server's."""
        self.server.close()
        if self.endpoint is not None:
            remove_endpoint(self.folder, self.endpoint)
            self.endpoint = None

    def _beat(self) -> None:
        """Every ``HEARTBEAT_S``: the served client hears ``wait``; a server that lost its
        listening socket listens again."""
        if _connected(self._peer):
            self._peer.write(b"wait\n")
            self._peer.flush()
        if self.listening and not self.server.isListening():
            self.server.close()
            self.listening = self._listen()

    def _on_connection(self) -> None:
        """Take every pending client; each is served once it has proved itself and its request
        line has arrived (never waiting for either on the GUI thread: a client that connects and
        stalls freezes nothing, and is hung up on after ``line_wait_ms``). Beyond
        ``MAX_WAITING_PEERS`` such connections, new ones are closed at once, so that descriptors
        never run out."""
        while self.server.hasPendingConnections():
            peer = self.server.nextPendingConnection()
            if peer is None:
                return
            if len(self._waiting) >= MAX_WAITING_PEERS or self.endpoint is None:
                _hang_up(peer)
                continue
            key = id(peer)
            self._waiting[key] = (peer, ServerHandshake(self.endpoint.secret))
            deadline = QTimer(peer)  # (goes with the connection)
            deadline.setSingleShot(True)
            deadline.timeout.connect(lambda k=key, p=peer: self._drop(k, p))
            deadline.start(self.line_wait_ms)
            peer.readyRead.connect(lambda p=peer: self._on_readable(p))
            peer.disconnected.connect(lambda k=key, p=peer: self._on_disconnected(k, p))
            self._on_readable(peer)  # the first line may have arrived with the connection

    def _drop(self, key: int, peer: QTcpSocket) -> None:
        """Hang up on a connection that has not become a served client (silent too long, or it
        failed the handshake)."""
        if self._waiting.get(key, (None,))[0] is peer:
            del self._waiting[key]
            _hang_up(peer)

    def _on_readable(self, peer: QTcpSocket) -> None:
        """Feed the handshake; once the client has proved itself, its request line is read."""
        entry = self._waiting.get(id(peer))
        if not _alive(peer) or entry is None or entry[0] is not peer:
            return
        handshake = entry[1]
        while not handshake.done:
            if not peer.canReadLine():
                if peer.bytesAvailable() > MAX_HANDSHAKE_LINE:  # no handshake line is this long
                    self._drop(id(peer), peer)
                return
            try:
                reply = handshake.take(bytes(peer.readLine(MAX_HANDSHAKE_LINE + 1)))
            except HandshakeFailed:
                self._drop(id(peer), peer)
                return
            if reply:
                peer.write(reply)
                peer.flush()
        self._on_request_line(peer)

    def _on_disconnected(self, key: int, peer: QTcpSocket) -> None:
        """A client hung up (or was killed): forget it before Qt deletes it."""
        self._waiting.pop(key, None)
        if self._peer is peer:
            self._peer = None
        peer.deleteLater()  # its buffers go with it

    def _on_request_line(self, peer: QTcpSocket) -> None:
        """Serve a proven client's request line (one per connection), when it has arrived."""
        if not _alive(peer) or id(peer) not in self._waiting:
            return
        if not peer.canReadLine():
            if peer.bytesAvailable() > MAX_REQUEST_LINE:  # no path is this long: not a client of ours
                del self._waiting[id(peer)]
                _release(peer)
            return
        del self._waiting[id(peer)]
        # A line that is not UTF-8 names no file: start() fails on it and releases the client.
        request_path = bytes(peer.readLine(MAX_REQUEST_LINE + 1)).decode(errors="replace").strip()
        if request_path == QUIT_LINE:
            _release(peer)
            self.quit()
            return
        if self.loading is not None or (self.session is not None and not self.session.done):
            self._reply_busy(request_path)
            _release(peer)
            return
        self._peer = peer
        self.start(request_path)

    def quit(self) -> None:
        """End serving: an open host call is cancelled (its host hears so), then the app quits."""
        if self.session is not None and not self.session.done:
            self.session.cancel()
        self.linger.stop()
        QTimer.singleShot(0, QApplication.quit)

    def _reply_busy(self, request_path: str) -> None:
        try:
            request = read_request_file(request_path)
            write_atomic(request.response, Response(status="error", message="samcut is busy with another "
                                                    "image; finish it there first").to_json())
        except (OSError, ValueError):
            pass

    def start(self, request_path: str, request: Request | None = None) -> bool:
        """Take a request: its layer (and selection) are decoded on the open lane, then shown.
        False when the request file itself cannot be read (the host is told where it can be)."""
        self.linger.stop()
        try:
            request = request or read_request_file(request_path)  # (a regular file, quickly read)
        except Exception as exc:  # noqa: BLE001 - whatever the file holds, the client gets its answer
            self._refuse(None, exc)
            return False
        self.loading = self.window.runner.run("open", lambda _cancel: _load_request(request),
                                              lambda loaded: self._show(request, *loaded),
                                              lambda exc: self._refuse(request, exc), label="host request")
        return True

    def _show(self, request: Request, image: LoadedImage, selection: np.ndarray | None) -> None:
        self.loading = None
        try:  # the request may name the model that answers it
            dialogs.load_named_model(self.window, request.model)
        except ModelError as exc:
            self._refuse(request, exc)
            return
        self.session = HostSession(self.window, request, image, selection)
        self.session.finished.connect(self._on_finished)
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _refuse(self, request: Request | None, error: BaseException) -> None:
        """The request cannot be served: the host hears why (when we know where to write)."""
        self.loading = None
        if request is not None:
            try:
                write_atomic(request.response, Response(status="error", message=str(error) or
                                                        error.__class__.__name__).to_json())
            except OSError:
                pass  # the host's folder is gone: it stopped waiting
        self._release_peer()
        self.refused += 1
        self.linger.start(LINGER_MS)

    def _release_peer(self) -> None:
        peer, self._peer = self._peer, None
        _release(peer)

    def _on_finished(self) -> None:
        self._release_peer()
        self.linger.start(LINGER_MS)


def serve(models: Path | None) -> int:
    """``samcut host --serve``: load the model, listen, answer requests until ``LINGER_MS`` pass
    without one (0 at once when another samcut already listens)."""
    from samcut.gui.app import ensure_bridge
    from samcut.models.document.preferences import Preferences

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("samcut")
    app.setQuitOnLastWindowClosed(False)
    preferences = Preferences.load()
    bridge = ensure_bridge(preferences, models)
    window = MainWindow(bridge, preferences)
    server = HostServer(window)
    if not server.listening:
        print(f"samcut: not serving host requests: {server.refusal}", file=sys.stderr, flush=True)
        return 0 if server.another_serves else 1
    print(f"samcut: serving host requests at {server.address}", file=sys.stderr, flush=True)
    server.linger.start(LINGER_MS)
    try:
        return app.exec()
    finally:  # (a linger started after the quit must not end a later event loop of this process)
        server.linger.stop()
        server.heartbeat.stop()
        server.close()
