"""The engine as ``samcut segment``, ``samcut objects`` and ``samcut host`` use it: one synchronous
service over the model, sharing the app's embedding disk cache (unless told not to)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from samcut.models.document.preferences import cache_dir, compiled_graphs_dir
from samcut.models.engine import SamEngine
from samcut.models.engine.runtimes import PRECISION_ENV, PRECISIONS, resolve_precision
from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService, model_cache_id
from samcut.models.store.choice import require_chosen_model


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, metavar="fp32|bf16|auto",
                        help="the encoder's arithmetic: fp32 (exact), bf16 (about 2x faster where the CPU computes "
                             "bf16 natively; needs samcut[fast]) or auto (bf16 where it runs; the default; also "
                             f"${PRECISION_ENV})")


def apply_precision(args: argparse.Namespace) -> None:
    """``--precision`` holds for the whole process (the engine reads it as ``SAMCUT_PRECISION``);
    checked at once, so that an impossible bf16 is refused before any image is read."""
    if getattr(args, "precision", None):
        os.environ[PRECISION_ENV] = args.precision
    resolve_precision()


def headless_service(models: Path | None = None, threads: int | None = None, cache: bool = True,
                     precision: str | None = None) -> SegmentationService:
    """A synchronous service on the model in ``models`` (default: ``choice.chosen_model_dir``'s) at
    ``precision`` (default ``SAMCUT_PRECISION`` or auto; bf16 where it cannot run raises
    ``PrecisionUnavailable``); with ``cache``, embeddings (and found objects) come from and go to
    the app's disk cache. The engine's notices (a missing provider) go to stderr."""
    engine = SamEngine(require_chosen_model(models), threads=threads, precision=precision,
                       compile_cache=compiled_graphs_dir() if cache else None)
    for notice in engine.notices:
        print(f"samcut: {notice}", file=sys.stderr)
    disk = EmbeddingDiskCache(cache_dir() / "embeddings", model_cache_id(engine.manifest, engine.cache_tag)) \
        if cache else None
    return SegmentationService(engine, memory_cache=1, disk_cache=disk, synchronous=True)
