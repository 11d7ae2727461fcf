"""``samcut segment``: the engine without a window (scripts, tests, host plug-ins)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from samcut.cli.service import add_precision_argument, headless_service
from samcut.models.document.cutout import output_format, save_cutout, save_mask
from samcut.models.document.imageio import LoadedImage, load_image
from samcut.models.document.memory import parse_bytes
from samcut.models.editor.headless import CANDIDATES, check_prompt, segment
from samcut.models.engine.service import SegmentationService
from samcut.models.store.choice import QUALITY, answering_model
from samcut.models.store.registry import resolve_model


def parse_point(text: str) -> tuple[float, float, int]:
    """``X,Y`` or ``X,Y,LABEL`` (label 1 positive, 0 negative) in image pixels."""
    parts = text.split(",")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
        label = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"point {text!r} is not X,Y or X,Y,LABEL") from None
    if label not in (0, 1):
        raise argparse.ArgumentTypeError(f"point {text!r}: label must be 1 (include) or 0 (exclude)")
    if not (np.isfinite(x) and np.isfinite(y)):
        raise argparse.ArgumentTypeError(f"point {text!r}: coordinates must be finite")
    return x, y, label


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``X0,Y0,X1,Y1`` in image pixels, any corner order."""
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"box {text!r} is not X0,Y0,X1,Y1") from None
    if not np.isfinite([x0, y0, x1, y1]).all():
        raise argparse.ArgumentTypeError(f"box {text!r}: coordinates must be finite")
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def positive_int(low: int, high: int):  # noqa: ANN201 - an argparse type
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({low} to {high})")
        return value

    return parse


def memory_size(text: str) -> int:
    """An argparse type: a size in bytes, or with a K/M/G suffix."""
    try:
        return parse_bytes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (give bytes, or a number with K, M or G)") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="image file (EXIF orientation is applied first)")
    parser.add_argument("--point", type=parse_point, action="append", default=[], metavar="X,Y[,LABEL]",
                        help="a click in image pixels; LABEL 1 includes (default), 0 excludes; repeatable. "
                             "Given like clicks in the app: the box first, then the points in order")
    parser.add_argument("--box", type=parse_box, metavar="X0,Y0,X1,Y1", help="a box around the object")
    parser.add_argument("--snap", action="store_true",
                        help="as a click in the app once its Object Finder is done: a first --point on an object "
                             "the finder found takes that whole object (what hovering there highlights)")
    parser.add_argument("--subject", action="store_true",
                        help="the image's main subject, from the Object Finder (instead of points or a box)")
    parser.add_argument("--models", type=resolve_model, metavar="DIR|NAME",
                        help="a model folder, or the name of an installed model (default: the official model)")
    parser.add_argument("--quality", nargs="?", const=QUALITY, metavar="NAME",
                        help="answer with the quality model you chose (the app's Model menu, 'samcut models use "
                             "--quality NAME'), or with the model NAME; without it the quick model answers")
    parser.add_argument("--mask", type=Path, metavar="OUT.png",
                        help="write the mask as 8-bit grey (.png, .tif, .webp or .bmp)")
    parser.add_argument("--cutout", type=Path, metavar="OUT.png",
                        help="write the cutout with alpha (.png, .tif or .webp)")
    parser.add_argument("--candidate", choices=CANDIDATES, default="auto",
                        help="which mask: best of 3 candidates, the single-mask output, or auto "
                             "(best of 3 for one click or a box alone, single otherwise)")
    parser.add_argument("--refine", action="store_true",
                        help="snap the mask's edge to the image's edges at full resolution (soft where the edge "
                             "is soft)")
    parser.add_argument("--decontaminate", action="store_true",
                        help="take the background's colour out of the cutout's semi-transparent edge")
    parser.add_argument("--max-pixels", type=positive_int(1, 10**10), metavar="N",
                        help="refuse images larger than N pixels")
    parser.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                        help="refuse images whose editing would take more memory than SIZE (e.g. 2G, 800M; "
                             "default: $SAMCUT_MAX_MEMORY or half of this machine's memory)")
    parser.add_argument("--threads", type=positive_int(1, 256), metavar="N", help="CPU threads for ONNX Runtime")
    add_precision_argument(parser)
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the embedding cache (each call encodes the image)")


