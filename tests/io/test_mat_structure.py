"""Tests of cardiomm.io.mat_structure: valid v5/v4 files pass unchanged, damaged tags are refused.

Damaged files are only checked here, never handed to scipy in this process (scipy segfaults on some of
them; ``tests/fuzz/test_reproducers.py`` reads them in a worker process).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from cardiomm.errors import FileFormatError, SizeLimitError
from cardiomm.io import list_mat_variables, load_mat_variables
from cardiomm.io.mat_structure import check_mat_structure

VARIABLES = {
    "kspace": (np.arange(24).reshape(2, 3, 4) * (1 + 2j)).astype(np.complex64),
    "mask": np.eye(3, dtype=bool),
    "i16": np.arange(-3, 3, dtype=np.int16).reshape(2, 3),
    "u64": np.arange(4, dtype=np.uint64),
    "text": "hello",
    "empty": np.zeros((0, 3)),
    "cell": np.array([np.arange(3.0), "abc"], dtype=object),
    "st": {"a": 1.5, "b": np.ones((2, 2)), "c": {"d": "x"}},
    "sparse": scipy.sparse.csc_matrix(np.array([[0, 1.5], [2.0, 0]])),
}


@pytest.mark.parametrize("compress", [False, True])
def test_valid_v5_files_pass_and_read_as_before(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "all.mat"
    scipy.io.savemat(path, VARIABLES, do_compression=compress)
    check_mat_structure(path, "5")
    got = load_mat_variables(path)
    raw = scipy.io.loadmat(path)
    for key in ("kspace", "i16", "u64", "mask"):
        np.testing.assert_array_equal(got[key], np.ascontiguousarray(raw[key].T))
    assert str(got["text"]) == "hello" and got["empty"].shape == (3, 0)
    assert set(list_mat_variables(path)) == set(VARIABLES)


def test_valid_v4_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "v4.mat"
    scipy.io.savemat(path, {"a": np.arange(6.0).reshape(2, 3), "z": np.ones((2, 2)) * 1j}, format="4")
    check_mat_structure(path, "4")
    assert load_mat_variables(path)["a"].shape == (3, 2)
    data = bytearray(path.read_bytes())
    struct.pack_into("<i", data, 4, 10**6)  # mrows of the first variable: past the end of the file
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="past the end"):
        check_mat_structure(path, "4")


def _v5(tmp_path: Path) -> bytearray:
    path = tmp_path / "k.mat"
    scipy.io.savemat(path, {"kspace": VARIABLES["kspace"]}, do_compression=False)
    return bytearray(path.read_bytes())


@pytest.mark.parametrize(
    ("offset", "value", "match"),
    [
        (128, bytes(8), "top-level element of type 0"),  # the variable's tag
        (136, bytes(8), "array flags"),
        (152, bytes(8), "dimensions"),
        (192, bytes(8), "array data: element type 0"),  # the segfault: real part tag zeroed
        (196, struct.pack("<I", 8), "array data of 8 bytes"),  # the real part's byte count
        (160, struct.pack("<i", -4), "negative"),  # a dimension
        (4, b"", "past the end"),  # cut: see below
    ],
)
def test_damaged_v5_structure_is_refused(tmp_path: Path, offset: int, value: bytes, match: str) -> None:
    data = _v5(tmp_path)
    if value:
        data[offset : offset + len(value)] = value
    else:
        data = data[: len(data) - 40]
    bad = tmp_path / "bad.mat"
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=match) as err:
        check_mat_structure(bad, "5")
    assert str(bad) in str(err.value)


def test_v5_dimensions_over_the_size_guard_are_refused(tmp_path: Path) -> None:
    data = _v5(tmp_path)
    struct.pack_into("<3i", data, 160, 10**4, 10**4, 10**4)
    bad = tmp_path / "big.mat"
    bad.write_bytes(bytes(data))
    with pytest.raises(SizeLimitError):
        check_mat_structure(bad, "5")


def test_listing_checks_headers_only(tmp_path: Path) -> None:
    """Listing (whosmat) reads variable headers: damage after the first data tag is left to the readers
    of that variable, and an unread variable's data is not decompressed."""
    path = tmp_path / "two.mat"
    scipy.io.savemat(path, {"kspace": VARIABLES["kspace"], "other": np.ones(3)}, do_compression=False)
    data = bytearray(path.read_bytes())
    real_type, real_bytes = struct.unpack_from("<II", data, 192)
    imag_tag = 192 + 8 + real_bytes + (-real_bytes) % 8
    data[imag_tag : imag_tag + 8] = bytes(8)
    path.write_bytes(bytes(data))
    check_mat_structure(path, "5", names=())  # headers and first data tags are intact
    check_mat_structure(path, "5", names=["other"])
    with pytest.raises(FileFormatError, match="array data"):
        check_mat_structure(path, "5", names=["kspace"])
    with pytest.raises(FileFormatError):
        load_mat_variables(path, ["kspace"])
    assert real_type in (1, 2, 3, 4, 5, 6, 7, 9, 12, 13)
