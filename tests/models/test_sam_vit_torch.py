"""Our torch SAM v1 (ViT): the official state-dict layout, strict loading, the golden embeddings of the
generated ``vit_b`` checkpoint, and its ONNX export against torch."""

from __future__ import annotations

import json
import warnings

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

from samcut.models.engine.preprocess import encoder_input  # noqa: E402
from samcut.models.sam_vit import SAM_VIT_CONFIGS, CheckpointError, build_sam_vit, load_sam_vit  # noqa: E402
from samcut.models.sam_vit.image_encoder import GLOBAL_CHUNK_ROWS, RelPosAttention  # noqa: E402

from reference import generated_goldens, reference_dir  # noqa: E402

GOLDEN_TOL = 1e-4
ONNX_TOL = 1e-3


@pytest.mark.parametrize("size", list(SAM_VIT_CONFIGS))
def test_every_manifest_key_and_shape_is_ours(size: str) -> None:
    manifest = json.loads((reference_dir() / "sam_vit_b" / f"manifest_{size}.json").read_text())["keys"]
    with torch.device("meta"):  # structure only: vit_h would allocate 2.6 GB
        ours = {k: list(v.shape) for k, v in build_sam_vit(size).state_dict().items()}
    assert list(ours) == list(manifest)  # same keys, in the official order
    assert [k for k in ours if ours[k] != manifest[k]["shape"]] == []


@pytest.fixture(scope="module")
def model(made_checkpoint):
    return load_sam_vit(made_checkpoint("sam_vit_b"), "vit_b")


@pytest.fixture(scope="module")
def golden():
    """The astronaut crop (512 x 173, so 1024 x 346 and mostly padding): encoder input and golden embedding."""
    data = np.load(next(p for p in generated_goldens("sam_vit_b") if p.stem == "astronaut_crop_512x173"))
    return encoder_input(data["image"])[0], data["embedding"]


@pytest.fixture(scope="module")
def torch_embedding(model, golden) -> np.ndarray:
    with torch.no_grad():
        return model.image_encoder(torch.from_numpy(golden[0])).numpy()


def test_embedding_matches_the_official_code(torch_embedding, golden) -> None:
    diff = float(np.abs(torch_embedding - golden[1]).max())
    assert diff < GOLDEN_TOL, diff  # measured 5.7e-6


def test_chunked_global_attention_is_whole_attention() -> None:
    """Global attention's query-row chunks (what bounds ONNX Runtime's memory) change nothing, a short
    last chunk included."""
    torch.manual_seed(5)
    attn = RelPosAttention(dim=64, num_heads=2, size=64, chunk_rows=None)
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(0.3 * torch.randn_like(p))
        x = torch.randn(1, 64, 64, 64)
        whole = attn(x)
        for rows in (GLOBAL_CHUNK_ROWS, 5):
            attn.chunk_rows = rows
            assert float((attn(x) - whole).abs().max()) < 1e-5


def test_strict_loading_names_the_wrong_size(made_checkpoint) -> None:
    with pytest.raises(CheckpointError, match=r"not a SAM vit_l checkpoint: .*missing keys.*shape mismatches"):
        load_sam_vit(made_checkpoint("sam_vit_b"), "vit_l")


def test_non_checkpoint_file_is_refused(tmp_path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_sam_vit(path, "vit_b")


def test_onnx_export_matches_torch(model, made_checkpoint, golden, torch_embedding, tmp_path) -> None:
    """The encoder graph in ONNX Runtime gives torch's embedding; every initializer is a plain copy of
    a checkpoint tensor (the weightless templates need that); the MobileSAM decoder export and parity
    check serve SAM v1 as they are."""
    import onnxruntime as ort

    from samcut.models.export.onnx_export import DECODER_TOL, DecoderGraph, _decoder_samples, export_decoder
    from samcut.models.export.sam_vit_export import export_sam_vit_encoder
    from samcut.models.export.templates import encoder_key, initializers
    from samcut.models.store.checkpoint import read_checkpoint

    encoder, decoder = tmp_path / "encoder.onnx", tmp_path / "decoder.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_sam_vit_encoder(model, encoder)
        export_decoder(model, decoder)

    state = read_checkpoint(made_checkpoint("sam_vit_b"))
    graph = encoder.read_bytes()
    names = []
    for name, _, _, start, end in initializers(graph):
        names.append(encoder_key(name))
        assert state[encoder_key(name)].tobytes() == graph[start:end], name
    assert sorted(names) == sorted(k for k in state if k.startswith("image_encoder."))
    del graph, state

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    got = ort.InferenceSession(str(encoder), options, providers=["CPUExecutionProvider"]).run(
        None, {"image": golden[0]})[0]
    assert got.shape == (1, 256, 64, 64)
    assert float(np.abs(got - torch_embedding).max()) < ONNX_TOL

    session = ort.InferenceSession(str(decoder), options, providers=["CPUExecutionProvider"])
    reference = DecoderGraph(model, token_major=False).eval()
    for feeds in _decoder_samples(torch_embedding):
        with torch.no_grad():
            want = reference(*(torch.from_numpy(v) for v in feeds.values()))
        for got_part, want_part in zip(session.run(None, feeds), want, strict=True):
            assert float(np.abs(got_part - want_part.numpy()).max()) < DECODER_TOL
