"""``samcut objects IMAGE --out DIR``: the Object Finder's objects as mask files, best first.

The finder is SAM's automatic mask generator (``models.engine.finder_rules``); its options keep
SAM's names and defaults (``--points-per-side 16``, ``--pred-iou-thresh 0.88``,
``--stability-score-thresh 0.95``, ``--box-nms-thresh 0.7``), samcut's departures are off unless
asked for (``--drop-empty``, ``--mask-nms-thresh``, ``--max-objects``). DIR gets
``object_001.png`` ... (8-bit grey masks at the image's size: the decoder's own mask for each
object) and ``objects.json``: for each object its file, ``box`` ``[x0, y0, x1, y1]`` (inclusive
pixels), ``bbox`` ``[x, y, w, h]`` (SAM's XYWH: ``w = x1 - x0``), ``area`` (pixels),
``predicted_iou``, ``stability_score`` and ``point`` (the grid point ``[x, y]``), best predicted
IoU first. Only objects that pass the thresholds are written (as SAM's generator returns them);
when none does, the output says so and names the options to lower. ``samcut segment IMAGE
--subject`` uses the same objects (and their fallback). The objects are cached with the image's
embedding and the settings, as in the app.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from samcut.cli.progress import ProgressBar
from samcut.cli.service import add_precision_argument, headless_service
from samcut.models.document.cutout import save_mask
from samcut.models.document.imageio import LoadedImage, load_image
from samcut.models.engine.finder import FinderSettings, FoundObject, find_objects
from samcut.models.engine.postprocess import full_mask
from samcut.models.engine.service import SegmentationService
from samcut.models.io.atomic import atomic_write
from samcut.models.store.registry import resolve_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="image file")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for object_NNN.png masks and objects.json (made if missing)")
    parser.add_argument("--models", type=resolve_model, metavar="DIR|NAME",
                        help="a model folder, or the name of an installed model (default: the official model)")
    add_finder_arguments(parser)
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")
    add_precision_argument(parser)


def add_finder_arguments(parser: argparse.ArgumentParser) -> None:
    """The finder's options, SAM's names and defaults (``samcut objects``, ``samcut batch --objects``)."""
    defaults = FinderSettings()
    parser.add_argument("--points-per-side", type=int, default=defaults.points_per_side, metavar="N",
                        help=f"grid of N x N single-point prompts (default {defaults.points_per_side}; SAM's own: 32)")
    parser.add_argument("--pred-iou-thresh", type=float, default=defaults.pred_iou_thresh, metavar="T",
                        help=f"keep masks whose predicted IoU is above T (default {defaults.pred_iou_thresh}; 0: all)")
    parser.add_argument("--stability-score-thresh", type=float, default=defaults.stability_score_thresh,
                        metavar="T", help="keep masks whose stability score is T or more "
                        f"(default {defaults.stability_score_thresh}; 0: all)")
    parser.add_argument("--stability-score-offset", type=float, default=defaults.stability_score_offset,
                        metavar="D", help="logit offset of the stability score "
                        f"(default {defaults.stability_score_offset})")
    parser.add_argument("--box-nms-thresh", type=float, default=defaults.box_nms_thresh, metavar="T",
                        help="drop a mask whose box IoU with a better one is above T "
                        f"(default {defaults.box_nms_thresh})")
    parser.add_argument("--drop-empty", action="store_true", help="samcut: leave out masks with no pixel")
    parser.add_argument("--mask-nms-thresh", type=float, default=0.0, metavar="T",
                        help="samcut: after the box NMS, drop a mask whose mask IoU with a better one is above T "
                        "(default 0: off)")
    parser.add_argument("--max-objects", type=int, default=0, metavar="N", help="write only the best N (0: all)")


def finder_settings(args: argparse.Namespace) -> FinderSettings:
    """The finder's settings from ``samcut objects``' options (``ValueError`` naming the option)."""
    try:
        return FinderSettings(points_per_side=args.points_per_side, pred_iou_thresh=args.pred_iou_thresh,
                              stability_score_thresh=args.stability_score_thresh,
                              stability_score_offset=args.stability_score_offset,
                              box_nms_thresh=args.box_nms_thresh, drop_empty=args.drop_empty,
                              mask_nms_thresh=args.mask_nms_thresh, max_objects=args.max_objects)
    except ValueError as exc:
        message = str(exc)
        for name in vars(FinderSettings()):
            message = message.replace(name, "--" + name.replace("_", "-"))
        raise ValueError(message) from None


def image_objects(image: LoadedImage, models: Path | None = None, cache: bool = True,
                  progress: ProgressBar | None = None, service: SegmentationService | None = None,
                  settings: FinderSettings | None = None) -> tuple[list[FoundObject], tuple[int, int]]:
    """The Object Finder's objects of ``image`` (best first; the fallback when none passed, see
    ``finder``) and the embedding's ``input_size``; from the cache when this image was searched
    before with the same ``settings`` (default: SAM's) (app or CLI). ``service``: one already open
    (``samcut batch``: one per worker), left open."""
    own = service is None
    service = headless_service(models, cache=cache) if service is None else service
    engine = service.engine
    try:
        handle = service.open_image(image.model_rgb())
        embedding = handle.embedding.result()
        objects = service.objects_for(handle, settings)
        if objects is None:
            objects = find_objects(lambda prompts: engine.decode_low_res_batch(embedding, prompts),
                                   embedding.original_size, embedding.input_size, settings, progress=progress)
            service.store_objects(handle, objects, settings)
        elif progress is not None:
            progress(1, 1)
        return objects, embedding.input_size
    finally:
        if own:
            service.close()


def object_mask(obj: FoundObject, input_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """``uint8 H x W`` (0/255) mask of a found object at the image's size: the decoder's own
    logits for it, upsampled as any decoder output."""
    return full_mask(obj.logits(), input_size, size).astype(np.uint8) * 255


def write_objects(out: Path, image_path: Path, size: tuple[int, int], objects: list[FoundObject],
                  input_size: tuple[int, int]) -> list[str]:
    """``object_NNN.png`` for each of ``objects`` that passed the thresholds (best first) and
    ``objects.json`` into the folder ``out``, atomically each; the names written, ``objects.json``
    last (``samcut objects``, ``batch``)."""
    listed = []
    for number, obj in enumerate((obj for obj in objects if obj.passed), 1):
        name = f"object_{number:03d}.png"
        save_mask(out / name, object_mask(obj, input_size, size))
        x0, y0, x1, y1 = obj.box
        listed.append({"file": name, "box": [x0, y0, x1, y1], "bbox": [x0, y0, x1 - x0, y1 - y0], "area": obj.area,
                       "predicted_iou": round(obj.predicted_iou, 6), "stability_score": round(obj.stability, 6),
                       "point": [round(obj.point[0], 3), round(obj.point[1], 3)]})
    text = json.dumps({"image": str(image_path), "objects": listed}, indent=1) + "\n"
    atomic_write(out / "objects.json", lambda fh: fh.write(text.encode()))
    return [entry["file"] for entry in listed] + ["objects.json"]


def run(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out}: is a file, not a folder")
    settings = finder_settings(args)
    image = load_image(args.image)
    args.out.mkdir(parents=True, exist_ok=True)
    objects, input_size = image_objects(image, args.models, not args.no_cache,
                                        ProgressBar("finding objects", unit="points"), settings=settings)
    written = write_objects(args.out, args.image, image.size, objects, input_size)
    print(f"{len(written) - 1} objects in {args.out}")
    if objects and not objects[0].passed:
        best = max(obj.predicted_iou for obj in objects)
        print(f"objects: none passed --pred-iou-thresh {settings.pred_iou_thresh:g} and --stability-score-thresh "
              f"{settings.stability_score_thresh:g} (best predicted IoU {best:.3f}); lower them to list more",
              file=sys.stderr)
    return 0
