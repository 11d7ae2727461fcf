"""Host-independent parts of the Krita plug-in (tested outside Krita; Python 3.8 like Krita 5.1)."""

import os

from . import protocol

samcut_command = protocol.samcut_command
parse_points = protocol.parse_points


def build_request(workdir, has_selection, interactive=True, points=None, box=None, mode="replace",
                  output="selection"):
    """The request for a layer saved as ``workdir/layer.png`` (and ``selection.png`` if any)."""
    return protocol.Request(
        image=os.path.join(workdir, "layer.png"),
        response=os.path.join(workdir, "response.json"),
        selection=os.path.join(workdir, "selection.png") if has_selection else None,
        host="krita", interactive=interactive, mode=mode, points=points or [], box=box, output=output)


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


# Krita's "Select Opaque" actions (Layer > Transparency > Alpha to selection), one per mode.
SELECT_OPAQUE_ACTIONS = {"replace": "selectopaque", "add": "selectopaque_add",
                         "subtract": "selectopaque_subtract", "intersect": "selectopaque_intersect"}


def bgra_from_alpha(alpha):
    """White BGRA pixels whose alpha is ``alpha`` (1 byte per pixel)."""
    out = bytearray(len(alpha) * 4)
    for i in range(3):
        out[i::4] = b"\xff" * len(alpha)
    out[3::4] = alpha
    return bytes(out)


def cutout_bgra(pixels, alpha):
    """BGRA ``pixels`` (4 bytes per pixel) with their alpha multiplied by ``alpha`` (1 byte per pixel)."""
    alphas = bytes(pixels)[3::4]
    if len(alphas) != len(alpha):  # zip(strict=True) needs Python 3.10; Krita 5.1 embeds 3.8
        raise ValueError("%d pixels but %d mask values" % (len(alphas), len(alpha)))
    out = bytearray(pixels)
    out[3::4] = bytes((a * m + 127) // 255 for a, m in zip(alphas, alpha))  # noqa: B905 - lengths checked
    return bytes(out)