def segment_image(image: LoadedImage, points: list[tuple[float, float, int]],
                  box: tuple[float, float, float, float] | None, models: Path | None = None,
                  threads: int | None = None, candidate: str = "auto", refine: bool = False,
                  cache: bool = True, found: list | None = None,
                  service: SegmentationService | None = None) -> np.ndarray:
    """The mask for ``points`` (x, y, label) and ``box`` in image pixels, as ``uint8`` 0/255 (soft
    edges when ``refine``): the app's editor, given the box and then the points as clicks. The
    one path behind ``samcut segment`` and ``samcut host``. With ``cache``, the embedding comes
    from (and goes to) the same disk cache the app uses: a second call on an image skips the encoder.
    ``found``: the Object Finder's objects, for the click rule (``--snap``). ``service``: one
    already open (``samcut batch`` loads the model once per worker); it stays open."""
    own = service is None
    service = headless_service(models, threads, cache) if service is None else service
    try:
        return segment(service, image, points, box, candidate, refine, found)
    finally:
        if own:
            service.close()


def subject_mask(image: LoadedImage, models: Path | None, cache: bool = True,
                 service: SegmentationService | None = None, show_progress: bool = True) -> np.ndarray:
    """``uint8`` 0/255 mask of the image's main subject (``finder.main_subject``); ``service`` as
    in ``segment_image``; ``show_progress``: the finder's progress bar on stderr."""
    from samcut.cli.objects import image_objects, object_mask
    from samcut.cli.progress import ProgressBar
    from samcut.models.engine.finder import main_subject, subject_note

    progress = ProgressBar("finding objects", unit="points") if show_progress else None
    objects, input_size = image_objects(image, models, cache, progress, service)
    subject = main_subject(objects, image.size)
    if subject is None:
        raise ValueError(f"no object was found in {image.size[1]}x{image.size[0]} image")
    note = subject_note(objects)
    if note and show_progress:
        print(f"subject: {note}", file=sys.stderr)
    return object_mask(subject, input_size, image.size)


def check_output(option: str, path: Path | None) -> None:
    """Before any work: an output's extension must name a format it can be written in (PNG, TIFF,
    WebP; BMP for masks), its folder must exist and be writable, and a file already there must
    not be read-only."""
    from samcut.models.document.cutout import check_replaceable

    if path is None:
        return
    try:
        output_format(path, cutout=option == "--cutout")
    except ValueError as exc:
        raise ValueError(f"{option} {exc}") from None
    folder = path.parent  # "." for a bare file name
    if not folder.is_dir():
        raise ValueError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{option} {path}: the folder {folder} cannot be written")
    if path.is_dir():
        raise ValueError(f"{option} {path}: is a folder")
    try:
        check_replaceable(path)
    except PermissionError as exc:
        raise ValueError(f"{option} {exc}") from None


def run(args: argparse.Namespace) -> int:
    if args.subject and (args.point or args.box is not None):
        raise ValueError("segment: --subject finds the object itself; give it without --point or --box")
    if not args.point and args.box is None and not args.subject:
        raise ValueError("segment: give at least one --point, a --box, or --subject")
    if args.mask is None and args.cutout is None:
        raise ValueError("segment: give --mask OUT.png and/or --cutout OUT.png")
    for option, out in (("--mask", args.mask), ("--cutout", args.cutout)):
        check_output(option, out)
    if args.quality is not None:  # (the one rule for a named model: choice.answering_model)
        args.models = answering_model(args.models, args.quality)
    image = load_image(args.image, args.max_pixels, args.max_memory)
    if args.subject:
        mask = subject_mask(image, args.models, cache=not args.no_cache)
    else:
        check_prompt(args.point, args.box, image.size, "--point", "--box")
        found = None
        if args.snap:
            from samcut.cli.objects import image_objects
            from samcut.cli.progress import ProgressBar

            found, _ = image_objects(image, args.models, not args.no_cache, ProgressBar("finding objects",
                                                                                        unit="points"))
        mask = segment_image(image, args.point, args.box, args.models, args.threads, args.candidate, args.refine,
                             cache=not args.no_cache, found=found)
    if args.mask is not None:
        save_mask(args.mask, mask)
    if args.cutout is not None:
        save_cutout(args.cutout, image.rgb, mask, image.alpha, args.decontaminate)
    return 0
