"""The engine as ``samcut segment``, ``samcut objects`` and ``samcut host`` use it: one synchronous
service over the model, sharing the app's embedding disk cache (unless told not to)."""

from __future__ import annotations

from pathlib import Path

from samcut.models.document.preferences import cache_dir
from samcut.models.engine import SamEngine
from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService, model_cache_id
from samcut.models.store.registry import model_dir


def headless_service(models: Path | None = None, threads: int | None = None, cache: bool = True) -> SegmentationService:
    """A synchronous service on the model in ``models`` (default: the installed one); with
    ``cache``, embeddings (and found objects) come from and go to the app's disk cache."""
    engine = SamEngine(models or model_dir(), threads=threads)
    disk = EmbeddingDiskCache(cache_dir() / "embeddings", model_cache_id(engine.manifest)) if cache else None
    return SegmentationService(engine, memory_cache=1, disk_cache=disk, synchronous=True)
