"""Installing a model without torch: the templates filled from a checkpoint equal the torch export."""

from __future__ import annotations

import json
import lzma
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from samcut.cli.main import main
from samcut.models.export.templates import exported_templates, initializers
from samcut.models.io.hashing import file_sha256
from samcut.models.store.convert import ConversionError, convert_checkpoint
from samcut.models.store.onnx_template import decode_template, read_template, template_path

from hostile import hostile_checkpoint
from reference import REPO_ROOT, reference_dir

CHECKPOINT_OF = {"test": lambda: reference_dir() / "mobile_sam_test.pt",
                 "synthetic": lambda: reference_dir() / "synthetic" / "mobile_sam_synthetic.pt"}


@pytest.mark.parametrize("name", ["test", "synthetic"])
def test_conversion_is_the_torch_export_byte_for_byte(name, torch_export_dir, test_model_dir,
                                                       synthetic_model_dir) -> None:
    converted = {"test": test_model_dir, "synthetic": synthetic_model_dir}[name]
    exported = torch_export_dir(name)
    for graph in ("encoder.onnx", "decoder.onnx"):
        assert file_sha256(converted / graph) == file_sha256(exported / graph), graph
    manifest = json.loads((converted / "manifest.json").read_text())
    assert manifest["checkpoint"]["sha256"] == file_sha256(CHECKPOINT_OF[name]())
    assert manifest["converter"]["method"].startswith("onnx templates")


def test_shipped_templates_are_fresh(torch_export_dir) -> None:
    """Regenerated from a torch export of the reference checkpoint, the templates are the shipped ones.

    Fails after any change to the exporter, the torch graphs or the torch version: run
    ``python -m samcut.models.export.templates`` and commit the result.
    """
    exported = torch_export_dir("test")
    made = exported_templates(CHECKPOINT_OF["test"](), exported / "encoder.onnx", exported / "decoder.onnx")
    for graph, data in made.items():
        assert lzma.decompress(data) == lzma.decompress(template_path(graph).read_bytes()), (
            f"{template_path(graph).name} is stale: run python -m samcut.models.export.templates")


LARGE = pytest.mark.large_model


@pytest.mark.parametrize("name", ["sam_vit_b", "sam2.1_hiera_tiny", pytest.param("sam_vit_l", marks=LARGE),
                                  pytest.param("sam_vit_h", marks=LARGE),
                                  pytest.param("sam2.1_hiera_small", marks=LARGE),
                                  pytest.param("sam2.1_hiera_base_plus", marks=LARGE),
                                  pytest.param("sam2.1_hiera_large", marks=LARGE)])
def test_every_model_s_templates_are_fresh(name, made_checkpoint) -> None:
    """Each catalogue model's two templates, exported again from a checkpoint of its manifest, are the
    shipped ones; a decoder template shared by a family (SAM v1's is MobileSAM's) is checked from each.
    Stale: ``python -m samcut.models.export.templates --model NAME CHECKPOINT``."""
    from samcut.models.export.templates import made_templates
    from samcut.models.store.catalogue import spec

    for template, data in made_templates(spec(name), made_checkpoint(name)).items():
        assert lzma.decompress(data) == lzma.decompress(template_path(template).read_bytes()), (
            f"{template_path(template).name} is stale: run python -m samcut.models.export.templates --model {name}")


def test_every_weight_is_a_plain_copy_no_constant_folding(torch_export_dir) -> None:
    """Each initializer of the exported graphs is a checkpoint tensor (nothing derived or folded)."""
    for graph in ("encoder", "decoder"):
        template = read_template(graph)
        names = {name for name, *_ in initializers((torch_export_dir("test") / f"{graph}.onnx").read_bytes())}
        assert {h.name for h in template.holes} == names
    assert len(read_template("encoder").holes) == 271 and len(read_template("decoder").holes) == 137


def test_a_folded_graph_cannot_become_a_template(torch_export_dir) -> None:
    """An initializer whose bytes differ from its checkpoint tensor (what constant folding makes) is refused."""
    from samcut.models.export.templates import encoder_key, make_template
    from samcut.models.store.checkpoint import read_checkpoint

    state = read_checkpoint(CHECKPOINT_OF["test"]())
    name = next(initializers((torch_export_dir("test") / "encoder.onnx").read_bytes()))[0]
    state[encoder_key(name)] = state[encoder_key(name)] * 1.0001
    with pytest.raises(ValueError, match="constant folding"):
        make_template((torch_export_dir("test") / "encoder.onnx").read_bytes(), state, encoder_key, {})


def test_every_tensor_perturbed_gives_the_torch_export(tmp_path) -> None:
    """Weights unlike both references (every tensor changed, stored as non-contiguous views) still match."""
    from samcut.models.export import export_model

    state = torch.load(CHECKPOINT_OF["test"](), map_location="cpu", weights_only=True)
    generator = torch.Generator().manual_seed(7)
    changed = {}
    for key, tensor in state.items():
        if tensor.is_floating_point():
            tensor = tensor + 0.01 * torch.randn(tensor.shape, generator=generator)
            if tensor.dim() == 2:
                tensor = tensor.t().contiguous().t()  # same values, transposed storage
        changed[key] = tensor
    path = tmp_path / "perturbed.pt"
    torch.save({"model": changed}, path)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_model(path, tmp_path / "torch")
    convert_checkpoint(path, tmp_path / "converted")
    for graph in ("encoder.onnx", "decoder.onnx"):
        assert file_sha256(tmp_path / "converted" / graph) == file_sha256(tmp_path / "torch" / graph)


