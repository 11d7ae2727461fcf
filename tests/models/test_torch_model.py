"""Our torch MobileSAM: strict checkpoint loading and the attention-bias cache."""

from __future__ import annotations

import pytest
import torch

from samcut.models.mobile_sam import CheckpointError, load_mobile_sam
from samcut.models.mobile_sam.tiny_vit import WindowAttention

from reference import reference_dir


@pytest.fixture(scope="module")
def state():
    return torch.load(reference_dir() / "mobile_sam_test.pt", map_location="cpu", weights_only=True)


def test_every_manifest_key_and_shape_is_ours() -> None:
    import json

    from samcut.models.mobile_sam import build_mobile_sam

    manifest = json.loads((reference_dir() / "state_dict_manifest.json").read_text())["keys"]
    ours = {k: list(v.shape) for k, v in build_mobile_sam().state_dict().items()}
    assert set(ours) == set(manifest)
    assert all(ours[k] == manifest[k]["shape"] for k in ours)


def test_loading_rebuilds_the_attention_bias_cache() -> None:
    model = load_mobile_sam(reference_dir() / "mobile_sam_test.pt")
    blocks = [m for m in model.modules() if isinstance(m, WindowAttention)]
    assert len(blocks) == 10
    for attn in blocks:
        assert attn.ab.abs().max() > 0
        torch.testing.assert_close(attn.ab, attn.attention_biases[:, attn.attention_bias_idxs])


@pytest.mark.parametrize("change,message", [
    ("drop", "missing keys"), ("extra", "unexpected keys"), ("shape", "shape mismatches")])
def test_strict_loading_refuses_wrong_checkpoints(state, tmp_path, change, message) -> None:
    broken = dict(state)
    if change == "drop":
        broken.pop("mask_decoder.iou_token.weight")
    elif change == "extra":
        broken["image_encoder.extra.weight"] = torch.zeros(3)
    else:
        broken["prompt_encoder.no_mask_embed.weight"] = torch.zeros(1, 128)
    path = tmp_path / "broken.pt"
    torch.save(broken, path)
    with pytest.raises(CheckpointError, match=message):
        load_mobile_sam(path)


def test_non_checkpoint_file_is_refused(tmp_path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_mobile_sam(path)


def test_pickled_code_is_not_executed(tmp_path) -> None:
    import pickle

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(tmp_path / 'pwned')!r}, 'w').write('pwned')",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"x": Evil()}, fh)
    with pytest.raises(CheckpointError):
        load_mobile_sam(path)
    assert not (tmp_path / "pwned").exists()
