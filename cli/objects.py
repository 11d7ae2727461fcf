"""``samcut objects IMAGE --out DIR``: the Object Finder's objects as mask files, best first.

DIR gets ``object_001.png`` ... (8-bit grey masks at the image's size) and ``objects.json``:
for each object its file, box ``[x0, y0, x1, y1]``, area in pixels and score (predicted IoU x
stability), best first. ``samcut segment IMAGE --subject`` uses the same objects for the main
subject. The objects are cached with the image's embedding, as in the app.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from samcut.cli.progress import ProgressBar
from samcut.cli.service import add_precision_argument, headless_service
from samcut.models.document.cutout import save_mask
from samcut.models.document.imageio import LoadedImage, load_image
from samcut.models.engine.finder import FoundObject, find_objects
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
    parser.add_argument("--max-objects", type=int, default=0, metavar="N", help="write only the best N (0: all)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")
    add_precision_argument(parser)


def image_objects(image: LoadedImage, models: Path | None = None, cache: bool = True,
                  progress: ProgressBar | None = None, service: SegmentationService | None = None,
                  ) -> tuple[list[FoundObject], tuple[int, int]]:
    """The Object Finder's objects of ``image`` (best first) and the embedding's ``input_size``;
    from the cache when this image was searched before (app or CLI). ``service``: one already open
    (``samcut batch``: one per worker), left open."""
    own = service is None
    service = headless_service(models, cache=cache) if service is None else service
    engine = service.engine
    try:
        handle = service.open_image(image.model_rgb())
        embedding = handle.embedding.result()
        objects = service.objects_for(handle)
        if objects is None:
            objects = find_objects(lambda prompts: engine.decode_low_res_batch(embedding, prompts),
                                   embedding.original_size,
                                   embedding.input_size, progress=progress)
            service.store_objects(handle, objects)
        elif progress is not None:
            progress(1, 1)
        return objects, embedding.input_size
    finally:
        if own:
            service.close()


def object_mask(obj: FoundObject, input_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """``uint8 H x W`` (0/255) mask of a found object at the image's size."""
    return full_mask(obj.logits(), input_size, size).astype(np.uint8) * 255


def write_objects(out: Path, image_path: Path, size: tuple[int, int], objects: list[FoundObject],
                  input_size: tuple[int, int]) -> list[str]:
    """``object_NNN.png`` for each of ``objects`` (best first) and ``objects.json`` into the folder
    ``out``, atomically each; the names written, ``objects.json`` last (``samcut objects``, ``batch``)."""
    listed = []
    for number, obj in enumerate(objects, 1):
        name = f"object_{number:03d}.png"
        save_mask(out / name, object_mask(obj, input_size, size))
        listed.append({"file": name, "box": list(obj.box), "area": obj.area, "score": round(obj.score, 4)})
    text = json.dumps({"image": str(image_path), "objects": listed}, indent=1) + "\n"
    atomic_write(out / "objects.json", lambda fh: fh.write(text.encode()))
    return [entry["file"] for entry in listed] + ["objects.json"]


def run(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out}: is a file, not a folder")
    if args.max_objects < 0:
        raise ValueError("--max-objects must be 0 (all) or more")
    image = load_image(args.image)
    args.out.mkdir(parents=True, exist_ok=True)
    objects, input_size = image_objects(image, args.models, not args.no_cache,
                                        ProgressBar("finding objects", unit="points"))
    if args.max_objects:
        objects = objects[:args.max_objects]
    written = write_objects(args.out, args.image, image.size, objects, input_size)
    print(f"{len(written) - 1} objects in {args.out}")
    return 0
