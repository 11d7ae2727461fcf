"""The host bridge protocol (stdlib only: GIMP's and Krita's plug-ins carry this file).

A host plug-in writes a **request** JSON file and runs ``samcut host REQUEST.json``; samcut
answers by writing the **response** JSON file named in the request (atomically), then exits.
All files live in a private temporary folder that the host creates and removes.

Request (version 1)::

    {"protocol": 1, "image": "/tmp/x/layer.png", "selection": "/tmp/x/selection.png" | null,
     "response": "/tmp/x/response.json", "host": "krita" | "gimp" | ...,
     "interactive": true, "mode": "replace", "output": "selection",
     "points": [[x, y, label], ...], "box": [x0, y0, x1, y1] | null}

``points``/``box`` (image pixels of the layer) make a non-interactive call: no window, the
engine answers at once. Response::

    {"protocol": 1, "status": "ok" | "cancel" | "error", "mask": "/tmp/x/mask.png" | null,
     "mode": "replace" | "add" | "subtract" | "intersect", "message": "...",
     "output": "selection" | "layer" | "mask"}

The mask is an 8-bit grey PNG of the layer's size (255 = selected; soft values allowed).
``output`` says what the host makes of it, each one undo step there: the selection (combined by
``mode``), a new layer above the source holding the cut-out, or the source layer's layer mask
(Krita: a transparency mask). A request's ``output`` is what a non-interactive call asks for; in
the window the user picks it (Apply / Apply as New Layer / Apply as Layer Mask).
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field

PROTOCOL_VERSION = 1
MODES = ("replace", "add", "subtract", "intersect")
STATUSES = ("ok", "cancel", "error")
OUTPUTS = ("selection", "layer", "mask")


class ProtocolError(ValueError):
    """A request or response is malformed or of another protocol version."""



@dataclass
class Request:
    image: str
    response: str
    selection: str | None = None
    host: str = "unknown"
    interactive: bool = True
    mode: str = "replace"
    points: list = field(default_factory=list)
    box: list | None = None
    output: str = "selection"
    protocol: int = PROTOCOL_VERSION
    model: str = ""  # the model to answer: "" the user's, "quality" the user's quality model, or a name

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Request:
        """Parse and check a request: every number finite, labels 1 or 0, at most ``MAX_POINTS``
        points, a box of 4 numbers; ``ProtocolError`` saying what is wrong otherwise."""
        data = _load(text, "request")
        try:
            points = data.get("points") or []
            if not isinstance(points, list) or len(points) > MAX_POINTS:
                raise ValueError(f"points must be a list of at most {MAX_POINTS} [x, y, label] triples")
            box = data.get("box")
            request = cls(image=_text(data["image"]), response=_text(data["response"]),
                          selection=None if data.get("selection") is None else _text(data["selection"]),
                          host=_text(data.get("host", "unknown")), interactive=bool(data.get("interactive", True)),
                          mode=_text(data.get("mode", "replace")), points=[_point(p) for p in points],
                          box=[_finite(v) for v in box] if box else None, output=_text(data.get("output", "selection")),
                          model=_text(data.get("model", "")))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"malformed request: {exc}") from None
        if request.output not in OUTPUTS:
            raise ProtocolError(f"unknown output {request.output!r}; expected one of {', '.join(OUTPUTS)}")
        if request.mode not in MODES:
            raise ProtocolError(f"unknown mode {request.mode!r}; expected one of {', '.join(MODES)}")
        if request.box is not None and len(request.box) != 4:
            raise ProtocolError("box must have 4 numbers: x0, y0, x1, y1")
        return request


def _text(value: object) -> str:
    """A string field: strings only (a number or list is no path, host or mode), of sane length."""
    if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS or "\0" in value:
        raise ValueError(f"expected a string of at most {MAX_FIELD_CHARS} characters, got {type(value).__name__}")
    return value


def _finite(value: object) -> float:
    """A coordinate: a JSON number (not a bool or string) that is finite as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"coordinates must be numbers, not {type(value).__name__}")
    number = float(value)  # OverflowError for a 400-digit integer
    if not math.isfinite(number):
        raise ValueError(f"coordinates must be finite, not {value!r}")
    return number