def _wrong_checkpoint(tmp_path: Path, change: str) -> Path:
    state = torch.load(CHECKPOINT_OF["test"](), map_location="cpu", weights_only=True)
    if change == "missing":
        state.pop("mask_decoder.iou_token.weight")
    else:
        state["prompt_encoder.no_mask_embed.weight"] = torch.zeros(1, 128)
    path = tmp_path / f"{change}.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize(("change", "message"), [("missing", "1 tensors missing .first: mask_decoder.iou_token"),
                                                 ("shape", r"no_mask_embed.weight is \(1, 128\), MobileSAM vit_t has "
                                                           r"\(1, 256\)")])
def test_a_checkpoint_of_another_shape_is_refused_and_nothing_is_left(tmp_path, change, message) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match=message):
        convert_checkpoint(_wrong_checkpoint(tmp_path, change), out)
    assert not out.exists()


def test_the_cli_refuses_a_hostile_checkpoint_in_one_line(tmp_path, capsys) -> None:
    path, marker = hostile_checkpoint(tmp_path)
    out = tmp_path / "models"
    assert main(["models", "export", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]
    assert "Traceback" not in err and last.startswith("samcut: ") and "posix.system" in last and "refused" in last
    assert not marker.exists() and not out.exists()


def test_a_failed_conversion_keeps_the_installed_model(tmp_path, test_model_dir) -> None:
    out = tmp_path / "model"
    convert_checkpoint(CHECKPOINT_OF["test"](), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ConversionError):
        convert_checkpoint(_wrong_checkpoint(tmp_path, "missing"), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_damaged_template_is_named(tmp_path) -> None:
    from samcut.models.store.onnx_template import TemplateError

    data = bytearray(template_path("decoder").read_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(TemplateError, match="is damaged"):
        decode_template(bytes(data), "decoder template")


def test_models_export_runs_without_torch_or_onnx(tmp_path) -> None:
    """The CLI's conversion in a Python where importing torch or onnx fails (as in a plain install)."""
    out = tmp_path / "models"
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None; "
            "from samcut.cli.main import main; "
            f"sys.exit(main(['models', 'export', {str(CHECKPOINT_OF['test']())!r}, '--out', {str(out)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    from samcut.models.engine import Prompt, SamEngine

    engine = SamEngine(out)
    image = np.zeros((64, 80, 3), np.uint8)
    prediction = engine.decode(engine.encode(image), Prompt(points=[(40, 30)], labels=[1]))
    assert prediction.masks.shape[1:] == (64, 80) and np.isfinite(prediction.scores).all()


def test_a_graph_with_external_data_becomes_a_template_that_fills_to_the_same_model(torch_export_dir,
                                                                                    tmp_path) -> None:
    """The layout of models over protobuf's 2 GB (SAM ViT-H's encoder), shown on MobileSAM's encoder:
    torch's per-tensor weight files become one data file laid out by the template, and the filled
    graph + data file compute what the inline graph computes."""
    import onnx
    import onnxruntime as ort

    from samcut.models.export.templates import encoder_key, make_external_template
    from samcut.models.store.checkpoint import read_checkpoint
    from samcut.models.store.onnx_template import decode_template, fill_external_data, fill_template

    inline = torch_export_dir("test") / "encoder.onnx"
    exported = tmp_path / "export"
    exported.mkdir()
    onnx.save_model(onnx.load(str(inline)), str(exported / "encoder.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=False, size_threshold=1024)  # torch's layout: a file per tensor
    state = read_checkpoint(CHECKPOINT_OF["test"]())
    template = decode_template(make_external_template(exported / "encoder.onnx", state, encoder_key, {},
                                                      "encoder.onnx.data"))
    assert template.data_file == "encoder.onnx.data" and len(template.holes) == 271
    assert all(h.offset % 65536 == 0 for h in template.holes if h.nbytes >= 1 << 20)
    model = tmp_path / "model"
    model.mkdir()
    with open(model / "encoder.onnx", "wb") as out:
        fill_template(template, state, out)
    with open(model / "encoder.onnx.data", "wb") as out:
        fill_external_data(template, state, out)
    assert (model / "encoder.onnx").stat().st_size < 2_000_000
    image = np.random.default_rng(0).standard_normal((1, 3, 1024, 1024)).astype(np.float32)
    want = ort.InferenceSession(str(inline), providers=["CPUExecutionProvider"]).run(None, {"image": image})[0]
    got = ort.InferenceSession(str(model / "encoder.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"image": image})[0]
    np.testing.assert_array_equal(got, want)
