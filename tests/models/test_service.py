"""SegmentationService: latest-wins decoding, cancelled encodes, caches, no stale results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from samcut.models.engine import Prompt
from samcut.models.engine.service import EmbeddingDiskCache, SegmentationService


def images(n: int, size=(96, 128)) -> list[np.ndarray]:
    rng = np.random.default_rng(42)
    return [rng.integers(0, 255, (*size, 3), dtype=np.uint8) for _ in range(n)]


def test_synchronous_service_round_trip(engine) -> None:
    service = SegmentationService(engine, synchronous=True)
    handle = service.open_image(images(1)[0])
    result = service.decode(handle, Prompt(points=[(20, 30)], labels=[1])).result()
    assert result.ticket == handle.ticket and result.low_res_logits.shape == (4, 256, 256)
    assert result.default == 1 + int(np.argmax(result.scores[1:]))  # one click: best multimask output
    assert result.original_size == (96, 128)
    service.close()


def test_decode_waits_for_its_embedding_and_latest_wins(engine) -> None:
    service = SegmentationService(engine)
    try:
        handle = service.open_image(images(1, (400, 600))[0])
        futures = [service.decode(handle, Prompt(points=[(10 + i, 20)], labels=[1])) for i in range(8)]
        results = [f.result(timeout=120) for f in futures]
        assert results[-1] is not None and results[-1].generation == max(r.generation for r in results if r)
        assert sum(r is None for r in results) >= 6  # the queued older requests were skipped
    finally:
        service.close()


def test_switching_images_cancels_and_never_mixes(engine) -> None:
    service = SegmentationService(engine)
    try:
        pics = images(20)
        handles = [service.open_image(p) for p in pics]
        final = handles[-1]
        result = service.decode(final, Prompt(points=[(5, 5)], labels=[1])).result(timeout=120)
        assert result.ticket == final.ticket
        cancelled = sum(h.embedding.cancelled() or h.embedding.exception(timeout=120) is not None
                        for h in handles[:-1])
        assert cancelled >= 15
        expected = engine.encode(pics[-1]).features
        np.testing.assert_array_equal(final.embedding.result().features, expected)
    finally:
        service.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("samcut-")]


def test_memory_and_disk_cache(engine, tmp_path, monkeypatch) -> None:
    pic = images(1)[0]
    cache = EmbeddingDiskCache(tmp_path, "model-x")
    service = SegmentationService(engine, disk_cache=cache, synchronous=True)
    first = service.open_image(pic).embedding.result()
    assert len(list((tmp_path / "model-x").glob("*.npz"))) == 1
    calls = []
    monkeypatch.setattr(engine, "encode", lambda *a, **k: calls.append(1))
    assert service.open_image(pic.copy()).embedding.result() is first  # memory hit
    fresh = SegmentationService(engine, disk_cache=cache, synchronous=True)
    again = fresh.open_image(pic).embedding.result()  # disk hit
    np.testing.assert_array_equal(again.features, first.features)
    assert calls == []


def test_closed_service_refuses_work(engine) -> None:
    service = SegmentationService(engine, synchronous=True)
    service.close()
    with pytest.raises(RuntimeError, match="closed"):
        service.open_image(images(1)[0])


def test_regions_are_encoded_decoded_in_their_frame_and_cached(engine, tmp_path) -> None:
    disk = EmbeddingDiskCache(tmp_path, "model-x")
    service = SegmentationService(engine, disk_cache=disk, synchronous=True)
    rgb = images(1, (300, 400))[0]
    image = service.open_image(rgb)
    region = service.open_region(image, rgb[50:170, 100:260], (100, 50))
    assert region.ticket == image.ticket and region.origin == (100, 50) and region.size == (120, 160)
    assert region.box == (100, 50, 260, 170)
    direct = engine.encode(np.ascontiguousarray(rgb[50:170, 100:260]))
    np.testing.assert_array_equal(region.embedding.result().features, direct.features)
    result = service.decode(region, Prompt(points=[(30, 40)], labels=[1])).result()
    assert result.origin == (100, 50) and result.original_size == (120, 160)
    other = service.open_region(image, rgb[:128, :128], (0, 0))
    again = service.open_region(image, rgb[50:170, 100:260], (100, 50))
    assert other.embedding.result() is not region.embedding.result()
    assert again.embedding.result() is region.embedding.result()  # from the cache, not re-encoded
    assert len(list(disk.folder.glob("*.npz"))) == 1  # the image went to disk, its regions did not
    service.close()


def _damage(path, how: str) -> None:
    import zipfile

    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "bit flip":
        with zipfile.ZipFile(path) as z:  # flip a bit inside the stored features, keep the zip valid
            members = {n: z.read(n) for n in z.namelist()}
        raw = bytearray(members["features.npy"])
        raw[len(raw) // 2] ^= 0x10
        members["features.npy"] = bytes(raw)
        with zipfile.ZipFile(path, "w") as z:
            for name, blob in members.items():
                z.writestr(name, blob)
    elif how in ("nan", "wrong size"):
        with np.load(path) as d:
            entry = {k: d[k] for k in d.files}
        if how == "nan":
            entry["features"] = entry["features"].copy()
            entry["features"][0, 0, 0, 0] = np.nan
            from samcut.models.engine.embedding_cache import _features_digest
            entry["checksum"] = np.array(_features_digest(entry["features"]))  # a "valid" checksum of bad data
        else:
            entry["original_size"] = np.array([10, 9999])
        with open(path, "wb") as fh:
            np.savez(fh, **entry)




@pytest.mark.parametrize("how", ["truncated", "empty", "bit flip", "nan", "wrong size"])
def test_a_damaged_disk_cache_entry_is_deleted_and_the_image_encoded_again(tmp_path, how) -> None:
    from fake_engine import FakeEngine

    engine = FakeEngine()
    cache = EmbeddingDiskCache(tmp_path, "model-x")
    pic = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    first = SegmentationService(engine, disk_cache=cache, synchronous=True).open_image(pic).embedding.result()
    (entry,) = cache.folder.glob("*.npz")
    assert cache.get(entry.stem) is not None  # sound before the damage
    _damage(entry, how)
    assert cache.get(entry.stem) is None and not entry.exists()
    again = SegmentationService(engine, disk_cache=cache, synchronous=True).open_image(pic).embedding.result()
    assert engine.encodes == 2 and again.original_size == first.original_size
    assert cache.get(entry.stem) is not None  # written afresh


def test_the_cache_of_a_model_with_external_weights_is_keyed_by_its_weights() -> None:
    """ViT-H's encoder.onnx is its graph alone: two ViT-H weights share it, so the cache folder is named
    by the data file's hash as well (else one model would read the other's embeddings)."""
    from samcut.models.engine.service import model_cache_id

    def manifest(data: str) -> dict:
        return {"files": {"encoder.onnx": {"sha256": "a" * 64}, "encoder.onnx.data": {"sha256": data * 64}}}

    assert model_cache_id(manifest("b")) != model_cache_id(manifest("c"))
    assert model_cache_id({"files": {"encoder.onnx": {"sha256": "a" * 64}}}) == "a" * 16  # as before
