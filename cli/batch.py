"""``samcut batch INPUT... --out DIR``: many images, resumable, in several processes or shards.

Each image goes through ``BatchWorker`` (``cli/batch_work.py``: the functions of ``segment`` and
``objects``); this module lists the inputs, skips what the manifest says is done and still valid
(``plan_jobs``), runs the rest in this process, in worker processes or through Ray
(``cli/batch_ray.py``) and records every result in the manifest as it lands
(``models/batch/manifest.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from samcut.cli.batch_work import (
    WRITES,
    Job,
    JobResult,
    WorkSettings,
    planned_outputs,
    run_jobs,
    worker_threads,
)
from samcut.cli.objects import add_finder_arguments, finder_settings
from samcut.cli.progress import ProgressBar
from samcut.cli.segment import memory_size, parse_box, parse_point, positive_int
from samcut.cli.service import add_precision_argument
from samcut.models.batch.inputs import BatchInput, file_signature, list_inputs, parse_shard, select_shard
from samcut.models.batch.manifest import DONE, FAILED, Entry, ManifestWriter, manifest_name, merge_manifests
from samcut.models.editor.headless import CANDIDATES
from samcut.models.engine.finder import FinderSettings
from samcut.models.engine.runtimes import resolve_precision
from samcut.models.io.hashing import file_sha256
from samcut.models.store.choice import QUALITY, answering_model, require_chosen_model
from samcut.models.store.registry import resolve_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders or globs ('**' crosses "
                        "folders); the outputs mirror their tree under --out")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (made if missing); holds the manifest")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--subject", action="store_true", help="each image's main subject (as segment --subject)")
    mode.add_argument("--objects", action="store_true",
                      help="each image's objects: DIR/NAME/object_NNN.png and objects.json (as samcut objects)")
    mode.add_argument("--prompts", type=Path, metavar="FILE",
                      help='JSON lines {"image": PATH, "points": [[x, y, label], ...], "box": [x0, y0, x1, y1], '
                           '"mode": "auto|best|single"}; a relative PATH is taken from FILE\'s folder')
    add_finder_arguments(parser)  # (with --objects: as samcut objects)
    parser.add_argument("--write", choices=WRITES,
                        help="NAME.png (cutout with alpha), NAME.mask.png (8-bit grey) or both (default: cutout)")
    parser.add_argument("--recursive", action="store_true", help="list folders' subfolders too")
    parser.add_argument("--workers", type=positive_int(1, 256), metavar="N",
                        help="processes, each opening the model once with cores/N threads (default 1); with "
                             "--ray, Ray actors (default: the cluster's CPUs / --threads)")
    parser.add_argument("--shard", metavar="I/N", help="do only shard I of N (counted from 1); each shard writes "
                        "manifest.shard-I-of-N.jsonl, 'samcut batch --merge DIR' combines them")
    parser.add_argument("--merge", type=Path, metavar="DIR", help="combine DIR's shard manifests into manifest.jsonl")
    parser.add_argument("--models", type=resolve_model, metavar="DIR|NAME",
                        help="a model folder, or the name of an installed model (default: the official model)")
    parser.add_argument("--quality", nargs="?", const=QUALITY, metavar="NAME", help="as in samcut segment")
    parser.add_argument("--refine", action="store_true", help="with --prompts: snap edges as segment --refine")
    parser.add_argument("--decontaminate", action="store_true", help="as segment --decontaminate")
    parser.add_argument("--max-pixels", type=positive_int(1, 10**10), metavar="N",
                        help="refuse (record as failed) images larger than N pixels")
    parser.add_argument("--max-memory", type=memory_size, metavar="SIZE", help="as segment --max-memory")
    parser.add_argument("--threads", type=positive_int(1, 256), metavar="N",
                        help="ONNX Runtime threads per worker; with --ray also the CPUs Ray reserves for each actor "
                             "(default: the cluster's CPUs / --workers, or 1)")
    parser.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                        help="run through Ray Data: a local Ray on this machine, or the cluster at ADDRESS "
                             "('auto', HOST:6379, ray://HOST:10001); needs pip install 'samcut[ray]'")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")
    add_precision_argument(parser)


def read_prompts(path: Path, inputs: list[BatchInput]) -> dict[str, dict]:
    """``--prompts``: each line's prompt keyed by the input it names, checked as segment checks
    ``--point`` and ``--box`` (``ValueError`` naming the line; bounds are checked per image)."""
    by_path = {item.path.resolve(): item.relative for item in inputs}
    prompts: dict[str, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--prompts {path}: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"--prompts {path}, line {number}"
        try:
            data = json.loads(line)
            image = (path.parent / data["image"]).resolve()
            points = [parse_point(",".join(str(v) for v in p)) for p in data.get("points") or ()]
            box = parse_box(",".join(str(v) for v in data["box"])) if data.get("box") is not None else None
            candidate = data.get("mode", "auto")
        except (ValueError, KeyError, TypeError, argparse.ArgumentTypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        if candidate not in CANDIDATES:
            raise ValueError(f"{where}: mode must be one of {', '.join(CANDIDATES)}")
        if not points and box is None:
            raise ValueError(f"{where}: give points, a box or both")
        if image not in by_path:
            raise ValueError(f"{where}: {data['image']} is not among the inputs")
        if by_path[image] in prompts:
            raise ValueError(f"{where}: a second prompt for {data['image']}")
        prompts[by_path[image]] = {"points": [list(p) for p in points], "box": list(box) if box else None,
                                   "candidate": candidate}
    return prompts


def model_identity(folder: Path) -> str:
    """The model as the manifest names it: its folder and its manifest's hash (a model exported
    again into the same folder is another model)."""
    return f"{folder.resolve()}#{file_sha256(folder / 'manifest.json')[:16]}"


class BatchProgress:
    """The progress bar, its label carrying images/s and the time left."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.bar = ProgressBar("batch", unit="images")

    def step(self) -> None:
        self.done += 1
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = self.done / elapsed
        left = int((self.total - self.done) / rate)
        self.bar.label = f"batch {rate:5.2f} images/s, ETA {left // 60}:{left % 60:02d}"
        self.bar(self.done, self.total)


