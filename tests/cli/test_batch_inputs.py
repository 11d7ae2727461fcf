"""The batch's model layer without a model: input listing, shards, the manifest."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from samcut.models.batch.inputs import list_inputs, parse_shard, select_shard, shard_number
from samcut.models.batch.manifest import DONE, FAILED, Entry, ManifestWriter, merge_manifests, read_entries


def image(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4)).save(path)


def test_folders_globs_and_files_list_images_once_sorted(tmp_path) -> None:
    root = tmp_path / "photos"
    for name in ("b.png", "a.jpg", "deep/c.png", "deep/er/d.webp", ".hidden.png", ".cache/e.png"):
        image(root / name)
    (root / "notes.txt").write_text("no image")
    top = [i.relative for i in list_inputs([str(root)])]
    assert top == ["a.jpg", "b.png"]
    every = list_inputs([str(root)], recursive=True)
    assert [i.relative for i in every] == ["a.jpg", "b.png", "deep/c.png", "deep/er/d.webp"]
    assert [i.stem for i in every][-1] == "deep/er/d"
    globbed = list_inputs([str(root / "**" / "*.png"), str(root / "b.png")])
    assert [i.relative for i in globbed] == ["b.png", "deep/c.png"]  # b.png once, named by the glob first
    assert [i.relative for i in list_inputs([str(root / "deep" / "c.png")])] == ["c.png"]


def test_output_folder_inside_the_input_is_not_listed(tmp_path) -> None:
    image(tmp_path / "a.png")
    image(tmp_path / "out" / "a.png")
    assert [i.relative for i in list_inputs([str(tmp_path)], True, exclude=tmp_path / "out")] == ["a.png"]


@pytest.mark.parametrize("names,message", [
    (["x/a.png", "x/a.jpg"], "would write the same outputs"),
    (["x/a.png", "y/a.png"], "would write the same outputs"),
])
def test_inputs_whose_outputs_collide_are_refused(tmp_path, names, message) -> None:
    for name in names:
        image(tmp_path / name)
    specs = sorted({str(tmp_path / name.split("/")[0]) for name in names})
    with pytest.raises(ValueError, match=message):
        list_inputs(specs)


def test_inputs_that_name_nothing_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="no such file or folder"):
        list_inputs([str(tmp_path / "none")])
    with pytest.raises(ValueError, match="matches no image"):
        list_inputs([str(tmp_path / "*.png")])


def test_shards_split_deterministically_and_completely() -> None:
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    from samcut.models.batch.inputs import BatchInput

    items = [BatchInput(__import__("pathlib").Path(f"{n}.png"), f"dir/{n}.png") for n in range(200)]
    shards = [select_shard(items, index, 3) for index in (1, 2, 3)]
    assert sorted(i.relative for shard in shards for i in shard) == sorted(i.relative for i in items)
    assert all(40 < len(shard) < 95 for shard in shards)  # a hash, not everything in one
    assert shard_number("dir/7.png", 3) == shard_number("dir/7.png", 3)
    assert shard_number("a/b.png", 5) == 1  # fixed forever: a shard keeps its images across machines


def entry(relative: str, status: str = DONE, finished: float = 1.0) -> Entry:
    return Entry(relative, f"/in/{relative}", 10, 20, "model#abc", {"mode": "subject"}, (f"{relative}.png",),
                 status, "" if status == DONE else "bad image", 0.5, finished)


def test_manifest_survives_a_torn_line_and_keeps_the_newest_entry(tmp_path) -> None:
    with ManifestWriter(tmp_path) as writer:
        writer.record(entry("a", FAILED))
        writer.record(entry("b"))
        writer.record(entry("a"))
    path = tmp_path / "manifest.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"relative": "c", "inp')  # a kill in the middle of a line
    assert read_entries(path) == {"a": entry("a"), "b": entry("b")}
    with ManifestWriter(tmp_path) as writer:  # opening rewrites it whole: no torn line to append after
        assert path.read_bytes().endswith(b"}\n") and len(path.read_bytes().splitlines()) == 2
        writer.record(entry("c"))
    assert sorted(read_entries(path)) == ["a", "b", "c"]


def test_one_writer_per_manifest(tmp_path) -> None:
    with ManifestWriter(tmp_path), pytest.raises(ValueError, match="another samcut batch is writing"):
        ManifestWriter(tmp_path)
    ManifestWriter(tmp_path).close()  # free again


def test_is_current_needs_the_same_input_options_and_outputs(tmp_path) -> None:
    done = entry("a")
    (tmp_path / "a.png").write_bytes(b"x")
    assert done.is_current(10, 20, "model#abc", {"mode": "subject"}, ("a.png",), tmp_path)
    assert done.is_current(10, 20, "model#abc", {"mode": "subject"}, None, tmp_path)
    assert not done.is_current(11, 20, "model#abc", {"mode": "subject"}, ("a.png",), tmp_path)
    assert not done.is_current(10, 21, "model#abc", {"mode": "subject"}, ("a.png",), tmp_path)
    assert not done.is_current(10, 20, "model#xyz", {"mode": "subject"}, ("a.png",), tmp_path)
    assert not done.is_current(10, 20, "model#abc", {"mode": "objects"}, ("a.png",), tmp_path)
    os.remove(tmp_path / "a.png")
    assert not done.is_current(10, 20, "model#abc", {"mode": "subject"}, ("a.png",), tmp_path)
    assert not entry("a", FAILED).is_current(10, 20, "model#abc", {"mode": "subject"}, (), tmp_path)


def test_merge_takes_each_images_latest_entry(tmp_path) -> None:
    for index, entries in ((1, [entry("a", FAILED, 1.0), entry("b")]), (2, [entry("a", DONE, 2.0), entry("c")])):
        with ManifestWriter(tmp_path, f"manifest.shard-{index}-of-2.jsonl") as writer:
            for item in entries:
                writer.record(item)
    merged = merge_manifests(tmp_path)
    assert sorted(merged) == ["a", "b", "c"] and merged["a"].status == DONE
    assert read_entries(tmp_path / "manifest.jsonl") == merged
    with pytest.raises(ValueError, match="no manifest"):
        merge_manifests(tmp_path / "empty")