def _point(value: object) -> list:
    """``[x, y, label]`` with finite coordinates and label 1 (include) or 0 (exclude)."""
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("each point must be [x, y, label]")
    x, y, label = value
    if isinstance(label, bool) or label not in (0, 1):
        raise ValueError(f"a point's label must be 1 (include) or 0 (exclude), not {label!r}")
    return [_finite(x), _finite(y), int(label)]


@dataclass
class Response:
    status: str
    mask: str | None = None
    mode: str = "replace"
    message: str = ""
    output: str = "selection"
    protocol: int = PROTOCOL_VERSION
    model: str = ""  # the model to answer: "" the user's, "quality" the user's quality model, or a name

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Response:
        data = _load(text, "response")
        status = data.get("status")
        if status not in STATUSES:
            raise ProtocolError(f"malformed response: status {status!r}")
        mode = data.get("mode", "replace")
        if mode not in MODES:
            raise ProtocolError(f"malformed response: mode {mode!r}")
        output = data.get("output", "selection")
        if output not in OUTPUTS:
            raise ProtocolError(f"malformed response: output {output!r}")
        return cls(status=status, mask=data.get("mask"), mode=mode, message=str(data.get("message", "")),
                   output=output)


def _load(text: str, what: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"the {what} is not JSON ({exc})") from None
    except RecursionError:
        raise ProtocolError(f"the {what} is nested too deeply to be a samcut {what}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the {what} is not a JSON object")
    version = data.get("protocol")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"samcut protocol version mismatch: the {what} has version {version!r}, this side "
                            f"speaks {PROTOCOL_VERSION}; update samcut and its plug-in together")
    return data


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a private temp file and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".samcut-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_response(path: str) -> Response:
    """The response samcut wrote, or a ``ProtocolError`` saying why there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ProtocolError("samcut ended without an answer (it may have crashed or been killed)") from exc
    return Response.from_json(text)


def private_workdir(prefix: str = "samcut-") -> str:
    """A new temporary folder only this user can read (mode 0700)."""
    return tempfile.mkdtemp(prefix=prefix)


# Environment variables that hosts leak into child processes and that break samcut's own Qt/Python.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "QT_QPA_PLATFORM", "QT_PLUGIN_PATH",
             "QT_QPA_PLATFORM_PLUGIN_PATH", "QML2_IMPORT_PATH", "QML_IMPORT_PATH", "QT_STYLE_OVERRIDE",
             "LD_PRELOAD", "GI_TYPELIB_PATH", "GTK_PATH", "GIO_MODULE_DIR")


def clean_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` without what a host process leaks (Qt platform, plugin and Python paths)."""
    env = {k: v for k, v in environ.items() if k not in LEAKY_ENV}
    if environ.get("SAMCUT_QT_QPA_PLATFORM"):  # tests can still ask for a platform explicitly
        env["QT_QPA_PLATFORM"] = environ["SAMCUT_QT_QPA_PLATFORM"]
    return env


def command_line(samcut_command: list[str], request_path: str) -> list[str]:
    """The argument vector that runs samcut on a request."""
    return [*samcut_command, "host", request_path]


COMMAND_FILE = "samcut_command.json"  # written next to a plug-in by ``samcut plugins install``
COMMAND_ENV = "SAMCUT_COMMAND"
CREATE_NO_WINDOW = 0x08000000  # Windows: start a console program without opening a console window


def command_file_text(command: list[str]) -> str:
    """The text of ``samcut_command.json``: ``{"command": [program, arg, ...]}``."""
    return json.dumps({"command": _command_list(command, "the command")}, indent=1) + "\n"


