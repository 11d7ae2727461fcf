"""The Krita side: export the active layer, run samcut without blocking Krita, apply the selection."""

import json
import os
import shutil
import sys

from krita import Extension, InfoObject, Krita, Selection  # noqa: F401

from . import logic, protocol, qt_shim, runner
from .qt_shim import FORMAT_ARGB32, FORMAT_GRAY8, QImage, QMessageBox, QTimer

ACTION_ID = "samcut_select"
ADD_TRANSPARENCY_MASK = "add_new_transparency_mask"  # Krita's Layer > New > Transparency Mask
TEST_ENV = "SAMCUT_KRITA_TEST"  # JSON file: a scripted, non-interactive run for the real-host tests
HERE = os.path.dirname(os.path.abspath(__file__))


class SamcutExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.runner = None
        self.job = None
        self.test = None

    def setup(self):
        path = os.environ.get(TEST_ENV)
        if path:
            with open(path, encoding="utf-8") as fh:
                self.test = json.load(fh)
            QTimer.singleShot(1000, self._test_wait_for_view)

    def createActions(self, window):  # noqa: N802 - Krita API
        action = window.createAction(ACTION_ID, "Select with samcut…", "tools/scripts")
        action.setShortcut("Ctrl+Alt+S")
        action.setToolTip("Select an object in the active layer with samcut (Segment Anything)")
        action.triggered.connect(self.select_with_samcut)

    # the action -----------------------------------------------------------------------------
    def select_with_samcut(self):
        if self.job is not None:
            self._tell("samcut is already working on a selection.")
            return
        doc = Krita.instance().activeDocument()
        node = doc.activeNode() if doc is not None else None
        if node is None:
            self._tell("Open an image and pick a layer first.")
            return
        width, height = doc.width(), doc.height()
        workdir = protocol.private_workdir("samcut-krita-")
        try:
            pixels = node.projectionPixelData(0, 0, width, height) if hasattr(node, "projectionPixelData") \
                else node.pixelData(0, 0, width, height)
            image = QImage(bytes(pixels), width, height, width * 4, FORMAT_ARGB32)
            if not image.save(os.path.join(workdir, "layer.png"), "PNG"):
                raise OSError("could not write the layer to a temporary PNG")
            current = doc.selection()
            if current is not None:
                sel = current.pixelData(0, 0, width, height)
                QImage(bytes(sel), width, height, width, FORMAT_GRAY8).save(os.path.join(workdir, "selection.png"))
            test = self.test or {}
            request = logic.build_request(workdir, current is not None, interactive=not test.get("points"),
                                          points=test.get("points"), box=test.get("box"),
                                          mode=test.get("mode", "replace"), output=test.get("output", "selection"))
            protocol.write_atomic(os.path.join(workdir, "request.json"), request.to_json())
            command = protocol.command_line(logic.samcut_command(HERE, dict(os.environ)),
                                            os.path.join(workdir, "request.json"))
        except Exception as exc:  # noqa: BLE001 - shown to the user, nothing changed
            shutil.rmtree(workdir, ignore_errors=True)
            self._tell("Could not hand the layer to samcut: %s" % exc)
            return
        self.job = {"doc": doc, "workdir": workdir, "width": width, "height": height, "request": request}
        # QProcess on POSIX; on Windows a polled Popen with CREATE_NO_WINDOW (no console window)
        self.runner = runner.make_runner(sys.platform, qt_shim, self._on_finished)
        self.runner.start(command, protocol.clean_environment(dict(os.environ)), workdir)
        self._trace("started %s" % " ".join(command))

    def _on_finished(self, exit_code, stderr=""):
        self._trace("samcut finished with %s" % exit_code)
        job, self.job = self.job, None
        self.runner = None
        if job is None:
            return
        stderr = stderr.strip()
        try:
            response = protocol.read_response(job["request"].response)
            if response.status == "error":
                raise protocol.ProtocolError(response.message or "samcut failed")
            if response.status == "ok":
                self._apply(job, response)
            self._report(response.status, response.message)
        except Exception as exc:  # noqa: BLE001 - a Krita API that differs must end in a message, not silence
            if not isinstance(exc, (protocol.ProtocolError, OSError)):
                exc = "%s: %s" % (type(exc).__name__, exc)
            detail = "%s%s" % (exc, ("\n\n" + stderr.splitlines()[-1]) if stderr else "")
            self._report("error", detail)
            self._tell("samcut could not make a selection; the image is unchanged.\n\n%s" % detail)
        finally:
            shutil.rmtree(job["workdir"], ignore_errors=True)

    def _apply(self, job, response):
        mask = QImage(response.mask)
        if mask.isNull():
            raise protocol.ProtocolError("samcut's mask could not be read")
        logic.check_response(response, job["width"], job["height"], (mask.width(), mask.height()))
        mask = mask.convertToFormat(FORMAT_GRAY8)
        ptr = mask.constBits()
        ptr.setsize(mask.bytesPerLine() * mask.height())
        alpha = logic.gray_rows(ptr, mask.width(), mask.height(), mask.bytesPerLine())
        doc = job["doc"]
        node = doc.activeNode()
        width, height = job["width"], job["height"]
        if response.output in ("layer", "mask"):
            self._apply_as_node(doc, node, alpha, width, height, response.output)
            return
        action = logic.SELECT_OPAQUE_ACTIONS[response.mode]
        if node is None or node.type() != "paintlayer" or Krita.instance().action(action) is None:
            self._apply_directly(doc, alpha, width, height, response.mode)
            return
        # Krita 5's Document.setSelection is not recorded in the undo history; its "Select Opaque"
        # actions are. So the active layer briefly carries the mask as its alpha (pixel writes from
        # Python are not recorded either), the action selects through it, and the layer's own
        # pixels are put back: the history gains exactly one step, the layer is unchanged.
        original = node.pixelData(0, 0, width, height)
        try:
            node.setPixelData(logic.bgra_from_alpha(alpha), 0, 0, width, height)
            doc.waitForDone()
            Krita.instance().action(action).trigger()
            doc.waitForDone()
        finally:
            node.setPixelData(original, 0, 0, width, height)
            doc.waitForDone()
        doc.refreshProjection()

    def _apply_as_node(self, doc, node, alpha, width, height, output):
        """A new paint layer above ``node`` holding the cut-out, or a transparency mask on it."""
        if node is None:
            raise protocol.ProtocolError("no active layer to add the result to")
        if output == "layer":
            layer = doc.createNode("%s (samcut cut-out)" % node.name(), "paintlayer")
            layer.setPixelData(logic.cutout_bgra(node.pixelData(0, 0, width, height), alpha), 0, 0, width, height)
            node.parentNode().addChildNode(layer, node)
        else:
            self._add_transparency_mask(doc, node, alpha, width, height)
        doc.waitForDone()
        doc.refreshProjection()

    def _add_transparency_mask(self, doc, node, alpha, width, height):
        """``alpha`` (one byte per pixel, row-major, the layer's size) as a new transparency mask on
        the active layer ``node``, as one step in Krita's history.

        Krita 5.1's Python API can add a transparency mask node but gives it no pixels (its
        selection stays empty: pixelData returns nothing). Krita's own "Add Transparency Mask"
        action, run with nothing selected, adds a fully opaque mask as one undoable step; its
        pixels are then written (pixel writes from Python are not recorded, and undoing the step
        removes the mask whole). With a selection active, the action would use it up and an undo
        would bring it back as samcut's, so the user's selection is set aside (Document.setSelection
        is not recorded either) and put back afterwards."""
        action = Krita.instance().action(ADD_TRANSPARENCY_MASK)
        if action is None:
            raise protocol.ProtocolError("this Krita has no \"Add Transparency Mask\" action")

        def masks():
            return {child.uniqueId().toString(): child for child in node.childNodes()
                    if child.type() == "transparencymask"}

        before, previous = masks(), doc.selection()
        doc.setSelection(None)
        doc.waitForDone()
        try:
            action.trigger()
            doc.waitForDone()
        finally:
            doc.setSelection(previous)
            doc.waitForDone()
        added = [mask for key, mask in masks().items() if key not in before]
        if len(added) != 1:
            raise protocol.ProtocolError("Krita did not add the transparency mask")
        mask = added[0]
        mask.setPixelData(alpha, 0, 0, width, height)
        doc.waitForDone()
        if bytes(mask.pixelData(0, 0, width, height)) != bytes(alpha):
            raise protocol.ProtocolError("Krita's transparency mask did not take samcut's pixels")

    def _apply_directly(self, doc, alpha, width, height, mode):
        """Fallback for layers that hold no pixels of their own (groups, vectors): not undoable."""
        new = Selection()
        new.resize(width, height)
        new.setPixelData(alpha, 0, 0, width, height)
        current = doc.selection()
        if current is not None and mode != "replace":
            getattr(current, mode)(new)
            new = current
        doc.setSelection(new)
        doc.refreshProjection()

    # messages and the scripted test run ------------------------------------------------------------
    def _tell(self, text):
        if self.test is not None:
            self._report("error", text)
            return
        QMessageBox.warning(None, "samcut", text)

    def _report(self, status, message=""):
        if self.test is None:
            return
        doc = Krita.instance().activeDocument()
        report = {"status": status, "message": message}
        if doc is not None:
            sel = doc.selection()
            report["has_selection"] = sel is not None
            if sel is not None:
                w, h = doc.width(), doc.height()
                QImage(bytes(sel.pixelData(0, 0, w, h)), w, h, w, FORMAT_GRAY8).save(self.test["selection_png"])
            node = doc.activeNode()
            top = doc.rootNode().childNodes()
            report["layer_names"] = [n.name() for n in top]
            source = next((n for n in top if not n.name().endswith("(samcut cut-out)")), node)
            report["source_children"] = [n.type() for n in source.childNodes()]
            cut = next((n for n in top if n.name().endswith("(samcut cut-out)")), None)
            if cut is not None and self.test.get("layer_png"):
                w, h = doc.width(), doc.height()
                QImage(bytes(cut.pixelData(0, 0, w, h)), w, h, w * 4, FORMAT_ARGB32).save(self.test["layer_png"])
            for child in source.childNodes():
                if child.type() == "transparencymask" and self.test.get("mask_png"):
                    w, h = doc.width(), doc.height()
                    QImage(bytes(child.pixelData(0, 0, w, h)), w, h, w, FORMAT_GRAY8).save(self.test["mask_png"])
            node = source
            pixels = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
            import hashlib

            report["layer_sha256"] = hashlib.sha256(pixels).hexdigest()
            report["layer_unchanged"] = report["layer_sha256"] == self.test.get("layer_before")
            if status == "ok":  # one undo step must take samcut's selection back
                Krita.instance().action("edit_undo").trigger()
                doc.waitForDone()
                after = doc.selection()
                report["selected_after_undo"] = 0 if after is None else sum(
                    1 for v in bytes(after.pixelData(0, 0, doc.width(), doc.height())) if v)
                top = doc.rootNode().childNodes()
                report["layer_names_after_undo"] = [n.name() for n in top]
                report["source_children_after_undo"] = [n.type() for n in top[0].childNodes()] if top else []
        protocol.write_atomic(self.test["report"], json.dumps(report))
        self._trace("report written (%s); quitting" % status)
        if doc is not None:
            doc.setModified(False)
        QTimer.singleShot(0, lambda: Krita.instance().action("file_quit").trigger())

    def _trace(self, text):
        """Scripted test runs: progress on stderr, so that a host that hangs shows where."""
        if self.test is not None:
            sys.stderr.write("samcut-krita-test: %s\n" % text)
            sys.stderr.flush()

    def _test_wait_for_view(self):
        window = Krita.instance().activeWindow()
        if window is None or window.activeView() is None or Krita.instance().activeDocument() is None:
            self.test["waits"] = self.test.get("waits", 0) + 1
            if self.test["waits"] % 10 == 1:
                self._trace("waiting for a window with a view (%d)" % self.test["waits"])
            QTimer.singleShot(500, self._test_wait_for_view)
            return
        self._trace("view ready; triggering the action")
        doc = Krita.instance().activeDocument()
        if self.test.get("preselect"):
            x, y, w, h = self.test["preselect"]
            sel = Selection()
            sel.select(x, y, w, h, 255)
            doc.setSelection(sel)
        node = doc.activeNode()
        self.test["layer_before"] = __import__("hashlib").sha256(
            bytes(node.pixelData(0, 0, doc.width(), doc.height()))).hexdigest()
        Krita.instance().action(ACTION_ID).trigger()
