"""Tests of cardiomm.io.checks: size guard, HDF5 storage checks, typed library errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from cardiomm.errors import ConfigError, FileFormatError, SizeLimitError
from cardiomm.io import load_mat_variables, read_training_h5, save_mat, write_training_h5
from cardiomm.io.checks import DEFAULT_MAX_ELEMENTS, MAX_ELEMENTS_ENV, check_size, max_elements, reading


def _kspace(shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_max_elements_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(MAX_ELEMENTS_ENV, raising=False)
    assert max_elements() == DEFAULT_MAX_ELEMENTS == 2**31
    assert check_size((2**15, 2**16), "x", None) == 2**31
    with pytest.raises(SizeLimitError, match=MAX_ELEMENTS_ENV):
        check_size((2**15, 2**16 + 1), "x", tmp_path / "f.h5")
    path = save_mat(tmp_path / "k.mat", {"kspace": _kspace((4, 8, 6))})  # 192 elements
    monkeypatch.setenv(MAX_ELEMENTS_ENV, "100")
    with pytest.raises(SizeLimitError, match="192 elements") as err:
        load_mat_variables(path)
    assert str(path) in str(err.value)
    monkeypatch.setenv(MAX_ELEMENTS_ENV, "1e3")  # a float notation is accepted
    assert load_mat_variables(path)["kspace"].shape == (4, 8, 6)
    for bad in ("many", "-5", "0", "nan"):
        monkeypatch.setenv(MAX_ELEMENTS_ENV, bad)
        with pytest.raises(ConfigError, match=MAX_ELEMENTS_ENV):
            max_elements()


def test_check_size_rejects_negative_dimensions() -> None:
    with pytest.raises(FileFormatError, match="negative"):
        check_size((3, -1), "x", "f.mat")


def test_reading_turns_library_errors_into_typed_errors(tmp_path: Path) -> None:
    path = tmp_path / "f.h5"
    with pytest.raises(FileFormatError, match=r"KeyError") as err:
        with reading(path, "HDF5 file"):
            raise KeyError("no such object")
    assert str(path) in str(err.value) and isinstance(err.value.__cause__, KeyError)
    with pytest.raises(SizeLimitError), reading(path, "HDF5 file"):
        raise MemoryError
    with pytest.raises(ConfigError) as cfg, reading(path, "HDF5 file"):
        raise ConfigError("bad value")  # a typed error without a path gets the file
    assert cfg.value.path == str(path)


def _replace_kspace(path: Path, make: object) -> None:
    with h5py.File(path, "r+") as f:
        data = f["kspace"][()]
        del f["kspace"]
        make(f, data)  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["unwritten", "partial", "grown", "external", "virtual", "extlink"])
def test_h5_datasets_not_stored_in_the_file_are_refused(tmp_path: Path, kind: str) -> None:
    """External raw storage, virtual datasets, external links and chunks that were never written."""
    path = write_training_h5(tmp_path / "t.h5", _kspace((3, 1, 2, 8, 6)))
    side = tmp_path / "side.h5"

    def make(f: h5py.File, data: np.ndarray) -> None:
        if kind == "unwritten":
            f.create_dataset("kspace", shape=data.shape, dtype=data.dtype, chunks=(1, *data.shape[1:]))
        elif kind == "partial":
            f.create_dataset("kspace", shape=data.shape, dtype=data.dtype, chunks=(1, *data.shape[1:]))
            f["kspace"][:2] = data[:2]
        elif kind == "grown":
            f.create_dataset(
                "kspace", data=data, chunks=(1, *data.shape[1:]), maxshape=(None, *data.shape[1:])
            )
            f["kspace"].resize(30, axis=0)
        elif kind == "external":
            ext = [(str(tmp_path / "raw.bin"), 0, h5py.h5f.UNLIMITED)]
            f.create_dataset("kspace", shape=data.shape, dtype=data.dtype, external=ext)
            f["kspace"][...] = data
        else:
            with h5py.File(side, "w") as g:
                g.create_dataset("x", data=data)
            if kind == "extlink":
                f["kspace"] = h5py.ExternalLink(str(side), "/x")
            else:
                layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
                layout[...] = h5py.VirtualSource(str(side), "x", shape=data.shape)
                f.create_virtual_dataset("kspace", layout)

    _replace_kspace(path, make)
    if kind == "grown":
        with h5py.File(path, "r+") as f:
            f.attrs["n_frames"] = 30
            f.attrs["shape"] = np.asarray([30, 1, 2, 8, 6])
    match = {"unwritten": "never written", "partial": "1 of 3 chunks", "grown": "27 of 30 chunks"}
    match |= {"external": "external raw storage", "virtual": "virtual", "extlink": "external link"}
    with pytest.raises(FileFormatError, match=match[kind]) as err:
        read_training_h5(path)
    assert str(path) in str(err.value)


def test_h5_contiguous_dataset_without_storage_is_refused(tmp_path: Path) -> None:
    path = save_mat(tmp_path / "k.mat", {"kspace": _kspace((2, 3))})
    with h5py.File(path, "r+") as f:
        attrs = dict(f["kspace"].attrs)
        dtype = f["kspace"].dtype
        del f["kspace"]
        ds = f.create_dataset("kspace", shape=(2, 3), dtype=dtype)  # contiguous, never written
        for k, v in attrs.items():
            ds.attrs[k] = v
    with pytest.raises(FileFormatError, match="never written"):
        load_mat_variables(path)
