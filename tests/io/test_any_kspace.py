"""read_kspace: one reader for every raw k-space format, detected by suffix and structure."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from cardiomm.errors import FileFormatError, InputFileError
from cardiomm.io import kspace_format, read_cmrxrecon, read_kspace, save_mat


def _k(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_mat_and_fastmri_are_detected_and_read(tmp_path: Path) -> None:
    # CMRxRecon .mat: routed to read_cmrxrecon (its axis rules are tested in test_kspace.py)
    k_mat = _k((48, 40, 3, 2, 4))
    mat = tmp_path / "cine_sax.mat"
    save_mat(mat, {"kspace_full": k_mat})
    assert kspace_format(mat) == "cmrxrecon-mat"
    vol = read_kspace(mat)
    np.testing.assert_array_equal(vol.kspace.numpy(), read_cmrxrecon(mat).kspace.numpy())

    # fastMRI: (slices, coils, kx, ky) on disk -> one frame of `slices` slices; its line mask kept
    k_fm = _k((2, 3, 40, 48), seed=1)
    line = np.zeros(40, bool)
    line[::4] = True
    fm = tmp_path / "file1000.h5"
    with h5py.File(fm, "w") as f:
        f.create_dataset("kspace", data=np.swapaxes(k_fm, -1, -2))
        f.create_dataset("mask", data=line)
    assert kspace_format(fm) == "fastmri-h5"
    vol = read_kspace(fm)
    assert vol.kspace.shape == (1, 2, 3, 40, 48) and vol.undersampled
    np.testing.assert_array_equal(vol.kspace[0].numpy(), k_fm)
    assert vol.mask is not None and vol.mask.shape == (1, 40, 48)
    np.testing.assert_array_equal(vol.mask[0, :, 0].numpy(), line)


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="missing.mat"):
        read_kspace(tmp_path / "missing.mat")
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(FileFormatError, match="broken.h5"):
        read_kspace(bad)
    mat = tmp_path / "x.mat"
    save_mat(mat, {"kspace": _k((8, 8, 1, 1, 1))})
    with pytest.raises(FileFormatError, match="unknown k-space format"):
        read_kspace(mat, fmt="nifti")