def check_arguments(args: argparse.Namespace) -> str:
    """Usage errors (``ValueError``) before anything is read; the mode."""
    if not args.inputs:
        raise ValueError("batch: give the images (files, folders or globs)")
    if args.out is None:
        raise ValueError("batch: give --out DIR")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out}: is a file, not a folder")
    mode = "subject" if args.subject else "objects" if args.objects else "prompts" if args.prompts else None
    if mode is None:
        raise ValueError("batch: give --subject, --objects or --prompts FILE")
    if mode == "objects" and args.write is not None:
        raise ValueError("batch: --objects writes masks and objects.json; leave --write out")
    args.write = args.write or "cutout"
    if args.refine and mode != "prompts":
        raise ValueError("batch: --refine goes with --prompts")
    if mode != "objects" and finder_settings(args) != FinderSettings():
        raise ValueError("batch: the Object Finder's options (--pred-iou-thresh ...) go with --objects")
    return mode


def summarise(entries: list[Entry], skipped: int, manifest: Path) -> int:
    """Print what happened (failures to stderr); 1 when an image failed, else 0."""
    failed = [e for e in entries if e.status == FAILED]
    for entry in failed:
        print(f"samcut: {entry.relative}: {entry.error}", file=sys.stderr)
    done = len(entries) - len(failed)
    print(f"{len(entries) + skipped} images: {done} done, {skipped} already done, {len(failed)} failed "
          f"(manifest: {manifest})")
    return 1 if failed else 0


def run_merge(folder: Path) -> int:
    """``--merge DIR``."""
    merged = merge_manifests(folder)
    failed = sum(1 for entry in merged.values() if entry.status != DONE)
    print(f"{len(merged)} images in {folder / 'manifest.jsonl'}: {len(merged) - failed} done, {failed} failed")
    return 1 if failed else 0


@dataclass(frozen=True)
class Planned:
    """One listed image: what its manifest entry records (``size``/``mtime_ns`` of the input,
    ``options``) and its ``job``, or the ``error`` that refuses it before any work."""

    item: BatchInput
    size: int
    mtime_ns: int
    options: dict
    job: Job | None = None
    error: str = ""


@dataclass(frozen=True)
class Plan:
    """What a run does: ``todo`` (each with a job), ``refused`` (each with an error, recorded as
    failed without work) and how many images the manifest says are done and still valid."""

    todo: list[Planned]
    refused: list[Planned]
    skipped: int


