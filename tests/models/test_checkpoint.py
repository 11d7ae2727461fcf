"""The torch-free checkpoint reader: the same tensors as ``torch.load``, hostile pickles refused."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import torch

from samcut.models.store.checkpoint import ALLOWED_GLOBALS, CheckpointError, read_checkpoint

from hostile import hostile_checkpoint
from reference import reference_dir, synthetic_dir


def _as_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def _assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key, tensor in want.items():
        expected = _as_numpy(tensor)
        assert got[key].shape == expected.shape and got[key].dtype == expected.dtype, key
        assert got[key].flags.c_contiguous and np.array_equal(got[key], expected), key


@pytest.mark.parametrize("path", [lambda: reference_dir() / "mobile_sam_test.pt",
                                  lambda: synthetic_dir() / "mobile_sam_synthetic.pt"], ids=["test", "synthetic"])
def test_reference_checkpoints_equal_torch_load(path) -> None:
    _assert_same(read_checkpoint(path()), torch.load(path(), map_location="cpu", weights_only=True))


def odd_state() -> dict[str, torch.Tensor]:
    """Tensors torch stores in unusual ways: views into shared storages, 0-d, other dtypes."""
    base = torch.arange(24, dtype=torch.float32)
    return {
        "transposed": base[:12].reshape(3, 4).t(),          # non-contiguous view
        "offset_view": base[5:11],                           # shares base's storage at an offset
        "scalar": torch.tensor(3.5),                         # 0-d must stay 0-d
        "empty": torch.zeros(0, 3),
        "bf16": torch.linspace(-2, 2, 7, dtype=torch.bfloat16),
        "half": torch.randn(2, 3, generator=torch.Generator().manual_seed(1)).half(),
        "double": torch.randn(4, generator=torch.Generator().manual_seed(2)).double(),
        "long": torch.arange(10, dtype=torch.int64)[2:9:3],
        "flags": torch.tensor([True, False, True]),
        "parameter": torch.nn.Parameter(torch.ones(2, 2) * 0.25),
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("wrapper", [None, "model", "state_dict"])
def test_both_torch_formats_and_wrappers(tmp_path, legacy, wrapper) -> None:
    state = odd_state()
    path = tmp_path / "odd.pt"
    torch.save({wrapper: state} if wrapper else state, path, _use_new_zipfile_serialization=not legacy)
    got = read_checkpoint(path)
    _assert_same(got, state)
    assert got["scalar"].shape == ()


def test_big_endian_zip_is_read(tmp_path) -> None:
    """A checkpoint written on a big-endian machine records ``byteorder`` = big and swaps its storages."""
    state = {"w": torch.randn(3, 5, generator=torch.Generator().manual_seed(3)), "n": torch.tensor(7)}
    little = tmp_path / "little.pt"
    torch.save(state, little)
    big = tmp_path / "big.pt"
    with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in info.filename and not info.filename.endswith("serialization_id"):
                width = 8 if len(data) == 8 else 4  # the int64 scalar, else float32
                data = np.frombuffer(data, f"<{'i8' if width == 8 else 'f4'}").byteswap().tobytes()
            dst.writestr(info, data)
    _assert_same(read_checkpoint(big), state)


def test_missing_byteorder_record_means_little_endian(tmp_path) -> None:
    state = {"w": torch.arange(6, dtype=torch.float32)}
    path, stripped = tmp_path / "a.pt", tmp_path / "old.pt"
    torch.save(state, path)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stripped, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("/byteorder"):
                dst.writestr(info, src.read(info))
    _assert_same(read_checkpoint(stripped), state)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_pickle_that_calls_os_system_is_refused_and_never_runs(tmp_path, legacy) -> None:
    path, marker = hostile_checkpoint(tmp_path, legacy)
    with pytest.raises(CheckpointError, match=r"evil\.pt: .*asks for posix\.system.*refused"):
        read_checkpoint(path)
    assert not marker.exists()


def test_a_plain_pickle_with_code_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Exec:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w')",))

    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"x": Exec()}))
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
    assert not marker.exists()


def test_the_allow_list_is_only_tensor_machinery() -> None:
    modules = {module for module, _ in ALLOWED_GLOBALS}
    assert modules == {"collections", "torch._utils", "torch"}
    assert all(name.endswith("Storage") for module, name in ALLOWED_GLOBALS if module == "torch")


def _rewrite(path, out, change) -> None:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info, data)


def test_damaged_checkpoints_get_one_line_errors(tmp_path) -> None:
    path = tmp_path / "ok.pt"
    torch.save({"w": torch.arange(8, dtype=torch.float32)}, path)
    cases = {
        "truncated storage": (lambda name, data: data[:-4] if name.endswith("/data/0") else data,
                              "storage 0 holds 28 bytes, its header says 32"),
        "missing storage": (lambda name, data: None if name.endswith("/data/0") else data,
                            "storage 0 is missing"),
        "view past its storage": (lambda name, data: data.replace(b"K\x08\x85", b"K\x09\x85")  # size (8,) -> (9,)
                                  if name.endswith("data.pkl") else data, r"size \(9,\).*reaches past .* 8 elements"),
    }
    for label, (change, message) in cases.items():
        bad = tmp_path / f"{label.replace(' ', '_')}.pt"
        _rewrite(path, bad, change)
        with pytest.raises(CheckpointError, match=message) as caught:
            read_checkpoint(bad)
        assert "\n" not in str(caught.value) and str(caught.value).startswith(str(bad)), label
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="not a"):
        read_checkpoint(cut)
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_checkpoint(tmp_path / "absent.pt")