def _command_list(value: object, where: str) -> list[str]:
    """``value`` if it is a non-empty list of non-empty strings; a one-line ``ProtocolError`` otherwise."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ProtocolError(f"{where} must be a non-empty JSON list of strings such as "
                            f'["C:/Program Files/samcut/samcut.exe"], not {json.dumps(value)[:80]}')
    return list(value)


def samcut_command(plugin_folder: str, environ: dict[str, str]) -> list[str]:
    """How a plug-in starts samcut, as an argument list (never a shell line):

    1. ``$SAMCUT_COMMAND``: a JSON list (``["C:\\Program Files\\samcut\\samcut.exe"]``), or a plain
       string: the path of an existing program (spaces allowed), else words split on spaces (so a
       path with spaces that is followed by arguments must be given as a JSON list);
    2. else ``samcut_command.json`` next to the plug-in (``command_file_text``, written at install
       time), which must hold a non-empty list of strings;
    3. else ``samcut`` on ``PATH``.

    Raises ``ProtocolError`` (one line, saying how to fix it) for a malformed variable or file."""
    text = (environ.get(COMMAND_ENV) or "").strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            raise ProtocolError(f"{COMMAND_ENV} starts with '[' but is not a JSON list: {text[:80]}") from None
        return _command_list(value, COMMAND_ENV)
    if text:
        return [text] if os.path.isfile(text) else text.split()
    path = os.path.join(plugin_folder, COMMAND_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read(MAX_REQUEST_BYTES))
    except FileNotFoundError:
        return ["samcut"]
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProtocolError(f"cannot read {path} ({reason}); run 'samcut plugins install' again") from None
    command = data.get("command") if isinstance(data, dict) else data
    try:
        return _command_list(command, f'"command" in {path}')
    except ProtocolError as exc:
        raise ProtocolError(f"{exc}; run 'samcut plugins install' again") from None


def no_window_options(platform: str) -> dict[str, int]:
    """Extra ``subprocess.Popen`` arguments that keep a console window from flashing up when a GUI
    host (GIMP, Krita) starts samcut on Windows; none elsewhere (POSIX takes no creation flags)."""
    return {"creationflags": CREATE_NO_WINDOW} if platform == "win32" else {}


def parse_points(text: str) -> list[list[float]]:
    """``"x,y,label;x,y,label"`` -> ``[[x, y, label], ...]`` (label 1 include, 0 exclude; default 1)."""
    points: list[list[float]] = []
    for part in (text or "").replace(" ", "").split(";"):
        if not part:
            continue
        values = part.split(",")
        if len(values) not in (2, 3):
            raise ValueError(f"point {part!r} is not x,y or x,y,label")
        points.append([float(values[0]), float(values[1]), int(values[2]) if len(values) == 3 else 1])
    return points


MAX_POINTS = 1000            # far more than a decoder takes (the engine refuses beyond its own limit)
MAX_FIELD_CHARS = 4096       # a path, host name or mode
MAX_REQUEST_BYTES = 1 << 20   # a request file is a few hundred bytes
MAX_REQUEST_LINE = 4096       # a request line on the bridge's connection is one path
HEARTBEAT_S = 5.0             # a serving samcut says "wait" this often while the user works
SILENCE_LIMIT_S = 30.0        # a client gives up on a server that has said nothing for this long


def read_request_text(path: str) -> str:
    """A request file's text: only a regular file of sane size, UTF-8 (a FIFO or device would
    block, a huge file is no request); ``ProtocolError`` otherwise."""
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"cannot read the request {path!r}: {exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ProtocolError(f"the request {path!r} is not a regular file")
    if info.st_size > MAX_REQUEST_BYTES:
        raise ProtocolError(f"the request {path!r} is {info.st_size} bytes: not a samcut request")
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_REQUEST_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"the request {path!r} is not UTF-8 text") from None
    except OSError as exc:
        raise ProtocolError(f"cannot read the request {path!r}: {exc}") from None


def in_request_folder(request_path: str, target: str) -> bool:
    """Whether ``target`` (a response or mask path) is in the request file's own folder."""
    folder = os.path.realpath(os.path.dirname(os.path.abspath(request_path)))
    return os.path.realpath(os.path.dirname(os.path.abspath(target))) == folder


def read_request_file(path: str) -> Request:
    """Read a request (``read_request_text``), and only one whose response goes into the request's
    own folder (a request cannot make samcut write anywhere else)."""
    request = Request.from_json(read_request_text(path))
    if not in_request_folder(path, request.response):
        raise ProtocolError("the request's response file must be in the request's own folder")
    return request
