"""Tests of cardiomm.io.h5: training HDF5 round trip, frame subsets, plain fastMRI files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, MissingKeyError, ShapeError
from cardiomm.io.h5 import read_fastmri_h5, read_training_h5, rss_from_kspace, write_training_h5
from cardiomm.io.kspace import kspace_to_volume


def _kspace(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_rss_from_kspace_matches_numpy() -> None:
    k = _kspace((2, 3, 8, 10))
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    ref = np.sqrt((np.abs(img) ** 2).sum(axis=1))
    out = rss_from_kspace(torch.from_numpy(k))
    assert out.dtype == torch.float32 and out.shape == (2, 8, 10)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_training_h5_roundtrip(tmp_path: Path) -> None:
    arr = _kspace((3, 2, 4, 8, 10))
    vol = kspace_to_volume(arr, source=tmp_path / "P001" / "cine_sax.mat", key="kspace_full")
    meta = {"center": "Center001", "modality": "cine", "view": "short-axis", "patient_id": "P001"}
    path = write_training_h5(tmp_path / "a.h5", vol, prompt="cine short-axis", metadata=meta)
    with h5py.File(path, "r") as f:
        assert f.attrs["axis_order"] == "b,c,ky,kx"
        assert f["kspace"].chunks == (1, 4, 8, 10)
        assert f["reconstruction_rss"].chunks == (1, 8, 10)
        assert list(f.attrs["encoding_size"]) == [10, 8, 1]
        assert int(f.attrs["padding_right"]) == 8
    rec = read_training_h5(path)
    assert torch.equal(rec.kspace, vol.frames())
    rss = rss_from_kspace(vol.frames())
    assert rec.reconstruction_rss is not None and torch.equal(rec.reconstruction_rss, rss)
    assert (rec.n_frames, rec.n_slices, rec.n_coils) == (3, 2, 4)
    assert rec.frame_indices == tuple(range(6))
    assert rec.max == pytest.approx(float(rss.max()))
    assert rec.norm == pytest.approx(float(np.linalg.norm(rss.numpy().astype(np.float64))))
    assert rec.prompt == "cine short-axis" and rec.metadata == meta
    assert rec.matlab_shape == (10, 8, 4, 2, 3)
    assert rec.attrs["source"].endswith("cine_sax.mat")
    assert torch.equal(rec.to_volume().kspace, vol.kspace)
    with pytest.raises(ShapeError, match="subset"):
        read_training_h5(path, frames=[0]).to_volume()


def test_training_h5_frame_subset(tmp_path: Path) -> None:
    frames = _kspace((6, 2, 8, 8))
    path = write_training_h5(tmp_path / "a.h5", frames, n_frames=3, n_slices=2, compress=True)
    rec = read_training_h5(path, frames=[4, 1, 4])
    assert torch.equal(rec.kspace, torch.from_numpy(frames[[4, 1, 4]]))
    assert rec.frame_indices == (4, 1, 4)
    assert read_training_h5(path, frames=slice(2, 4)).kspace.shape == (2, 2, 8, 8)
    assert read_training_h5(path, frames=[-1]).frame_indices == (5,)
    with pytest.raises(ShapeError):
        read_training_h5(path, frames=[6])


def test_training_h5_without_rss_and_bad_input(tmp_path: Path) -> None:
    path = write_training_h5(tmp_path / "a.h5", _kspace((2, 1, 8, 8)), reconstruction_rss=None)
    rec = read_training_h5(path)
    assert rec.reconstruction_rss is None and np.isnan(rec.max)
    with pytest.raises(ShapeError):
        write_training_h5(tmp_path / "b.h5", _kspace((6, 1, 8, 8)), n_frames=4, n_slices=2)
    with pytest.raises(DataValueError, match="real-valued"):
        write_training_h5(tmp_path / "b.h5", np.ones((2, 1, 8, 8), np.float32))
    with pytest.raises(DataValueError, match="reserved"):
        write_training_h5(tmp_path / "b.h5", _kspace((2, 1, 8, 8)), metadata={"max": "1"})
    bad = _kspace((2, 1, 8, 8))
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataValueError, match="NaN"):
        write_training_h5(tmp_path / "b.h5", bad)
    assert not (tmp_path / "b.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]  # no temporary left behind
    with pytest.raises(InputFileError):
        read_training_h5(tmp_path / "none.h5")
    (tmp_path / "t.h5").write_text("not hdf5")
    with pytest.raises(FileFormatError):
        read_training_h5(tmp_path / "t.h5")
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(FileFormatError):
        read_training_h5(cut)
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(MissingKeyError, match="found: x"):
        read_training_h5(tmp_path / "empty.h5")


def _fastmri_file(path: Path, kspace: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace)
        f.create_dataset("reconstruction_rss", data=np.arange(2 * 9 * 8, dtype=np.float32).reshape(2, 9, 8))
        f.create_dataset("mask", data=np.array([1, 0, 1, 0, 0, 0, 1, 0], np.float32))
        f.create_dataset("ismrmrd_header", data=b"<ismrmrdHeader/>")
        f.attrs["acquisition"] = "CORPD_FBK"


def test_read_fastmri_multi_and_single_coil(tmp_path: Path) -> None:
    k = _kspace((2, 3, 12, 8))  # (slices, coils, kx, ky)
    _fastmri_file(tmp_path / "m.h5", k)
    rec = read_fastmri_h5(tmp_path / "m.h5")
    assert rec.kspace.shape == (2, 3, 8, 12)
    np.testing.assert_array_equal(rec.kspace.numpy(), np.swapaxes(k, -1, -2))
    assert rec.reconstructions["reconstruction_rss"].shape == (2, 8, 9)
    assert rec.mask is not None and rec.mask.tolist() == [True, False, True, False, False, False, True, False]
    assert rec.ismrmrd_header == "<ismrmrdHeader/>" and rec.attrs["acquisition"] == "CORPD_FBK"
    ks = _kspace((2, 12, 8))
    _fastmri_file(tmp_path / "s.h5", ks)
    single = read_fastmri_h5(tmp_path / "s.h5")
    assert single.kspace.shape == (2, 1, 8, 12)
    with h5py.File(tmp_path / "r.h5", "w") as f:
        f["kspace"] = np.ones((2, 3, 4, 4), np.float32)
    with pytest.raises(DataValueError):
        read_fastmri_h5(tmp_path / "r.h5")
    with pytest.raises(FileFormatError, match="not a cardiomm training file"):
        read_training_h5(tmp_path / "m.h5")
