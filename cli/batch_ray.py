"""``samcut batch --ray [ADDRESS]``: the same jobs as a local run, through Ray Data.

The driver (this process) plans the run as a local run does (``plan_jobs`` in ``cli/batch.py``)
and hands the jobs to Ray Data's batch-inference pattern: ``from_items`` (one block per image, so
that a result streams back as soon as its image is done and a retry redoes only that image), then
``map_batches`` with an actor pool of ``SamcutActor``, each opening the model once in ``__init__``
and doing its rows in ``__call__`` with the very ``BatchWorker`` of the local run (outputs written
atomically by the actor, where it runs). Results stream back through ``iter_rows`` and the driver
writes each manifest line as it lands, so a kill loses at most the images in flight.

Ray restarts an actor that died (a native crash, the OOM killer) and retries its image there; an
image that kills its actor on every try (``ACTOR_OPTIONS``) is dropped by Ray Data (``max_errored_blocks``)
and recorded as failed, as a local run records the images of a worker process that died.

Ray is imported only here, and only when ``--ray`` is given: ``pip install 'samcut[ray]'``.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from samcut.cli.batch_work import BatchWorker, Job, JobResult, WorkSettings

RAY_MISSING = "--ray needs Ray on this machine: pip install 'samcut[ray]'"
# Tests only: "RELATIVE:MARKER" makes an actor end its process (as the OOM killer would) when it is
# given the image RELATIVE while the file MARKER does not exist yet (it makes MARKER first);
# "RELATIVE:" on every try.
CRASH_ENV = "SAMCUT_BATCH_TEST_CRASH"
# Each actor: restarted whenever it dies (Ray Data's default), its image tried at most 3 times.
# (Ray 2.60 warns that these remote options go in Ray 2.64: the extra pins ray below it.)
ACTOR_OPTIONS = {"max_restarts": -1, "max_task_retries": 2}
JOB_COLUMNS = ("relative", "path", "out_dir", "stem", "prompt")
WORKER_DIED = "the Ray actor ended while on this image, on every try (out of memory?); a rerun tries again"


def require_ray() -> None:
    """``ValueError`` (one line naming the extra) when Ray Data cannot be imported."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        raise ValueError(RAY_MISSING) from None


def job_row(job: Job) -> dict[str, str]:
    """``job`` as a row of plain strings, the prompt as JSON ("" for none)."""
    prompt = json.dumps(job.prompt) if job.prompt is not None else ""
    return {"relative": job.relative, "path": job.path, "out_dir": job.out_dir, "stem": job.stem, "prompt": prompt}


def row_job(row: dict) -> Job:
    """The job a row of ``job_row`` holds."""
    prompt = str(row["prompt"])
    return Job(str(row["relative"]), str(row["path"]), str(row["out_dir"]), str(row["stem"]),
               json.loads(prompt) if prompt else None)


def result_row(row: dict) -> JobResult:
    """The result a row of ``SamcutActor``'s output holds."""
    return JobResult(str(row["relative"]), tuple(json.loads(str(row["outputs"]))), str(row["error"]),
                     float(row["seconds"]))


class SamcutActor:
    """One Ray actor of the pool: the model opened once, then any number of batches of jobs. The
    run's settings are class attributes (``actor_class``): Ray ships the class to every node."""

    settings: WorkSettings
    cwd = ""  # the driver's working folder: relative input paths mean there what they mean locally
    crash = ""  # CRASH_ENV

    def __init__(self) -> None:
        if self.cwd and os.path.isdir(self.cwd):
            os.chdir(self.cwd)
        self.worker = BatchWorker(self.settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each row of ``batch`` (``JOB_COLUMNS``) done: ``relative``, ``outputs`` (a JSON list),
        ``error`` and ``seconds`` per row."""
        results = []
        for index in range(len(batch["relative"])):
            job = row_job({name: batch[name][index] for name in JOB_COLUMNS})
            self._crash_if_asked(job)
            results.append(self.worker(job))
        return {"relative": np.array([r.relative for r in results], dtype=object),
                "outputs": np.array([json.dumps(list(r.outputs)) for r in results], dtype=object),
                "error": np.array([r.error for r in results], dtype=object),
                "seconds": np.array([r.seconds for r in results], dtype=np.float64)}

    def _crash_if_asked(self, job: Job) -> None:
        relative, _, marker = self.crash.partition(":")
        if relative != job.relative:
            return
        if marker:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        os._exit(17)


def actor_class(settings: WorkSettings) -> type[SamcutActor]:
    """``SamcutActor`` bound to ``settings``, this process's working folder and ``CRASH_ENV``."""
    return type("SamcutActor", (SamcutActor,), {"settings": settings, "cwd": os.getcwd(),
                                                "crash": os.environ.get(CRASH_ENV, "")})


def ray_layout(workers: int | None, threads: int | None, cpus: int) -> tuple[int, int]:
    """Actors and ONNX Runtime threads (= CPUs Ray reserves) per actor on a cluster of ``cpus``:
    as asked, else one thread per actor and one actor per CPU, else ``cpus // workers`` threads."""
    if threads is None:
        threads = max(1, cpus // workers) if workers else 1
    return (workers or max(1, cpus // threads)), threads


def _start_ray(address: str) -> bool:
    """Connect to ``address``, or start a Ray on this machine ("" ); False when this process is
    connected already (then it stays so after the run)."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **quiet)
    return True


def _pipeline(jobs: Sequence[Job], settings: WorkSettings, actors: int) -> object:
    """The Ray Data dataset of ``jobs`` (one block each) mapped by ``actors`` ``SamcutActor``."""
    import ray.data

    context = ray.data.DataContext.get_current()
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context.enable_progress_bars = False  # (samcut's own bar counts images)
    context.max_errored_blocks = len(jobs)  # an image that kills every actor it meets is dropped, not fatal
    dataset = ray.data.from_items([job_row(job) for job in jobs], override_num_blocks=len(jobs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (ACTOR_OPTIONS)
        return dataset.map_batches(
            actor_class(settings), batch_size=1, batch_format="numpy", num_cpus=settings.threads,
            compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1), **ACTOR_OPTIONS)


def run_ray_jobs(settings: WorkSettings, jobs: Sequence[Job], address: str, workers: int | None,
                 threads: int | None, done: Callable[[Job, JobResult], None]) -> None:
    """Run ``jobs`` on a pool of ``SamcutActor`` (``ray_layout``) on the Ray at ``address`` ("":
    one started on this machine for the run), calling ``done(job, result)`` here as each lands."""
    import ray

    started = _start_ray(address)
    try:
        actors, per_actor = ray_layout(workers, threads, int(ray.cluster_resources().get("CPU", 1)))
        by_relative = {job.relative: job for job in jobs}
        for row in _pipeline(jobs, replace(settings, threads=per_actor), actors).iter_rows():
            result = result_row(row)
            done(by_relative.pop(result.relative), result)
        for job in by_relative.values():  # (dropped: see ACTOR_OPTIONS)
            done(job, JobResult(job.relative, error=WORKER_DIED))
    except ray.exceptions.RayError as exc:  # (the actors cannot start: the model is not on a node, ...)
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise OSError(f"Ray stopped the run ({lines[-1][:300]}); what was done is in the manifest") from None
    finally:
        if started:
            ray.shutdown()
