#!/usr/bin/env python3
"""samcut for GIMP 3: Select > Select with samcut…

Exports the active drawable (with its offsets) and the current selection, runs samcut, and turns
the mask it returns into GIMP's selection, a new cut-out layer above the drawable, or its layer
mask (the user's choice in samcut, or the "output" argument), in one undo group. Runs in its own process (GIMP's
Python 3 with PyGObject), so starting samcut and waiting for it does not freeze GIMP.
"""

import os
import shutil
import subprocess
import sys

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio, GLib, GObject  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import samcut_protocol as protocol  # noqa: E402

PROCEDURE = "plug-in-samcut-select"
OPS = {"replace": Gimp.ChannelOps.REPLACE, "add": Gimp.ChannelOps.ADD,
       "subtract": Gimp.ChannelOps.SUBTRACT, "intersect": Gimp.ChannelOps.INTERSECT}


def save_drawable(drawable, path):
    """The drawable alone, as a PNG of its own size."""
    width, height = drawable.get_width(), drawable.get_height()
    temp = Gimp.Image.new(width, height, Gimp.ImageBaseType.RGB)
    try:
        layer = Gimp.Layer.new_from_drawable(drawable, temp)
        temp.insert_layer(layer, None, 0)
        layer.set_offsets(0, 0)
        if not Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, temp, Gio.File.new_for_path(path), None):
            raise OSError("GIMP could not write %s" % path)
    finally:
        temp.delete()


def save_selection(image, drawable, path):
    """The selection over the drawable's area as a grey PNG; False when nothing is selected."""
    if Gimp.Selection.is_empty(image):
        return False
    channel = Gimp.Selection.save(image)
    try:
        ok, ox, oy = drawable.get_offsets()
        temp = Gimp.Image.new(image.get_width(), image.get_height(), Gimp.ImageBaseType.GRAY)
        try:
            layer = Gimp.Layer.new_from_drawable(channel, temp)
            temp.insert_layer(layer, None, 0)
            temp.crop(drawable.get_width(), drawable.get_height(), ox, oy)
            if not Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, temp, Gio.File.new_for_path(path), None):
                raise OSError("GIMP could not write %s" % path)
        finally:
            temp.delete()
    finally:
        image.remove_channel(channel)
    return True


def apply_mask(image, drawable, mask_path, mode):
    """Load the grey mask as a layer at the drawable's offsets and select through it."""
    layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(mask_path))
    if layer.get_width() != drawable.get_width() or layer.get_height() != drawable.get_height():
        raise protocol.ProtocolError("samcut returned a %dx%d mask for a %dx%d layer; nothing was changed" % (
            layer.get_width(), layer.get_height(), drawable.get_width(), drawable.get_height()))
    image.insert_layer(layer, None, 0)
    try:
        ok, ox, oy = drawable.get_offsets()
        layer.set_offsets(ox, oy)
        mask = layer.create_mask(Gimp.AddMaskType.COPY)
        layer.add_mask(mask)
        image.select_item(OPS[mode], mask)
    finally:
        image.remove_layer(layer)


def _with_selection_from(image, drawable, mask_path, make):
    """Select through samcut's mask, call ``make()``, and give the user's own selection back: the
    mask only shapes the new layer or layer mask (all inside the caller's undo group)."""
    saved = None if Gimp.Selection.is_empty(image) else Gimp.Selection.save(image)
    try:
        apply_mask(image, drawable, mask_path, "replace")
        make()
    finally:
        if saved is not None:
            image.select_item(Gimp.ChannelOps.REPLACE, saved)
            image.remove_channel(saved)
        else:
            Gimp.Selection.none(image)


def add_cutout_layer(image, drawable, mask_path):
    """A new layer above ``drawable``: its pixels where samcut selected, transparent elsewhere."""
    def make():
        layer = Gimp.Layer.new_from_drawable(drawable, image)
        layer.set_name("%s (samcut cut-out)" % drawable.get_name())
        image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
        if not layer.has_alpha():
            layer.add_alpha()
        layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
        layer.remove_mask(Gimp.MaskApplyMode.APPLY)
    _with_selection_from(image, drawable, mask_path, make)


def add_layer_mask(image, drawable, mask_path):
    """samcut's mask as ``drawable``'s layer mask (refused when it already has one)."""
    if drawable.get_mask() is not None:
        raise protocol.ProtocolError("the layer already has a layer mask; apply or delete it first")
    _with_selection_from(image, drawable, mask_path,
                         lambda: drawable.add_mask(drawable.create_mask(Gimp.AddMaskType.SELECTION)))


