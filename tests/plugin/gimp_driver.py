# Run by gimp-console's python-fu-eval inside the GIMP 3 chroot (not collected by pytest).
# Reads its settings from $SAMCUT_GIMP_TEST (JSON), runs the real procedure, writes a report.
import json
import os

from gi.repository import Gimp, Gio

settings = json.load(open(os.environ["SAMCUT_GIMP_TEST"]))
report = {"status": "not run"}
try:
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(settings["image"]))
    layer = image.get_layers()[0]
    layer.set_offsets(*settings.get("offsets", [0, 0]))
    if settings.get("preselect"):
        x, y, w, h = settings["preselect"]
        image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    before = image.get_layers()[0].get_buffer()
    procedure = Gimp.get_pdb().lookup_procedure("plug-in-samcut-select")
    if procedure is None:
        raise RuntimeError("the samcut procedure is not registered")
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    config.set_property("points", settings["points"])
    config.set_property("mode", settings.get("mode", "replace"))
    config.set_property("output", settings.get("output", "selection"))
    result = procedure.run(config)
    status = result.index(0)
    report["status"] = {Gimp.PDBStatusType.SUCCESS: "ok", Gimp.PDBStatusType.CANCEL: "cancel"}.get(status, "error")
    report["layers"] = len(image.get_layers())
    report["layer_names"] = [layer.get_name() for layer in image.get_layers()]

    def export(drawable, path, base):
        out = Gimp.Image.new(image.get_width(), image.get_height(), base)
        copy = Gimp.Layer.new_from_drawable(drawable, out)
        out.insert_layer(copy, None, 0)
        copy.set_offsets(0, 0)
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, out, Gio.File.new_for_path(path), None)
        out.delete()

    if settings.get("output") == "layer" and len(image.get_layers()) > 1:
        export(image.get_layers()[0], settings["layer_png"], Gimp.ImageBaseType.RGB)  # the new top layer
    source = image.get_layers()[-1]
    report["source_has_mask"] = source.get_mask() is not None
    if report["source_has_mask"]:
        export(source.get_mask(), settings["mask_png"], Gimp.ImageBaseType.GRAY)
    report["has_selection"] = not Gimp.Selection.is_empty(image)
    if report["has_selection"]:
        channel = Gimp.Selection.save(image)
        out = Gimp.Image.new(image.get_width(), image.get_height(), Gimp.ImageBaseType.GRAY)
        copy = Gimp.Layer.new_from_drawable(channel, out)
        out.insert_layer(copy, None, 0)
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, out, Gio.File.new_for_path(settings["selection_png"]), None)
        out.delete()
except Exception as exc:  # noqa: BLE001
    report["status"] = "driver error"
    report["message"] = f"{exc.__class__.__name__}: {exc}"
with open(settings["report"], "w") as fh:
    json.dump(report, fh)
