"""Host-independent parts of the Krita plug-in (tested outside Krita)."""

import json
import os

from . import protocol

DEFAULT_COMMAND = ["samcut"]


def samcut_command(folder, environ):
    """The samcut command: ``$SAMCUT_COMMAND`` (split on spaces), else ``samcut_command.json``, else PATH."""
    if environ.get("SAMCUT_COMMAND"):
        return environ["SAMCUT_COMMAND"].split()
    try:
        with open(os.path.join(folder, "samcut_command.json"), encoding="utf-8") as fh:
            command = json.load(fh)["command"]
        if isinstance(command, list) and command:
            return [str(c) for c in command]
    except (OSError, ValueError, KeyError):
        pass
    return list(DEFAULT_COMMAND)


def parse_points(text):
    """``"x,y,label;x,y,label"`` -> ``[[x, y, label], ...]`` (label defaults to 1)."""
    points = []
    for part in (text or "").replace(" ", "").split(";"):
        if not part:
            continue
        values = part.split(",")
        if len(values) not in (2, 3):
            raise ValueError("point %r is not x,y or x,y,label" % part)
        points.append([float(values[0]), float(values[1]), int(values[2]) if len(values) == 3 else 1])
    return points


def build_request(workdir, has_selection, interactive=True, points=None, box=None, mode="replace"):
    """The request for a layer saved as ``workdir/layer.png`` (and ``selection.png`` if any)."""
    return protocol.Request(
        image=os.path.join(workdir, "layer.png"),
        response=os.path.join(workdir, "response.json"),
        selection=os.path.join(workdir, "selection.png") if has_selection else None,
        host="krita", interactive=interactive, mode=mode, points=points or [], box=box)


def check_response(response, width, height, mask_size):
    """Raise ``ProtocolError`` unless an ok response's mask has the layer's size."""
    if response.status == "ok" and mask_size != (width, height):
        raise protocol.ProtocolError("samcut returned a %dx%d mask for a %dx%d layer; nothing was changed"
                                     % (mask_size[0], mask_size[1], width, height))


def gray_rows(data, width, height, stride):
    """Tightly packed 1-byte-per-pixel rows from a buffer whose rows are ``stride`` bytes apart."""
    if stride == width:
        return bytes(data[: width * height])
    return b"".join(bytes(data[y * stride: y * stride + width]) for y in range(height))
