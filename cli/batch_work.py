"""One image of ``samcut batch``, and the workers that run many.

``BatchWorker`` opens the model once and then does one image per call with the very functions
``samcut segment`` and ``samcut objects`` use (``load_image``, ``segment_image``, ``subject_mask``,
``image_objects``, ``save_mask``/``save_cutout``, ``write_objects``). Its arguments and results are
plain frozen dataclasses that pickle, so the same object runs inline, in a spawned process of a
pool, or as a Ray actor. It never writes the manifest: it hands a ``JobResult`` back to the one
process that does.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from samcut.cli.objects import image_objects, write_objects
from samcut.cli.segment import segment_image, subject_mask
from samcut.cli.service import headless_service
from samcut.models.document.cutout import save_cutout, save_mask
from samcut.models.document.imageio import load_image
from samcut.models.editor.headless import check_prompt
from samcut.models.engine.finder import FinderSettings
from samcut.models.engine.sam_engine import default_threads
from samcut.models.io.platform import remove_file

MODES = ("subject", "objects", "prompts")
WRITES = ("cutout", "mask", "both")
_OBJECT_FILE = re.compile(r"^object_\d{3,}\.png$")


@dataclass(frozen=True)
class WorkSettings:
    """What every image of a run shares. ``models``: the model folder; ``threads``: ONNX Runtime's
    threads per worker (None: the engine's default); ``mode``: one of ``MODES``; ``write``: one of
    ``WRITES`` (``objects`` writes masks and ``objects.json``)."""

    models: str
    mode: str
    write: str = "cutout"
    threads: int | None = None
    cache: bool = True
    precision: str | None = None
    refine: bool = False
    decontaminate: bool = False
    max_pixels: int | None = None
    max_memory: int | None = None
    finder: FinderSettings = field(default_factory=FinderSettings)
    """The Object Finder's settings (mode ``objects``; SAM's defaults)."""


@dataclass(frozen=True)
class Job:
    """One image: ``path`` to read, outputs named from ``stem`` under ``out_dir``; ``prompt`` (mode
    ``prompts``): ``{"points": [[x, y, label], ...], "box": [x0, y0, x1, y1] | None, "candidate": ...}``."""

    relative: str
    path: str
    out_dir: str
    stem: str
    prompt: dict | None = None


@dataclass(frozen=True)
class JobResult:
    """What became of a job: ``outputs`` relative to the output folder, or ``error`` (one line)."""

    relative: str
    outputs: tuple[str, ...] = ()
    error: str = ""
    seconds: float = 0.0


def planned_outputs(mode: str, write: str, stem: str) -> tuple[str, ...] | None:
    """The files an image gets (POSIX, relative to the output folder): ``stem.png`` (cutout) and/or
    ``stem.mask.png``; None for ``objects``, whose count the image decides (``stem/object_NNN.png``
    and ``stem/objects.json``)."""
    if mode == "objects":
        return None
    return {"cutout": (f"{stem}.png",), "mask": (f"{stem}.mask.png",),
            "both": (f"{stem}.png", f"{stem}.mask.png")}[write]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    known = isinstance(exc, (ValueError, OSError, MemoryError))  # ImageError and PromptError are ValueErrors
    return message if known and message else f"{type(exc).__name__}: {message}".rstrip(": ")


class BatchWorker:
    """Opens the model once (``settings``); each call does one image and never raises for it."""

    def __init__(self, settings: WorkSettings) -> None:
        self.settings = settings
        self.service = headless_service(Path(settings.models), settings.threads, settings.cache, settings.precision)

    def __call__(self, job: Job) -> JobResult:
        """Do ``job``: its outputs written atomically, or the error that stopped it."""
        start = time.perf_counter()
        try:
            outputs = self._work(job)
        except Exception as exc:  # noqa: BLE001 - a bad image is recorded, never ends the run
            return JobResult(job.relative, error=_one_line(exc), seconds=time.perf_counter() - start)
        return JobResult(job.relative, outputs, seconds=time.perf_counter() - start)

    def _work(self, job: Job) -> tuple[str, ...]:
        s = self.settings
        image = load_image(Path(job.path), s.max_pixels, s.max_memory)
        out = Path(job.out_dir)
        if s.mode == "objects":
            folder = out / job.stem
            folder.mkdir(parents=True, exist_ok=True)
            objects, input_size = image_objects(image, None, s.cache, None, self.service, s.finder)
            names = write_objects(folder, Path(job.path), image.size, objects, input_size)
            for old in folder.iterdir():  # masks of an earlier run that found more objects
                if _OBJECT_FILE.match(old.name) and old.name not in names:
                    remove_file(old)
            return tuple(f"{job.stem}/{name}" for name in names)
        if s.mode == "subject":
            mask = subject_mask(image, None, s.cache, service=self.service, show_progress=False)
        else:
            prompt = job.prompt or {}
            points = [tuple(p) for p in prompt.get("points", ())]
            box = tuple(prompt["box"]) if prompt.get("box") is not None else None
            check_prompt(points, box, image.size, "point", "box")
            mask = segment_image(image, points, box, candidate=prompt.get("candidate", "auto"), refine=s.refine,
                                 cache=s.cache, service=self.service)
        outputs = planned_outputs(s.mode, s.write, job.stem)
        (out / job.stem).parent.mkdir(parents=True, exist_ok=True)
        for name in outputs:
            if name.endswith(".mask.png"):
                save_mask(out / name, mask)
            else:
                save_cutout(out / name, image.rgb, mask, image.alpha, s.decontaminate)
        return outputs

    def close(self) -> None:
        """Release the model."""
        self.service.close()


_worker: BatchWorker | None = None  # the one worker of a pool's process


def _start_worker(settings: WorkSettings) -> None:
    global _worker
    _worker = BatchWorker(settings)


def _run_in_worker(job: Job) -> JobResult:
    assert _worker is not None, "the pool's initializer did not run"
    return _worker(job)


def worker_threads(workers: int, threads: int | None) -> int | None:
    """ONNX Runtime threads for each of ``workers`` processes: ``threads`` if given, else the
    engine's default for one worker and ``max(1, cores // workers)`` for more."""
    if threads is not None or workers == 1:
        return threads
    return max(1, default_threads() // workers)


WORKER_DIED = "the worker process ended while on this image or one beside it (out of memory?); a rerun tries again"


def _collect(pending: dict[Future, Job], done: Callable[[Job, JobResult], None]) -> None:
    """Wait for one or more of ``pending`` and hand them to ``done`` (``BrokenProcessPool`` when a
    worker process died: the job stays in ``pending``)."""
    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in finished:
        result = future.result()
        done(pending.pop(future), result)


def _run_pool(settings: WorkSettings, queue: Iterator[Job], workers: int,
              done: Callable[[Job, JobResult], None]) -> bool:
    """Run ``queue`` on one pool of ``workers`` spawned processes; False when one of them died
    (a native crash, the OOM killer): the jobs in flight are handed to ``done`` as failed."""
    context = multiprocessing.get_context("spawn")
    pending: dict[Future, Job] = {}
    answered = 0

    def count(job: Job, result: JobResult) -> None:
        nonlocal answered
        answered += 1
        done(job, result)

    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(settings,)) as pool:
        try:
            for job in queue:
                pending[pool.submit(_run_in_worker, job)] = job
                while len(pending) >= 2 * workers:
                    _collect(pending, count)
            while pending:
                _collect(pending, count)
        except BrokenProcessPool:
            if not answered:  # (the model did not load there: nothing would ever run)
                raise OSError("the worker processes ended before any image was done") from None
            for job in pending.values():
                done(job, JobResult(job.relative, error=WORKER_DIED))
            return False
    return True


def run_jobs(settings: WorkSettings, jobs: Iterable[Job], workers: int,
             done: Callable[[Job, JobResult], None]) -> None:
    """Run ``jobs``, calling ``done(job, result)`` in this process as each finishes (in any order
    with several workers). One worker runs inline; more are spawned processes, each opening the
    model once, with at most two jobs each in flight (a kill loses only those). A worker process
    that dies fails its jobs in flight, and a new pool takes the rest."""
    if workers == 1:
        worker = BatchWorker(settings)
        try:
            for job in jobs:
                done(job, worker(job))
        finally:
            worker.close()
        return
    queue = iter(jobs)
    while not _run_pool(settings, queue, workers, done):
        pass
