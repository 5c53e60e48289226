"""Tests of cardiomm.io.kspace: CMRxRecon k-space and mask files, v5 vs v7.3, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from cardiomm.errors import (
    DataValueError,
    FileFormatError,
    InputFileError,
    MaskError,
    MissingKeyError,
    ShapeError,
)
from cardiomm.io.kspace import KSpaceVolume, check_mask_fits, kspace_to_volume, read_cmrxrecon, read_mask
from cardiomm.io.mat import save_mat


def _kspace(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize(
    ("h5_shape", "expected"),
    [
        ((6, 8), (1, 1, 1, 6, 8)),
        ((3, 6, 8), (1, 1, 3, 6, 8)),
        ((2, 3, 6, 8), (1, 2, 3, 6, 8)),
        ((4, 2, 3, 6, 8), (4, 2, 3, 6, 8)),
    ],
)
@pytest.mark.parametrize("key", ["kspace_full", "kspace", "kus"])
def test_read_cmrxrecon_v5_and_v73_identical(
    tmp_path: Path, h5_shape: tuple[int, ...], expected: tuple[int, ...], key: str
) -> None:
    arr = _kspace(h5_shape)
    save_mat(tmp_path / "v73.mat", {key: arr})
    scipy.io.savemat(tmp_path / "v5.mat", {key: arr.T})  # scipy takes MATLAB order
    a = read_cmrxrecon(tmp_path / "v73.mat")
    b = read_cmrxrecon(tmp_path / "v5.mat")
    assert a.kspace.shape == b.kspace.shape == expected
    assert a.kspace.dtype == torch.complex64
    assert torch.equal(a.kspace, b.kspace)
    np.testing.assert_array_equal(a.kspace.reshape(h5_shape).numpy(), arr)
    assert a.matlab_shape == b.matlab_shape == h5_shape[::-1]
    assert a.key == key and a.undersampled == (key == "kus")


def test_kspace_volume_properties_and_frames_t_major() -> None:
    arr = _kspace((3, 2, 4, 6, 8))
    vol = kspace_to_volume(arr)
    assert (vol.n_frames, vol.n_slices, vol.n_coils, vol.ny, vol.nx, vol.n_batch) == (3, 2, 4, 6, 8, 6)
    frames = vol.frames()
    assert frames.shape == (6, 4, 6, 8)
    for t in range(3):
        for z in range(2):
            assert torch.equal(frames[t * 2 + z], vol.kspace[t, z])


def test_kspace_volume_validates_layout() -> None:
    with pytest.raises(ShapeError):
        KSpaceVolume(torch.zeros(2, 3, 4, 5, dtype=torch.complex64), Path("x.mat"), "kspace", (5, 4, 3, 2))
    with pytest.raises(DataValueError):
        KSpaceVolume(torch.zeros(1, 1, 1, 4, 5), Path("x.mat"), "kspace", (5, 4))


def test_read_cmrxrecon_single_coil_2023_keys(tmp_path: Path) -> None:
    arr = _kspace((3, 2, 6, 8))  # MATLAB [nx, ny, nz, nt] without coil axis
    save_mat(tmp_path / "s.mat", {"kspace_single_full": arr})
    vol = read_cmrxrecon(tmp_path / "s.mat")
    assert vol.kspace.shape == (3, 2, 1, 6, 8) and not vol.undersampled
    save_mat(tmp_path / "sub.mat", {"kspace_sub08": arr[0]})
    sub = read_cmrxrecon(tmp_path / "sub.mat")
    assert sub.kspace.shape == (1, 1, 2, 6, 8) and sub.undersampled and sub.key == "kspace_sub08"
    save_mat(tmp_path / "two.mat", {"kspace_sub04": arr[0], "kspace_sub08": arr[0]})
    with pytest.raises(MissingKeyError, match="several"):
        read_cmrxrecon(tmp_path / "two.mat")
    assert read_cmrxrecon(tmp_path / "two.mat", key="kspace_sub04").key == "kspace_sub04"


def test_read_cmrxrecon_prefers_full_key(tmp_path: Path) -> None:
    save_mat(tmp_path / "a.mat", {"kus": _kspace((6, 8), 1), "kspace_full": _kspace((6, 8), 2)})
    assert read_cmrxrecon(tmp_path / "a.mat").key == "kspace_full"


def test_read_cmrxrecon_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_cmrxrecon(tmp_path / "missing.mat")
    save_mat(tmp_path / "nokey.mat", {"img": _kspace((6, 8))})
    with pytest.raises(MissingKeyError, match="found: img") as info:
        read_cmrxrecon(tmp_path / "nokey.mat")
    assert "nokey.mat" in str(info.value)
    save_mat(tmp_path / "real.mat", {"kspace": np.ones((6, 8), np.float32)})
    with pytest.raises(DataValueError, match="real-valued"):
        read_cmrxrecon(tmp_path / "real.mat")
    bad = _kspace((6, 8))
    bad[2, 3] = np.nan
    bad[1, 1] = np.inf
    save_mat(tmp_path / "nan.mat", {"kspace": bad})
    with pytest.raises(DataValueError, match="2 NaN/Inf"):
        read_cmrxrecon(tmp_path / "nan.mat")
    save_mat(tmp_path / "6d.mat", {"kspace": _kspace((2, 1, 2, 1, 3, 4))})
    with pytest.raises(ShapeError, match="6 dimensions"):
        read_cmrxrecon(tmp_path / "6d.mat")
    save_mat(tmp_path / "1d.mat", {"kspace": _kspace((1, 5))[0]})  # promoted to (1, 5): 2-D, fine
    assert read_cmrxrecon(tmp_path / "1d.mat").kspace.shape == (1, 1, 1, 1, 5)
    txt = tmp_path / "text.mat"
    txt.write_text("name,value\nnot,a mat file\n")
    with pytest.raises(FileFormatError, match="not a MAT file"):
        read_cmrxrecon(txt)
    good = save_mat(tmp_path / "good.mat", {"kspace": _kspace((4, 32, 32))})
    cut = tmp_path / "cut.mat"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        read_cmrxrecon(cut)


def test_read_mask_shapes_and_values(tmp_path: Path) -> None:
    m2 = np.zeros((6, 8), np.float64)
    m2[::2] = 1
    save_mat(tmp_path / "m2.mat", {"mask": m2})
    mask = read_mask(tmp_path / "m2.mat")
    assert mask.shape == (1, 6, 8) and mask.dtype == torch.bool
    assert torch.equal(mask[0], torch.from_numpy(m2 > 0))
    m3 = np.random.default_rng(0).random((3, 6, 8)) > 0.5
    scipy.io.savemat(tmp_path / "m3.mat", {"mask": m3.T.astype(np.uint8)})
    assert torch.equal(read_mask(tmp_path / "m3.mat"), torch.from_numpy(m3))
    save_mat(tmp_path / "m08.mat", {"mask08": m2})
    assert read_mask(tmp_path / "m08.mat", key=None).shape == (1, 6, 8)
    save_mat(tmp_path / "bad.mat", {"mask": m2 * 2})
    with pytest.raises(DataValueError, match="other than 0 and 1"):
        read_mask(tmp_path / "bad.mat")
    save_mat(tmp_path / "nomask.mat", {"x": m2})
    with pytest.raises(MissingKeyError, match="found: x"):
        read_mask(tmp_path / "nomask.mat")
    save_mat(tmp_path / "4d.mat", {"mask": np.ones((2, 2, 6, 8))})
    with pytest.raises(ShapeError):
        read_mask(tmp_path / "4d.mat")


def test_check_mask_fits(tmp_path: Path) -> None:
    vol = kspace_to_volume(_kspace((3, 2, 2, 6, 8)), source=tmp_path / "k.mat")
    mask2 = torch.zeros(6, 8, dtype=torch.bool)
    mask2[::2] = True
    full = check_mask_fits(vol, mask2)
    assert full.shape == (3, 6, 8) and bool((full == mask2).all())
    mask3 = torch.rand(3, 6, 8, generator=torch.Generator().manual_seed(0)) > 0.5
    assert torch.equal(check_mask_fits(vol, mask3), mask3)
    with pytest.raises(MaskError, match="transposed"):
        check_mask_fits(vol, torch.ones(8, 6, dtype=torch.bool), mask_source=tmp_path / "m.mat")
    with pytest.raises(MaskError, match="in-plane size"):
        check_mask_fits(vol, torch.ones(6, 9, dtype=torch.bool))
    with pytest.raises(MaskError, match="2 frames"):
        check_mask_fits(vol, torch.ones(2, 6, 8, dtype=torch.bool))
    with pytest.raises(MaskError, match="no k-space point"):
        check_mask_fits(vol, torch.zeros(6, 8, dtype=torch.bool))
    with pytest.raises(MaskError, match=r"m\.mat"):
        check_mask_fits(vol, torch.ones(1, 1, 6, 8, dtype=torch.bool), mask_source=tmp_path / "m.mat")


def test_read_cmrxrecon_with_mask_file_and_frame_masks(tmp_path: Path) -> None:
    save_mat(tmp_path / "k.mat", {"kspace_full": _kspace((2, 3, 2, 6, 8))})
    m = np.zeros((2, 6, 8), bool)
    m[0, ::2] = True
    m[1, 1::2] = True
    save_mat(tmp_path / "m.mat", {"mask": m})
    vol = read_cmrxrecon(tmp_path / "k.mat", mask=tmp_path / "m.mat")
    fm = vol.frame_masks()
    assert fm.shape == (6, 1, 6, 8)
    for b in range(6):
        assert torch.equal(fm[b, 0], torch.from_numpy(m[b // 3]))
    with pytest.raises(MaskError):
        read_cmrxrecon(tmp_path / "k.mat", mask=torch.ones(3, 6, 8, dtype=torch.bool))
    with pytest.raises(MaskError, match="no mask"):
        read_cmrxrecon(tmp_path / "k.mat").frame_masks()