def run_samcut(request, workdir, platform=sys.platform):
    """Write ``request``, run samcut on it (the command: ``protocol.samcut_command``) and return its
    response; ``ProtocolError`` with samcut's last stderr line when there is none. On Windows
    (``platform``) samcut starts without a console window."""
    request_path = os.path.join(workdir, "request.json")
    protocol.write_atomic(request_path, request.to_json())
    command = protocol.command_line(protocol.samcut_command(HERE, dict(os.environ)), request_path)
    env = protocol.clean_environment(dict(os.environ))
    try:  # on Windows without a console window flashing up (CREATE_NO_WINDOW); POSIX as ever
        completed = subprocess.run(command, env=env, capture_output=True,
                                   **protocol.no_window_options(platform))
    except OSError as exc:
        raise protocol.ProtocolError("cannot start samcut (%s): %s" % (" ".join(command), exc)) from None
    try:
        return protocol.read_response(request.response)
    except protocol.ProtocolError as exc:
        tail = completed.stderr.decode(errors="replace").strip().splitlines()
        raise protocol.ProtocolError("%s (exit status %d)%s" % (exc, completed.returncode,
                                                               (": " + tail[-1]) if tail else "")) from None


class SamcutPlugIn(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROCEDURE]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, self.run, None)
        procedure.set_image_types("*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("Select with samcut…")
        procedure.add_menu_path("<Image>/Select/")
        procedure.set_documentation("Select an object with samcut (Segment Anything)",
                                    "Opens the active layer in samcut; the selection made there becomes "
                                    "GIMP's selection. With 'points', runs without a window.", name)
        procedure.set_attribution("samcut", "samcut authors", "2026")
        procedure.add_string_argument("points", "Points", "x,y,label;... in layer pixels (no window)", "",
                                      GObject.ParamFlags.READWRITE)
        procedure.add_string_argument("mode", "Mode", "replace, add, subtract or intersect", "replace",
                                      GObject.ParamFlags.READWRITE)
        procedure.add_string_argument("output", "Output", "selection, layer (a cut-out above) or mask (layer mask)",
                                      "selection", GObject.ParamFlags.READWRITE)
        return procedure

    def run(self, procedure, run_mode, image, drawables, config, data):
        if len(drawables) != 1:
            return self._fail(procedure, "Select exactly one layer for samcut.")
        drawable = drawables[0]
        workdir = protocol.private_workdir("samcut-gimp-")
        try:
            points = protocol.parse_points(config.get_property("points"))
            mode = config.get_property("mode") or "replace"
            if mode not in OPS:
                raise protocol.ProtocolError("unknown mode %r" % mode)
            output = config.get_property("output") or "selection"
            if output not in protocol.OUTPUTS:
                raise protocol.ProtocolError("unknown output %r" % output)
            save_drawable(drawable, os.path.join(workdir, "layer.png"))
            has_selection = save_selection(image, drawable, os.path.join(workdir, "selection.png"))
            request = protocol.Request(
                image=os.path.join(workdir, "layer.png"), response=os.path.join(workdir, "response.json"),
                selection=os.path.join(workdir, "selection.png") if has_selection else None, host="gimp",
                interactive=not points, mode=mode, points=points, output=output)
            response = run_samcut(request, workdir)
            if response.status == "error":
                raise protocol.ProtocolError(response.message or "samcut failed")
            if response.status == "cancel":
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
            image.undo_group_start()  # whatever the output, one step in GIMP's history
            try:
                if response.output == "layer":
                    add_cutout_layer(image, drawable, response.mask)
                elif response.output == "mask":
                    add_layer_mask(image, drawable, response.mask)
                else:
                    apply_mask(image, drawable, response.mask, response.mode)
            finally:
                image.undo_group_end()
            Gimp.displays_flush()
        except (protocol.ProtocolError, OSError, ValueError, GLib.Error) as exc:
            return self._fail(procedure, "samcut could not make a selection; the image is unchanged.\n%s" % exc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())

    def _fail(self, procedure, message):
        Gimp.message(message)
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error.new_literal(
            GLib.quark_from_string("samcut"), message, 0))


if __name__ == "__main__":
    Gimp.main(SamcutPlugIn.__gtype__, sys.argv)
