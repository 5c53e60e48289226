"""Tests of cardiomm.io.mat: v7.3 writer layout, v5/v7.3 reader agreement, bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, MissingKeyError
from cardiomm.io.mat import list_mat_variables, load_mat_variables, mat_version, save_mat

SHAPES = [(3, 4), (2, 3, 4), (2, 1, 3, 4), (2, 2, 1, 3, 4)]


def _random(shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 200, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def test_save_mat_header_bytes(tmp_path: Path) -> None:
    path = save_mat(tmp_path / "a.mat", {"x": np.zeros((2, 3), np.float32)})
    head = path.read_bytes()[:512]
    assert head.startswith(b"MATLAB 7.3 MAT-file, Platform: ")
    assert b"HDF5 schema 1.00 ." in head[:116]
    assert head[116:124] == b"\x00" * 8
    assert head[124:128] == b"\x00\x02IM"
    assert head[128:] == b"\x00" * (512 - 128)
    assert path.read_bytes()[512:520] == b"\x89HDF\r\n\x1a\n"
    assert scipy.io.matlab.matfile_version(str(path)) == (2, 0)
    assert mat_version(path) == "7.3"
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("dtype", "mclass"),
    [
        (np.complex64, "single"),
        (np.complex128, "double"),
        (np.float32, "single"),
        (np.float64, "double"),
        (np.uint8, "uint8"),
        (np.int16, "int16"),
        (np.bool_, "logical"),
    ],
)
def test_save_mat_roundtrip_dtypes(tmp_path: Path, shape: tuple[int, ...], dtype: type, mclass: str) -> None:
    rng = np.random.default_rng(0)
    arr = _random(shape, np.dtype(dtype), rng)
    path = save_mat(tmp_path / "a.mat", {"x": arr}, compress=len(shape) == 4)
    with h5py.File(path, "r") as f:
        ds = f["x"]
        assert ds.shape == shape  # h5py order preserved
        assert ds.attrs["MATLAB_class"] == mclass.encode()
        if dtype is np.bool_:
            assert ds.dtype == np.uint8 and int(ds.attrs["MATLAB_int_decode"]) == 1
        if np.dtype(dtype).kind == "c":
            assert ds.dtype.names == ("real", "imag")
    cdt = np.complex128 if dtype is np.complex128 else np.complex64
    out = load_mat_variables(path, complex_dtype=cdt)["x"]
    assert out.dtype == np.dtype(dtype) and out.shape == shape
    np.testing.assert_array_equal(out, arr)


def test_save_mat_accepts_tensors_and_promotes_vectors(tmp_path: Path) -> None:
    t = torch.randn(2, 3, dtype=torch.complex64).conj()
    path = save_mat(tmp_path / "t.mat", {"k": t, "v": np.arange(4.0), "s": np.float32(2.5)})
    out = load_mat_variables(path)
    np.testing.assert_array_equal(out["k"], t.resolve_conj().numpy())
    assert out["v"].shape == (1, 4) and out["s"].shape == (1, 1)
    assert list_mat_variables(path)["k"] == ((2, 3), "single")


def test_load_mat_v5_matches_v73_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arr = _random((2, 3, 4, 5), np.dtype(np.complex64), rng)  # h5py order
    save_mat(tmp_path / "v73.mat", {"kspace": arr})
    scipy.io.savemat(tmp_path / "v5.mat", {"kspace": arr.T})  # MATLAB order for scipy
    assert mat_version(tmp_path / "v5.mat") == "5"
    a = load_mat_variables(tmp_path / "v73.mat", ["kspace"])["kspace"]
    b = load_mat_variables(tmp_path / "v5.mat", ["kspace"])["kspace"]
    assert a.shape == b.shape == arr.shape and a.dtype == b.dtype == np.complex64
    np.testing.assert_array_equal(a, b)
    assert b.flags.c_contiguous


def test_load_mat_v5_skips_header_and_structs(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "v5.mat", {"a": np.ones((2, 3)), "s": {"f": 1}, "txt": "hi"})
    out = load_mat_variables(tmp_path / "v5.mat")
    assert set(out) == {"a", "txt"} and out["a"].shape == (3, 2) and str(out["txt"]) == "hi"
    with pytest.raises(DataValueError, match="struct"):
        load_mat_variables(tmp_path / "v5.mat", ["s"])


def test_load_mat_missing_key_lists_found(tmp_path: Path) -> None:
    save_mat(tmp_path / "a.mat", {"foo": np.zeros((2, 2)), "bar": np.zeros((2, 2))})
    scipy.io.savemat(tmp_path / "b.mat", {"foo": np.zeros((2, 2))})
    for name in ("a.mat", "b.mat"):
        with pytest.raises(MissingKeyError, match="found: .*foo") as info:
            load_mat_variables(tmp_path / name, ["kspace"])
        assert name in str(info.value) and "'kspace'" in str(info.value)


def test_load_mat_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        load_mat_variables(tmp_path / "nope.mat")
    text = tmp_path / "text.mat"
    text.write_text("this is not a MAT file at all\n" * 10)
    with pytest.raises(FileFormatError, match="not a MAT file"):
        load_mat_variables(text)
    empty = tmp_path / "empty.mat"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError):
        load_mat_variables(empty)
    # truncated v7.3
    full = save_mat(tmp_path / "full.mat", {"x": np.ones((64, 64), np.complex64)})
    data = full.read_bytes()
    for cut in (300, 2000, len(data) // 2):
        bad = tmp_path / f"cut{cut}.mat"
        bad.write_bytes(data[:cut])
        with pytest.raises(FileFormatError, match="truncated or corrupt") as info:
            load_mat_variables(bad)
        assert str(bad) in str(info.value)
    # truncated v5
    scipy.io.savemat(tmp_path / "v5.mat", {"x": np.ones((64, 64))})
    raw = (tmp_path / "v5.mat").read_bytes()
    (tmp_path / "v5cut.mat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        load_mat_variables(tmp_path / "v5cut.mat")


def test_save_mat_rejects_bad_input_atomically(tmp_path: Path) -> None:
    target = tmp_path / "a.mat"
    with pytest.raises(DataValueError, match="variable name"):
        save_mat(target, {"1bad": np.zeros(2)})
    with pytest.raises(DataValueError, match="dtype"):
        save_mat(target, {"ok": np.zeros(2), "obj": np.array([object()], dtype=object)})
    assert list(tmp_path.iterdir()) == []
    save_mat(target, {"old": np.ones((2, 2))})
    before = target.read_bytes()
    with pytest.raises(DataValueError):
        save_mat(target, {"new": np.zeros((3, 3)), "obj": np.array([object()], dtype=object)})
    assert target.read_bytes() == before  # failed write leaves the existing file untouched
    assert [p.name for p in tmp_path.iterdir()] == ["a.mat"]


def test_save_mat_empty_array_roundtrip(tmp_path: Path) -> None:
    path = save_mat(tmp_path / "e.mat", {"e": np.zeros((0, 3), np.float32)})
    assert load_mat_variables(path)["e"].shape == (0, 3)


def test_load_mat_unsupported_compound_names_file(tmp_path: Path) -> None:
    path = save_mat(tmp_path / "a.mat", {"x": np.zeros((2, 2))})
    with h5py.File(path, "a") as f:
        f.create_dataset("odd", data=np.zeros(3, dtype=[("a", "f4"), ("b", "f4")]))
    with pytest.raises(DataValueError, match="compound") as info:
        load_mat_variables(path, ["odd"])
    assert str(path) in str(info.value)


def test_listing_variables_checks_and_reads_only_their_matlab_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`list_mat_variables` (the header path of `db index`) type-checks and reads the `MATLAB_class`
    attribute of each variable and no other; `h5_attr` gives the same value as `h5_attrs`, or the
    default when the attribute is absent."""
    import cardiomm.io.checks as checks
    from cardiomm.io.checks import h5_attr, h5_attrs

    path = save_mat(tmp_path / "k.mat", {"kspace": np.ones((2, 3), np.complex64), "mask": np.ones(3, bool)})
    with h5py.File(path, "a") as f:
        f["kspace"].attrs["extra"] = np.arange(3)
    checked: list[str] = []
    real = checks._check_attr_id
    monkeypatch.setattr(checks, "_check_attr_id", lambda a, n, o, p: (checked.append(n), real(a, n, o, p)))
    assert list_mat_variables(path) == {"kspace": ((2, 3), "single"), "mask": ((1, 3), "logical")}
    assert checked == ["MATLAB_class", "MATLAB_class"]
    with h5py.File(path, "r") as f:
        ds = f["kspace"]
        assert h5_attr(ds, "MATLAB_class", path) == h5_attrs(ds, path)["MATLAB_class"]
        assert h5_attr(ds, "absent", path, b"fallback") == b"fallback"


