"""The reproducers of issue 16, read in a worker process with a watchdog: each must give a typed error
that names the file (a regression to a segfault or a hang is then recorded, not fatal to pytest)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from .runner import Result, run_files
from .seeds import make_seeds, write_ismrmrd


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_seeds(tmp_path_factory.mktemp("seeds"))


def _expect_typed(results: list[Result], *errors: str) -> None:
    for r, error in zip(results, errors, strict=True):
        assert r.outcome == "typed", (r.job, r.outcome, r.detail)
        assert r.detail.startswith(error + ":"), (r.job, r.detail)
        assert r.job.path in r.detail


def test_v5_mat_with_a_zeroed_tag_gives_a_typed_error(tmp_path: Path) -> None:
    """scipy's compiled v5 reader segfaults on a zeroed data-element tag (exit 139 in the issue)."""
    k = np.ones((4, 6, 2), np.complex64)
    cases = []
    for compress in (False, True):
        src = tmp_path / f"ok{int(compress)}.mat"
        scipy.io.savemat(src, {"kspace": k}, do_compression=compress)
        data = bytearray(src.read_bytes())
        if compress:  # zero the tag inside the zlib stream
            import zlib

            inner = bytearray(zlib.decompress(bytes(data[136:])))
            inner[64:72] = bytes(8)  # the real part's tag (flags, dims, name precede it)
            payload = zlib.compress(bytes(inner))
            data = data[:128] + struct.pack("<II", 15, len(payload)) + payload
        else:
            data[192:200] = bytes(8)  # the real part's tag of the first variable
        bad = tmp_path / f"zeroed{int(compress)}.mat"
        bad.write_bytes(bytes(data))
        cases += [("read_cmrxrecon", bad), ("load_mat_variables", bad), ("list_mat_variables", bad)]
    _expect_typed(run_files(cases, workdir=tmp_path / "run"), *["FileFormatError"] * len(cases))


