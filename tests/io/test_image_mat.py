"""Tests of cardiomm.io.image_mat: reconimage / img4ranking / gtsosimage volumes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from cardiomm.errors import DataValueError, MissingKeyError, ShapeError
from cardiomm.io.image_mat import read_image_mat, write_recon_mat
from cardiomm.io.mat import save_mat


@pytest.mark.parametrize("version", ["7.3", "5"])
def test_write_recon_mat_roundtrip(tmp_path: Path, version: str) -> None:
    vol = np.random.default_rng(0).random((3, 2, 6, 8)).astype(np.float64)
    path = write_recon_mat(tmp_path / "r.mat", torch.from_numpy(vol), version=version)  # type: ignore
    back = read_image_mat(path)
    assert back.dtype == torch.float32 and back.shape == (3, 2, 6, 8)
    np.testing.assert_array_equal(back.numpy(), vol.astype(np.float32))
    if version == "7.3":
        with h5py.File(path, "r") as f:
            assert f["reconimage"].shape == (3, 2, 6, 8)
            assert f["reconimage"].attrs["MATLAB_class"] == b"single"
    else:
        assert scipy.io.loadmat(path)["reconimage"].shape == (8, 6, 2, 3)  # MATLAB [nx, ny, nz, nt]


def test_read_image_mat_keys_and_dims(tmp_path: Path) -> None:
    img = np.random.default_rng(1).random((2, 6, 8)).astype(np.float32)
    save_mat(tmp_path / "gt.mat", {"gtsosimage": img})
    assert read_image_mat(tmp_path / "gt.mat").shape == (1, 2, 6, 8)
    save_mat(tmp_path / "rank.mat", {"img4ranking": img[0]})
    assert read_image_mat(tmp_path / "rank.mat").shape == (1, 1, 6, 8)
    save_mat(tmp_path / "c.mat", {"reconimage": img.astype(np.complex64) * -1})
    assert bool((read_image_mat(tmp_path / "c.mat") >= 0).all())
    save_mat(tmp_path / "none.mat", {"kspace": img})
    with pytest.raises(MissingKeyError, match="found: kspace"):
        read_image_mat(tmp_path / "none.mat")
    save_mat(tmp_path / "5d.mat", {"reconimage": np.ones((2, 2, 2, 6, 8), np.float32)})
    with pytest.raises(ShapeError):
        read_image_mat(tmp_path / "5d.mat")
    bad = img.copy()
    bad[0, 0, 0] = np.nan
    save_mat(tmp_path / "nan.mat", {"reconimage": bad})
    with pytest.raises(DataValueError, match="NaN"):
        read_image_mat(tmp_path / "nan.mat")


def test_write_recon_mat_rejects_complex_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DataValueError, match="complex"):
        write_recon_mat(tmp_path / "r.mat", np.ones((1, 1, 6, 8), np.complex64))
    with pytest.raises(ShapeError):
        write_recon_mat(tmp_path / "r.mat", np.ones((2, 1, 1, 6, 8), np.float32))
    assert list(tmp_path.iterdir()) == []
