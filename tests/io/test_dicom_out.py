"""Tests of cardiomm.io.dicom_out: MR image series written, read back with pydicom and the project reader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import config
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage
from pydicom.valuerep import validate_value

from cardiomm.errors import DataValueError, ShapeError
from cardiomm.io import read_dicom_series
from cardiomm.io.dicom_out import write_dicom_series
from cardiomm.io.geometry import ImageGeometry, image_geometry
from cardiomm.utils.atomic import TMP_PREFIX

N_T, N_Z, N_Y, N_X = 3, 4, 10, 24

# PS3.3 modules of the MR Image IOD (A.4): attributes of Type 1 (present, non-empty) and Type 2 (present).
TYPE1 = {
    "General Study": ["StudyInstanceUID"],
    "General Series": ["Modality", "SeriesInstanceUID"],
    "Frame of Reference": ["FrameOfReferenceUID"],
    "Image Plane": ["PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient"],
    "Image Pixel": [
        "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored",
        "HighBit", "PixelRepresentation", "PixelData",
    ],
    "MR Image": ["ImageType", "ScanningSequence", "SequenceVariant"],
    "SOP Common": ["SOPClassUID", "SOPInstanceUID"],
}  # fmt: skip
TYPE2 = {
    "Patient": ["PatientName", "PatientID", "PatientBirthDate", "PatientSex"],
    "General Study": ["StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber"],
    "General Series": ["SeriesNumber", "PatientPosition"],
    "Frame of Reference": ["PositionReferenceIndicator"],
    "General Equipment": ["Manufacturer"],
    "General Image": ["InstanceNumber"],
    "Image Plane": ["SliceThickness"],
    "MR Image": ["ScanOptions", "MRAcquisitionType", "EchoTime", "EchoTrainLength", "RepetitionTime"],
}


def _oblique_geometry(**kw: object) -> ImageGeometry:
    a = np.radians(30.0)
    row = np.array([np.cos(a), np.sin(a), 0.0])
    col = np.array([0.0, 0.0, -1.0])
    normal = np.cross(row, col)
    base: dict[str, object] = dict(
        pixel_spacing_mm=(1.5, 1.25),
        slice_thickness_mm=6.0,
        slice_spacing_mm=8.0,
        orientation=(*row, *col),
        positions_mm=tuple(tuple(float(v) for v in [3.0, -7.0, 11.0] + 8.0 * z * normal) for z in range(N_Z)),
        frame_dt_s=0.04,
        tr_s=0.003,
        te_s=0.0015,
        source="test",
    )
    base.update(kw)
    return ImageGeometry(**base)  # type: ignore[arg-type]


def _volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    vol = rng.random((N_T, N_Z, N_Y, N_X)).astype(np.float32) * 50.0
    vol += (100.0 * np.arange(N_T))[:, None, None, None] + (1000.0 * np.arange(N_Z))[None, :, None, None]
    return vol


def _read_all(folder: Path) -> list[pydicom.FileDataset]:
    files = sorted(folder.iterdir())
    assert all(f.suffix == ".dcm" for f in files)
    with config.strict_reading():
        return [pydicom.dcmread(f) for f in files]


def test_write_dicom_series_pixels_geometry_order(tmp_path: Path) -> None:
    vol, geo = _volume(), _oblique_geometry()
    out = write_dicom_series(tmp_path / "s", vol, geo, description="cardiomm CardioMM ktGaussian16")
    dss = _read_all(out)
    assert len(dss) == N_T * N_Z
    row, col = np.asarray(geo.orientation[:3]), np.asarray(geo.orientation[3:])
    normal = np.cross(row, col)
    seen = set()
    for ds in dss:
        # identify the image from its geometry and timing only, not from the instance number
        ipp = np.asarray(ds.ImagePositionPatient, float)
        z = int(np.argmin([np.linalg.norm(ipp - p) for p in geo.positions_mm]))
        np.testing.assert_allclose(ipp, geo.positions_mm[z], atol=1e-6)
        t = round(float(ds.TriggerTime) / 40.0)
        assert float(ds.TriggerTime) == pytest.approx(40.0 * t)
        assert ds.TemporalPositionIdentifier == t + 1 and ds.NumberOfTemporalPositions == N_T
        assert ds.CardiacNumberOfImages == N_T
        assert ds.InstanceNumber == z * N_T + t + 1  # slice-major, frames consecutive
        seen.add((t, z))
        np.testing.assert_allclose(np.asarray(ds.ImageOrientationPatient, float), geo.orientation, atol=1e-9)
        np.testing.assert_allclose(np.asarray(ds.PixelSpacing, float), [1.5, 1.25])
        assert float(ds.SliceThickness) == 6.0 and float(ds.SpacingBetweenSlices) == 8.0
        assert float(ds.SliceLocation) == pytest.approx(float(ipp @ normal))
        assert (ds.Rows, ds.Columns) == (N_Y, N_X)
        slope = float(ds.RescaleSlope)
        assert slope == pytest.approx(float(vol.max()) / 65535, rel=1e-9) and float(ds.RescaleIntercept) == 0
        values = ds.pixel_array.astype(np.float64) * slope
        assert ds.pixel_array.dtype == np.uint16
        assert np.abs(values - vol[t, z]).max() <= slope / 2 + 1e-5
        assert float(ds.RepetitionTime) == pytest.approx(3.0) and float(ds.EchoTime) == pytest.approx(1.5)
    assert seen == {(t, z) for t in range(N_T) for z in range(N_Z)}
    # the project's own reader (used by `cardiomm analyse`) gets the volume and geometry back
    series = read_dicom_series(out)
    assert series.magnitude.shape == vol.shape
    assert np.abs(series.magnitude - vol).max() <= float(vol.max()) / 65535 / 2 + 1e-5
    assert series.spacing == pytest.approx((6.0, 1.5, 1.25))
    assert series.slice_spacing == pytest.approx(8.0) and series.frame_dt == pytest.approx(0.04)


def test_write_dicom_series_required_mr_image_attributes_and_identity(tmp_path: Path) -> None:
    vol = _volume()
    key = "/data/P001/cine_sax.mat"
    a = write_dicom_series(tmp_path / "a", vol, _oblique_geometry(), description="x", source_key=key)
    b = write_dicom_series(tmp_path / "b", vol, _oblique_geometry(), description="y", source_key=key)
    c = write_dicom_series(tmp_path / "c", vol, _oblique_geometry(), description="z", source_key="other")
    dss = _read_all(a)
    for ds in dss:
        for module, names in TYPE1.items():
            for name in names:
                assert name in ds and ds[name].value not in (None, "", b""), f"{module}: {name}"
        for module, names in TYPE2.items():
            for name in names:
                assert name in ds, f"{module}: {name}"
        for elem in ds.iterall():  # every value conforms to its VR (length, characters, UID syntax)
            if elem.VR not in ("OB", "OW", "SQ"):
                values = (
                    elem.value if isinstance(elem.value, list | pydicom.multival.MultiValue) else [elem.value]
                )
                for v in values:  # DS / IS / PN are validated as the text written; empty is Type 2
                    if v not in (None, ""):
                        validate_value(elem.VR, str(v) if elem.VR in ("DS", "IS", "PN") else v, config.RAISE)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == MRImageStorage == ds.file_meta.MediaStorageSOPClassUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.preamble == b"\0" * 128
        assert ds.Modality == "MR" and list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert (ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.BitsAllocated) == (1, "MONOCHROME2", 16)
        assert ds.HighBit == ds.BitsStored - 1 == 15
        assert len(ds.PixelData) == N_Y * N_X * 2
        assert ds.SeriesDescription == "x"
        # synthetic identity only: nothing of the source path appears
        assert str(ds.PatientName).startswith("CARDIOMM^") and ds.PatientID.startswith("CMM-")
        assert "P001" not in str(ds.PatientName) + ds.PatientID and ds.PatientBirthDate == ""
    assert len({ds.SOPInstanceUID for ds in dss}) == len(dss)
    assert len({ds.SeriesInstanceUID for ds in dss}) == 1
    ds_a, ds_b, ds_c = dss[0], _read_all(b)[0], _read_all(c)[0]
    assert ds_a.SeriesInstanceUID != ds_b.SeriesInstanceUID  # a new series per call
    assert ds_a.StudyInstanceUID == ds_b.StudyInstanceUID != ds_c.StudyInstanceUID  # one study per source
    assert ds_a.FrameOfReferenceUID == ds_b.FrameOfReferenceUID != ds_c.FrameOfReferenceUID
    assert ds_a.PatientID == ds_b.PatientID != ds_c.PatientID
    all_uids = {ds_a.StudyInstanceUID, ds_a.SeriesInstanceUID, ds_a.FrameOfReferenceUID, ds_a.SOPInstanceUID}
    assert len(all_uids) == 4


def test_write_dicom_series_12_bit_crop_and_defaults_comment(tmp_path: Path) -> None:
    vol = _volume()[:, :2]
    geo = replace(image_geometry((N_T, 2, N_Y, N_X), time_resolved=True), readout_width=12)
    out = write_dicom_series(tmp_path / "s", vol, geo, description="d", bits_stored=12)
    dss = _read_all(out)
    ds = dss[0]
    assert ds.BitsStored == 12 and ds.HighBit == 11 and ds.Columns == 12
    assert "TriggerTime" not in ds  # frame interval unknown: no invented trigger times
    assert ds.CardiacNumberOfImages == N_T
    assert "defaults used" in ds.ImageComments and "orientation" in ds.ImageComments
    series = read_dicom_series(out)
    expected = vol[..., N_X // 2 - 6 : N_X // 2 + 6]  # central 12 of 24 columns
    slope = float(vol.max()) / 4095
    assert series.magnitude.shape == expected.shape
    assert max(int(d.pixel_array.max()) for d in dss) <= 4095
    assert np.abs(series.magnitude - expected).max() <= slope / 2 + 1e-4


def test_write_dicom_series_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vol, geo = _volume(), _oblique_geometry()
    out = write_dicom_series(tmp_path / "s", vol, geo, description="first")
    first = {f.name for f in out.iterdir()}
    calls = {"n": 0}
    real = pydicom.dcmwrite

    def failing(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pydicom, "dcmwrite", failing)
    with pytest.raises(OSError, match="disk full"):
        write_dicom_series(tmp_path / "s", vol * 2, geo, description="second")
    with pytest.raises(OSError, match="disk full"):
        calls["n"] = 0
        write_dicom_series(tmp_path / "new", vol, geo, description="second")
    monkeypatch.undo()
    # the old series is intact, the failed new one left nothing, no temporary folder remains
    assert {f.name for f in out.iterdir()} == first
    assert all(d.SeriesDescription == "first" for d in _read_all(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    # a successful rewrite replaces every file
    write_dicom_series(out, vol[:1], geo, description="third")
    assert len(list(out.iterdir())) == N_Z and not any(
        p.name.startswith(TMP_PREFIX) for p in tmp_path.iterdir()
    )


def test_write_dicom_series_bad_input(tmp_path: Path) -> None:
    vol, geo = _volume(), _oblique_geometry()
    with pytest.raises(DataValueError, match="negative"):
        write_dicom_series(tmp_path / "a", vol - 100.0, geo, description="d")
    with pytest.raises(DataValueError, match="NaN"):
        write_dicom_series(tmp_path / "a", np.full_like(vol, np.nan), geo, description="d")
    with pytest.raises(DataValueError, match="complex"):
        write_dicom_series(tmp_path / "a", vol.astype(np.complex64), geo, description="d")
    with pytest.raises(DataValueError, match="bits_stored"):
        write_dicom_series(tmp_path / "a", vol, geo, description="d", bits_stored=8)
    with pytest.raises(ShapeError, match="slice positions"):
        write_dicom_series(tmp_path / "a", vol[:, :2], geo, description="d")
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []
    # an all-zero image is valid (slope 1)
    out = write_dicom_series(tmp_path / "zero", np.zeros_like(vol), geo, description="d")
    assert float(_read_all(out)[0].RescaleSlope) == 1.0