def test_damaged_global_heap_gives_a_typed_error_not_a_hang(seeds: dict[str, Path], tmp_path: Path) -> None:
    """A zero-size object in an HDF5 global heap makes libhdf5 loop forever on variable-length data
    (the ISMRMRD XML header and acquisitions, fastMRI's ``ismrmrd_header``, string attributes)."""
    cases = []
    for name in ("ismrmrd", "fastmri", "training"):
        data = bytearray(seeds[name].read_bytes())
        pos = data.find(b"GCOL")
        p = pos + 16  # walk to the first object after object 1 and make its size 0 with index 0
        index, _, _, size = struct.unpack_from("<HHIQ", data, p)
        p += 16 + -(-size // 8) * 8
        struct.pack_into("<HHIQ", data, p, 0, 0, 0, 0)
        bad = tmp_path / f"{name}_heap.h5"
        bad.write_bytes(bytes(data))
        cases.append(("read_kspace", bad))
    cases.append(("read_ismrmrd_geometry", tmp_path / "fastmri_heap.h5"))
    _expect_typed(run_files(cases, timeout=60.0, workdir=tmp_path / "run"), *["FileFormatError"] * 4)


def test_fastmri_nan_and_csv_nan_give_typed_errors(seeds: dict[str, Path], tmp_path: Path) -> None:
    fastmri = tmp_path / "nan.h5"
    shutil.copyfile(seeds["fastmri"], fastmri)
    with h5py.File(fastmri, "r+") as f:
        k = f["kspace"][()]
        k[0, 0, 1, 2] = complex(np.nan, 0.0)
        f["kspace"][...] = k
    csv_files = []
    for field, value in (("FOVx(mm)", "nan"), ("SliceThickness(mm)", "0"), ("FOVy(mm)", "-225")):
        text = seeds["csv"].read_text().splitlines()
        text = [
            ",".join([field, value, *line.split(",")[2:]]) if line.startswith(field) else line
            for line in text
        ]
        path = tmp_path / f"{field[:4]}_info.csv"
        path.write_text("\n".join(text) + "\n")
        csv_files.append(("read_scan_csv", path))
    cases = [("read_fastmri_h5", fastmri), ("read_kspace", fastmri), *csv_files]
    _expect_typed(run_files(cases, workdir=tmp_path / "run"), *["DataValueError"] * len(cases))


def test_ismrmrd_phase_65535_gives_a_typed_error(tmp_path: Path) -> None:
    """``phase = 65535`` would give 65,536 frames: outside the header's limits, or (without limits) more
    frames than acquisitions."""
    with_limits = write_ismrmrd(tmp_path / "limits.h5", {"acq": 5, "field": "phase", "value": 65535})
    no_limits = write_ismrmrd(
        tmp_path / "nolimits.h5", {"limits": False, "acq": 5, "field": "phase", "value": 65535}
    )
    cases = [("read_ismrmrd", with_limits), ("read_kspace", no_limits)]
    results = run_files(cases, workdir=tmp_path / "run")
    _expect_typed(results, "ShapeError", "ShapeError")
    assert "encoding limits" in results[0].detail and "combinations" in results[1].detail


def test_declared_sizes_of_1e8_to_1e12_elements_give_typed_errors(
    seeds: dict[str, Path], tmp_path: Path
) -> None:
    """Declared sizes are checked before allocating: unwritten HDF5 chunks, MAT v5 dimensions that do
    not match their data, NIfTI dims over the size guard."""
    cases = []
    for n in (10**8, 10**10, 10**12):
        h5 = tmp_path / f"train_{n}.h5"
        shutil.copyfile(seeds["training"], h5)
        with h5py.File(h5, "r+") as f:
            data = f["kspace"][()]
            del f["kspace"]
            big = (n // int(np.prod(data.shape[1:])), *data.shape[1:])
            ds = f.create_dataset("kspace", shape=big, dtype=data.dtype, chunks=(1, *data.shape[1:]))
            ds[: data.shape[0]] = data
        cases.append(("read_training_h5", h5))
    mat = bytearray(seeds["mat5"].read_bytes())
    struct.pack_into("<5i", mat, 160, 10**4, 10**4, 10**4, 1, 1)  # dims of 1e12 elements
    (tmp_path / "big5.mat").write_bytes(bytes(mat))
    cases.append(("read_cmrxrecon", tmp_path / "big5.mat"))
    nii = bytearray(seeds["nifti"].read_bytes())
    struct.pack_into("<5h", nii, 40, 4, 30000, 30000, 30000, 30000)  # 8.1e17 voxels
    (tmp_path / "big.nii").write_bytes(bytes(nii))
    cases.append(("read_nifti", tmp_path / "big.nii"))
    results = run_files(cases, workdir=tmp_path / "run")
    # 1e8 passes the size guard (2**31) but its chunks were never written; the others are over the guard
    _expect_typed(results, "FileFormatError", *["SizeLimitError"] * 4)
    assert "never written" in results[0].detail


def test_damaged_hdf5_datatypes_give_typed_errors(seeds: dict[str, Path], tmp_path: Path) -> None:
    """Found by the fuzz suite: both segfault in plain h5py.

    - A float member whose exponent bias is not IEEE makes h5py widen it to float64; the compound's
      members then overlap and converting ISMRMRD acquisitions corrupts memory.
    - A variable-length string attribute whose "sequence or string" field reads 5 crashes on reading.
    """
    data = bytearray(seeds["ismrmrd"].read_bytes())
    member = data.find(b"slice_dir\x00")
    float_type = data.find(bytes.fromhex("11201f0004000000"), member)  # IEEE float32, version 1
    data[float_type + 16] = 0x3F  # exponent bias 127 -> 63
    (tmp_path / "overlap.h5").write_bytes(bytes(data))
    data = bytearray(seeds["training"].read_bytes())
    name = data.find(b"format\x00")
    assert data[name + 8] == 0x19  # vlen datatype, version 1, right after the 8-byte padded name
    data[name + 9] = 0x05  # kind 5: neither sequence (0) nor string (1)
    (tmp_path / "vlen_kind.h5").write_bytes(bytes(data))
    cases = [("read_ismrmrd", tmp_path / "overlap.h5"), ("read_training_h5", tmp_path / "vlen_kind.h5")]
    results = run_files(cases, workdir=tmp_path / "run")
    _expect_typed(results, "FileFormatError", "FileFormatError")
    assert "overlaps" in results[0].detail and "variable-length kind 5" in results[1].detail


def test_hdf5_btree_cycles_give_typed_errors(seeds: dict[str, Path], tmp_path: Path) -> None:
    """A B-tree node whose children point back to itself: counting the chunks of such a dataset
    recurses in libhdf5 until the stack overflows (a segfault); name lookups report it or loop."""
    cases = []
    for node_type, key in ((0, 8), (1, 8 + 8 * 5)):  # group tree; chunk tree of 'kspace' (4-D + element)
        data = bytearray(seeds["training"].read_bytes())
        p = next(i for i in range(len(data)) if data.startswith(b"TREE", i) and data[i + 4] == node_type)
        data[p + 5] = 1  # level 1: its children are nodes
        for k in range(struct.unpack_from("<H", data, p + 6)[0]):
            struct.pack_into("<Q", data, p + 24 + key + k * (key + 8), p)
        path = tmp_path / f"loop{node_type}.h5"
        path.write_bytes(bytes(data))
        cases += [("read_training_h5", path), ("read_kspace", path)]
    results = run_files(cases, workdir=tmp_path / "run")
    _expect_typed(results, *["FileFormatError"] * 4)
    assert all("damaged HDF5 structure" in r.detail for r in results)
