"""What the readers validate before returning (issue 16 item 1): header ranges, finite values, spacings,
DICOM files that cannot be dropped silently. Every error is typed and names the file."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import h5py
import ismrmrd
import numpy as np
import pytest

from cardiomm.errors import DataValueError, FileFormatError, MaskError, ShapeError
from cardiomm.io import (
    load_mat_variables,
    read_dicom_series,
    read_fastmri_h5,
    read_ismrmrd,
    read_ismrmrd_geometry,
    read_kspace,
    read_nifti,
    read_nifti_series,
    read_scan_csv,
    read_training_h5,
    save_mat,
    write_nifti,
    write_training_h5,
)

from .test_ismrmrd_h5 import _acq, _header, _write

NX, NY = 16, 12


def _ismrmrd(path: Path, *, phase: int = 0, limits: bool = True, matrix_x: int = NX) -> Path:
    rng = np.random.default_rng(0)
    acqs = []
    for ky in range(NY):
        data = (rng.standard_normal((2, NX)) + 1j * rng.standard_normal((2, NX))).astype(np.complex64)
        acqs.append(_acq(data, ky=ky, z=0, phase=phase if ky == 3 else 0, rep=0))
    xml = _header(matrix_x, NY, NY // 2, NY - 1)
    if not limits:
        xml = xml.split("<encodingLimits>")[0] + "<encodingLimits/>" + xml.split("</encodingLimits>")[1]
    _write(path, xml, acqs)
    return path


def test_ismrmrd_counters_are_checked_against_the_header(tmp_path: Path) -> None:
    assert read_ismrmrd(_ismrmrd(tmp_path / "ok.h5", phase=2)).n_frames == 3  # within the limits (0..2)
    bad = _ismrmrd(tmp_path / "p.h5", phase=65535)
    with pytest.raises(ShapeError, match=r"phase up to 65535 is outside the header's encoding limits") as err:
        read_ismrmrd(bad)
    assert str(bad) in str(err.value)
    with pytest.raises(ShapeError, match="65536 .* combinations for only 12 acquisitions"):
        read_kspace(_ismrmrd(tmp_path / "nolimits.h5", phase=65535, limits=False))
    with pytest.raises(ShapeError, match="over 4x the longest readout"):
        read_ismrmrd(_ismrmrd(tmp_path / "matrix.h5", matrix_x=65535))


def test_ismrmrd_acquisition_sizes_must_match_their_data(tmp_path: Path) -> None:
    path = _ismrmrd(tmp_path / "n.h5")
    with h5py.File(path, "r+") as f:
        rec = f["dataset/data"][4]
        rec["head"]["number_of_samples"] = 1000
        f["dataset/data"][4] = rec
    with pytest.raises(FileFormatError, match="acquisition 4: 64 values for 2 channels x 1000 samples"):
        read_ismrmrd(path)


def test_ismrmrd_geometry_must_be_finite(tmp_path: Path) -> None:
    path = _ismrmrd(tmp_path / "g.h5")
    with h5py.File(path, "r+") as f:
        f["dataset/xml"][0] = f["dataset/xml"][0].decode().replace("<x>300.0</x>", "<x>NaN</x>")
    with pytest.raises(DataValueError, match="encoded field of view"):
        read_ismrmrd_geometry(path)


def test_ismrmrd_xml_with_a_dtd_is_refused(tmp_path: Path) -> None:
    """No ISMRMRD header has a DTD; entities could expand without bound or read local files."""
    path = _ismrmrd(tmp_path / "dtd.h5")
    with h5py.File(path, "r+") as f:
        xml = f["dataset/xml"][0].decode()
        head, rest = xml.split("?>", 1)
        f["dataset/xml"][0] = head + '?><!DOCTYPE h [<!ENTITY e SYSTEM "file:///etc/hostname">]>' + rest
    for reader in (read_ismrmrd, read_ismrmrd_geometry):
        with pytest.raises(FileFormatError, match="DOCTYPE"):
            reader(path)


def test_fastmri_values_and_mask_are_checked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = tmp_path / "f.h5"
    with h5py.File(base, "w") as f:
        f["kspace"] = (rng.standard_normal((2, 3, 8, 6)) + 0j).astype(np.complex64)
        f["reconstruction_rss"] = rng.random((2, 8, 6)).astype(np.float32)
        f["mask"] = (np.arange(6) % 2).astype(np.float32)
    assert read_fastmri_h5(base).mask is not None
    edits: dict[str, tuple[Callable[[h5py.File], None], type[Exception], str]] = {
        "nan_k": (
            lambda f: f["kspace"].__setitem__((0, 0, 0, 0), np.nan),
            DataValueError,
            "'kspace' has 1 NaN",
        ),
        "inf_r": (
            lambda f: f["reconstruction_rss"].__setitem__((1, 0, 0), np.inf),
            DataValueError,
            "NaN/Inf",
        ),
        "mask_v": (lambda f: f["mask"].__setitem__(0, 0.5), MaskError, "other than 0 and 1"),
        "mask_n": (
            lambda f: f.__delitem__("mask") or f.create_dataset("mask", data=np.ones(5)),
            MaskError,
            "5 entries",
        ),
    }
    for name, (edit, error, match) in edits.items():
        path = tmp_path / f"{name}.h5"
        shutil.copyfile(base, path)
        with h5py.File(path, "r+") as f:
            edit(f)
        for reader in (read_fastmri_h5, read_kspace):
            with pytest.raises(error, match=match) as err:
                reader(path)
            assert str(path) in str(err.value)


def test_training_layout_attributes_must_fit_the_data(tmp_path: Path) -> None:
    k = np.ones((3, 2, 2, 4, 4), np.complex64)
    path = write_training_h5(tmp_path / "t.h5", k)
    for attr, value, match in (
        ("n_frames", 4, "do not fit 6"),
        ("n_slices", 0, "do not fit"),
        ("shape", [3, 2, 2, 4, 5], "shape"),
    ):
        bad = tmp_path / f"{attr}.h5"
        shutil.copyfile(path, bad)
        with h5py.File(bad, "r+") as f:
            f.attrs[attr] = value
        with pytest.raises(ShapeError, match=match):
            read_training_h5(bad)
    bad = tmp_path / "float.h5"
    shutil.copyfile(path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["n_frames"] = 3.5
    with pytest.raises(FileFormatError, match="not an integer"):
        read_kspace(bad)


def test_matlab_empty_flag_on_a_non_empty_variable(tmp_path: Path) -> None:
    path = save_mat(tmp_path / "k.mat", {"kspace": np.ones((2, 3), np.complex64)})
    with h5py.File(path, "r+") as f:
        f["kspace"].attrs["MATLAB_empty"] = np.uint8(1)
    with pytest.raises(FileFormatError, match="marked empty"):
        load_mat_variables(path)


def test_dicom_series_never_drops_a_damaged_file(
    tmp_path: Path, write_dicom_series: Callable[..., None]
) -> None:
    """Policy: a damaged file that claims to be DICOM is an error naming it; other files are ignored."""
    images = np.arange(2 * 2 * 4 * 5, dtype=np.uint16).reshape(2, 2, 4, 5)
    base = tmp_path / "base"
    write_dicom_series(base, images, positions=[0.0, 8.0], shuffle=False)
    (base / "notes.txt").write_text("acquired on a Tuesday")
    (base / ".hidden").write_bytes(b"\x00" * 10)
    assert read_dicom_series(base).magnitude.shape == (2, 2, 4, 5)  # non-DICOM files are ignored

    def case(name: str, edit: Callable[[Path], None]) -> Path:
        folder = tmp_path / name
        shutil.copytree(base, folder)
        edit(folder)
        return folder

    junk = case("junk", lambda d: (d / "extra.dcm").write_bytes(b"\x01" * 300))
    with pytest.raises(FileFormatError, match="not a readable DICOM file") as err:
        read_dicom_series(junk)
    assert str(junk / "extra.dcm") in str(err.value)
    cut = case("cut", lambda d: (d / "img001.dcm").write_bytes((d / "img001.dcm").read_bytes()[:400]))
    with pytest.raises(FileFormatError) as err:
        read_dicom_series(cut)
    assert str(cut / "img001.dcm") in str(err.value)

    def drop_pixels(d: Path) -> None:
        import pydicom

        ds = pydicom.dcmread(d / "img002.dcm")
        del ds.PixelData
        ds.save_as(d / "img002.dcm")

    with pytest.raises(FileFormatError, match="without pixel data"):
        read_dicom_series(case("nopix", drop_pixels))


@pytest.mark.parametrize(
    ("element", "value", "match"),
    [
        ("PixelSpacing", ["0", "1.25"], "PixelSpacing"),
        ("PixelSpacing", ["nan", "1.25"], "PixelSpacing"),
        ("SliceThickness", "-6", "SliceThickness"),
        ("RescaleSlope", "nan", "rescaled pixel data"),
        ("ImagePositionPatient", ["0", "inf", "0"], "ImagePositionPatient"),
        ("ImageOrientationPatient", [0, 0, 0, 0, 0, 0], "ImageOrientationPatient"),
    ],
)
def test_dicom_geometry_and_values_must_be_valid(
    tmp_path: Path, write_dicom_series: Callable[..., None], element: str, value: object, match: str
) -> None:
    import warnings

    import pydicom

    write_dicom_series(tmp_path, np.ones((1, 1, 4, 5), np.uint16), positions=[0.0], shuffle=False)
    f = tmp_path / "img000.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(f)
        setattr(ds, element, value)
        ds.save_as(f)
    with pytest.raises(DataValueError, match=match) as err:
        read_dicom_series(tmp_path)
    assert str(tmp_path) in str(err.value)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("FOVx(mm),nan", "FOVx"),
        ("FOVy(mm),0", "FOVy"),
        ("SliceThickness(mm),-8", "SliceThickness"),
        ("SliceThickness(mm),1e400", "SliceThickness"),
        ("TR(ms),0", "TR"),
        ("TE(ms),-1", "TE"),
        ("ReconMatrix_X,nan", "ReconMatrix_X"),
        ("ReconMatrix_Y,1e9", "ReconMatrix_Y"),
        ("TI(ms),100,nan", "TI"),
    ],
)
def test_scan_csv_values_must_be_plausible(tmp_path: Path, row: str, match: str) -> None:
    path = tmp_path / "x_info.csv"
    path.write_text(f"Parameter,Value_1,Value_2\nFOVx(mm),300,\n{row}\n")
    with pytest.raises(DataValueError, match=match) as err:
        read_scan_csv(path)
    assert str(path) in str(err.value)
    path.write_text("Parameter,Value\nTE(ms),0\nFOVx(mm),300\n")  # TE = 0 is allowed
    assert read_scan_csv(path).te_s == 0.0


def test_nifti_voxel_sizes_and_values_are_checked(tmp_path: Path) -> None:
    vol = np.ones((2, 3, 4, 5), np.float32)
    good = write_nifti(tmp_path / "v.nii", vol, voxel_size_mm=(1.5, 1.25, 6.0), frame_time_s=0.04)
    assert read_nifti(good).voxel_size_mm == (1.5, 1.25, 6.0)
    cases: list[tuple[str, int, str, float, type[Exception], str]] = [
        ("zero", 76 + 4, "<f", 0.0, DataValueError, "voxel sizes"),  # nibabel alone would make it 1 mm
        ("neg", 76 + 8, "<f", -1.25, DataValueError, "voxel sizes"),
        ("nan", 352 + 8, "<f", float("nan"), DataValueError, "NaN/Inf"),
        ("srow", 280, "<f", float("inf"), DataValueError, "affine"),
        ("qcode", 252, "<h", 15802, FileFormatError, "qform_code 15802 not valid"),  # nibabel: set to 0
    ]
    for name, offset, fmt, value, error, match in cases:
        data = bytearray(good.read_bytes())
        struct.pack_into(fmt, data, offset, value)
        bad = tmp_path / f"{name}.nii"
        bad.write_bytes(bytes(data))
        for reader in (read_nifti, read_nifti_series):
            with pytest.raises(error, match=match) as err:
                reader(bad)
            assert str(bad) in str(err.value)


def test_ismrmrd_reader_still_reads_noise_and_flags(tmp_path: Path) -> None:
    """Valid files are unchanged: noise scans are skipped before the counter checks."""
    path = _ismrmrd(tmp_path / "ok.h5")
    noise = ismrmrd.Dataset(str(path), "dataset", create_if_needed=False)
    acq = _acq(
        np.ones((2, NX), np.complex64),
        ky=0,
        z=0,
        phase=40000,
        rep=0,
        flags=(ismrmrd.ACQ_IS_NOISE_MEASUREMENT,),
    )
    noise.append_acquisition(acq)
    noise.close()
    assert read_ismrmrd(path).kspace.shape == (1, 1, 2, NY, NX)
