"""samcut serving GIMP/Krita: a window opened on the host's layer, "Apply" sends the mask back.

``samcut host --serve`` (started detached by the first interactive ``samcut host`` call) listens
on a per-user local socket (``samcut.plugin.protocol.server_address``): each connection sends one
request path and hears ``wait`` lines while the user works, then ``done`` once the response file
is written. It stays alive, idle, for ``LINGER_MS`` after its window is hidden, so that the next
host call reuses the loaded model and the embedding cache; ``quit`` on the socket ends it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QDateTime, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication

from samcut.gui import dialogs
from samcut.gui.main_window import MainWindow
from samcut.models.document.cutout import save_mask
from samcut.models.document.imageio import LoadedImage, load_image
from samcut.models.engine.errors import ModelError
from samcut.plugin.protocol import (
    HEARTBEAT_S,
    MAX_REQUEST_LINE,
    ProtocolError,
    Request,
    Response,
    ensure_private_dir,
    read_request_file,
    server_address,
    write_atomic,
)

LINGER_MS = 10 * 60 * 1000
MAX_WAITING_PEERS = 32      # connections that have not sent their request line yet; more are refused
LINE_WAIT_MS = 10_000       # a connection silent this long before its request line is dropped
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


def _alive(peer: QLocalSocket | None) -> bool:
    """Whether ``peer`` still has its C++ object (a client that vanished is deleted by Qt)."""
    return peer is not None and shiboken6.isValid(peer)


def _release(peer: QLocalSocket | None) -> None:
    """Tell a client its request is over (answered, refused or busy) and hang up; nothing when
    the client is already gone."""
    if not _alive(peer) or peer.state() != QLocalSocket.LocalSocketState.ConnectedState:
        return
    peer.write(b"done\n")
    peer.flush()
    peer.disconnectFromServer()


def _load_request(request: Request) -> tuple[LoadedImage, np.ndarray | None]:
    """The request's layer and (if any) selection, decoded (on the open lane)."""
    image = load_image(request.image)
    selection = None
    if request.selection and os.path.exists(request.selection):
        selection = np.asarray(load_image(request.selection).rgb[..., 0])
    return image, selection


def another_server_listens(address: str) -> bool:
    """Whether a live samcut already answers at ``address`` (its socket must not be taken over)."""
    probe = QLocalSocket()
    probe.connectToServer(address)
    live = probe.waitForConnected(1000)
    probe.abort()
    return live