def plan_jobs(inputs: list[BatchInput], out: Path, base: dict, entries: dict[str, Entry], model: str,
              prompts: dict[str, dict] | None = None, prompts_file: Path | None = None) -> Plan:
    """The run's work, shared by the local and the Ray run: every input not done yet (``entries``,
    the manifest as read) under this ``model`` and these options (``base``: ``mode``, ``write`` and
    the rest; in mode ``prompts`` each image's prompt from ``prompts_file``, as read into
    ``prompts``) becomes a job writing under ``out``."""
    mode, write, prompts = base["mode"], base["write"], prompts or {}
    todo: list[Planned] = []
    refused: list[Planned] = []
    skipped = 0
    for item in inputs:
        options = {**base, "prompt": prompts.get(item.relative)} if mode == "prompts" else base
        try:
            size, mtime = file_signature(item.path)
        except OSError as exc:
            refused.append(Planned(item, 0, 0, options, error=str(exc)))
            continue
        if mode == "prompts" and options["prompt"] is None:
            refused.append(Planned(item, size, mtime, options, error=f"no prompt in {prompts_file}"))
            continue
        entry = entries.get(item.relative)
        if entry is not None and entry.is_current(size, mtime, model, options,
                                                  planned_outputs(mode, write, item.stem), out):
            skipped += 1
            continue
        job = Job(item.relative, str(item.path), str(out), item.stem, options.get("prompt"))
        todo.append(Planned(item, size, mtime, options, job))
    return Plan(todo, refused, skipped)


def _layout(args: argparse.Namespace) -> tuple[int, int | None]:
    """Local runs: the worker count (default 1) and each worker's ONNX Runtime threads."""
    workers = args.workers or 1
    return workers, worker_threads(workers, args.threads)


def run(args: argparse.Namespace) -> int:
    if args.merge is not None:
        if args.inputs or args.out:
            raise ValueError("batch: --merge DIR goes alone")
        return run_merge(args.merge)
    mode = check_arguments(args)
    if args.ray is not None:
        from samcut.cli.batch_ray import require_ray

        require_ray()
    shard = parse_shard(args.shard) if args.shard else None
    everything = list_inputs(args.inputs, args.recursive, exclude=args.out)
    prompts = read_prompts(args.prompts, everything) if args.prompts else {}
    inputs = select_shard(everything, *shard) if shard else everything
    if args.quality is not None:
        args.models = answering_model(args.models, args.quality)
    model_dir = require_chosen_model(args.models)
    workers, threads = _layout(args)
    settings = WorkSettings(str(model_dir), mode, args.write, threads, not args.no_cache, resolve_precision(),
                            args.refine, args.decontaminate, args.max_pixels, args.max_memory, finder_settings(args))
    model = model_identity(model_dir)
    base = {"mode": mode, "write": args.write, "refine": args.refine, "decontaminate": args.decontaminate,
            "precision": settings.precision}
    if mode == "objects":  # (other thresholds: other objects, done again)
        base["finder"] = json.loads(settings.finder.key())
    args.out.mkdir(parents=True, exist_ok=True)
    with ManifestWriter(args.out, manifest_name(shard)) as manifest:
        plan = plan_jobs(inputs, args.out, base, manifest.entries, model, prompts, args.prompts)
        recorded: list[Entry] = []

        def record(planned: Planned, result: JobResult) -> None:
            entry = Entry(planned.item.relative, str(planned.item.path), planned.size, planned.mtime_ns, model,
                          planned.options, result.outputs, FAILED if result.error else DONE, result.error,
                          round(result.seconds, 3), time.time())
            manifest.record(entry)
            recorded.append(entry)

        for planned in plan.refused:
            record(planned, JobResult(planned.item.relative, error=planned.error))
        by_relative = {planned.item.relative: planned for planned in plan.todo}
        progress = BatchProgress(len(plan.todo))

        def done(job: Job, result: JobResult) -> None:
            record(by_relative[job.relative], result)
            progress.step()

        jobs = [planned.job for planned in plan.todo if planned.job is not None]
        if jobs and args.ray is not None:
            from samcut.cli.batch_ray import run_ray_jobs

            run_ray_jobs(settings, jobs, args.ray, args.workers, args.threads, done)
        elif jobs:
            run_jobs(settings, jobs, workers, done)
    return summarise(recorded, plan.skipped, manifest.path)