@pytest.mark.parametrize("case", ["extlink", "null_class", "vlen_class", "group", "no_class"])
def test_listing_variables_of_odd_members(tmp_path: Path, case: str) -> None:
    """The low-level listing (`db index`'s header path): an external link and a class attribute without a
    value are refused with a typed error naming the file; a variable-length class string, a group
    (MATLAB struct) and a variable without a class are listed as `h5py.File` would show them."""
    path = save_mat(tmp_path / "k.mat", {"kspace": np.ones((2, 3), np.complex64)})
    with h5py.File(path, "a") as f:
        if case == "extlink":
            with h5py.File(tmp_path / "side.h5", "w") as g:
                g["x"] = np.zeros(3)
            f["odd"] = h5py.ExternalLink(str(tmp_path / "side.h5"), "/x")
        elif case == "null_class":
            f["odd"] = np.zeros(3)
            f["odd"].attrs["MATLAB_class"] = h5py.Empty("S6")
        elif case == "vlen_class":
            f["odd"] = np.zeros(3)
            f["odd"].attrs["MATLAB_class"] = "double"  # h5py stores a str as variable-length UTF-8
        elif case == "group":
            f.create_group("odd")
        else:
            f["odd"] = np.zeros((4, 5))
    if case in ("extlink", "null_class"):
        match = "external link" if case == "extlink" else "no value"
        with pytest.raises(FileFormatError, match=match) as err:
            list_mat_variables(path)
        assert str(path) in str(err.value)
        return
    expected = {"vlen_class": ((3,), "double"), "group": ((), "struct"), "no_class": ((4, 5), "")}[case]
    assert list_mat_variables(path) == {"kspace": ((2, 3), "single"), "odd": expected}
    with h5py.File(path, "r") as f:  # the high-level view agrees
        assert tuple(getattr(f["odd"], "shape", ())) == expected[0]


def test_listing_refuses_an_oversized_class_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `MATLAB_class` attribute declaring more elements than the size guard allows is refused before
    it is allocated (SizeLimitError naming the file), like any dataset."""
    from cardiomm.errors import SizeLimitError

    path = save_mat(tmp_path / "k.mat", {"kspace": np.ones((2, 3), np.complex64)})
    with h5py.File(path, "a") as f:
        f["odd"] = np.zeros(3)
        f["odd"].attrs["MATLAB_class"] = np.zeros(64, "S6")
    monkeypatch.setenv("CARDIOMM_MAX_ELEMENTS", "32")
    with pytest.raises(SizeLimitError) as err:
        list_mat_variables(path)
    assert str(path) in str(err.value)