class HostServer(QObject):
    """Accepts request paths on the local socket and shows them one at a time in ``window``."""

    def __init__(self, window: MainWindow, address: str) -> None:
        super().__init__(window)
        self.window = window
        self.address = address
        self.session: HostSession | None = None
        self._peer: QLocalSocket | None = None   # the client whose request is being served
        # connected, request line not read yet: id -> (the client, when it connected in ms)
        self._waiting: dict[int, tuple[QLocalSocket, int]] = {}
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.refusal = ""  # why the server does not listen, if it does not
        self.another_serves = False  # it does not because a live samcut already does
        self.listening = self._listen()
        self.server.newConnection.connect(self._on_connection)
        self.loading = None  # the Task decoding a request's layer
        self.refused = 0     # requests answered with an error
        self.exit_when_refused = False  # serving one request in the host's own process: a refusal ends it
        self.linger = QTimer(self)
        self.linger.setSingleShot(True)
        self.linger.timeout.connect(QApplication.quit)
        self.heartbeat = QTimer(self)  # the waiting client hears "wait" while the user works
        self.heartbeat.setInterval(int(HEARTBEAT_S * 1000))
        self.heartbeat.timeout.connect(self._beat)
        self.heartbeat.start()

    def _listen(self) -> bool:
        try:  # the socket's folder must be this user's alone, or nobody is served through it
            ensure_private_dir(os.path.dirname(self.address))
            if another_server_listens(self.address):
                self.another_serves = True
                self.refusal = "another samcut already serves host requests"
                return False
            QLocalServer.removeServer(self.address)  # a stale file from a samcut that died
            if self.server.listen(self.address):
                return True
            self.refusal = self.server.errorString()
        except (OSError, ProtocolError) as exc:
            self.refusal = str(exc)
        return False

    def _beat(self) -> None:
        """Every ``HEARTBEAT_S``: the served client hears ``wait``; silent connections are dropped;
        a server that lost its socket (descriptors ran out) listens again."""
        if _alive(self._peer) and self._peer.state() == QLocalSocket.LocalSocketState.ConnectedState:
            self._peer.write(b"wait\n")
            self._peer.flush()
        now = QDateTime.currentMSecsSinceEpoch()
        for key, (peer, since) in list(self._waiting.items()):
            if not _alive(peer) or now - since > LINE_WAIT_MS:
                del self._waiting[key]
                if _alive(peer):
                    peer.abort()
        if self.listening and not self.server.isListening():
            self.server.close()
            self.listening = self._listen()

    def _on_connection(self) -> None:
        """Take every pending client; each is served when its request line has arrived (never
        waiting for it on the GUI thread: a client that connects and stalls freezes nothing).
        Beyond ``MAX_WAITING_PEERS`` silent connections, new ones are closed at once, so that
        descriptors never run out."""
        while self.server.hasPendingConnections():
            peer = self.server.nextPendingConnection()
            if peer is None:
                return
            if len(self._waiting) >= MAX_WAITING_PEERS:
                peer.abort()
                peer.deleteLater()
                continue
            key = id(peer)
            self._waiting[key] = (peer, QDateTime.currentMSecsSinceEpoch())
            peer.readyRead.connect(lambda p=peer: self._on_request_line(p))
            peer.disconnected.connect(lambda k=key, p=peer: self._on_disconnected(k, p))
            self._on_request_line(peer)  # the line may have arrived with the connection

    def _on_disconnected(self, key: int, peer: QLocalSocket) -> None:
        """A client hung up (or was killed): forget it before Qt deletes it."""
        self._waiting.pop(key, None)
        if self._peer is peer:
            self._peer = None
        peer.deleteLater()  # its buffers go with it

    def _on_request_line(self, peer: QLocalSocket) -> None:
        if not _alive(peer) or id(peer) not in self._waiting:  # one request per connection
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
        if self.exit_when_refused:
            QApplication.exit(1)
            return
        self.linger.start(LINGER_MS)

    def _release_peer(self) -> None:
        peer, self._peer = self._peer, None
        _release(peer)

    def _on_finished(self) -> None:
        self._release_peer()
        self.linger.start(LINGER_MS)


def serve(models: Path | None, first_request: str | None = None) -> int:
    """``samcut host --serve``: load the model, listen, answer requests until ``LINGER_MS`` pass
    without one (0 at once when another samcut already listens). ``first_request``: a request
    path to show at once, served by this very process (where the host's client cannot reach a
    detached server: no Unix sockets, i.e. Windows for now); the host then waits for this
    process, as before."""
    from samcut.gui.app import ensure_bridge
    from samcut.models.document.preferences import Preferences

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("samcut")
    app.setQuitOnLastWindowClosed(False)
    preferences = Preferences.load()
    bridge = ensure_bridge(preferences, models)
    window = MainWindow(bridge, preferences)
    server = HostServer(window, server_address())
    if first_request is not None:
        server.exit_when_refused = True  # the host waits for this process: an error must not linger
        if not server.start(first_request):
            return 1
    elif not server.listening:
        print(f"samcut: not serving host requests: {server.refusal}", file=sys.stderr, flush=True)
        return 0 if server.another_serves else 1
    else:
        print(f"samcut: serving host requests at {server.address}", file=sys.stderr, flush=True)
        server.linger.start(LINGER_MS)
    try:
        return app.exec()
    finally:  # (a linger started after the quit must not end a later event loop of this process)
        server.linger.stop()
        server.heartbeat.stop()
