"""Tests of cardiomm.io.geometry: geometry of reconstructions from _info.csv, ISMRMRD headers or defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiomm.errors import ShapeError
from cardiomm.io.geometry import DEFAULT_ORIENTATION, crop_readout, image_geometry
from cardiomm.io.ismrmrd_h5 import IsmrmrdGeometry
from cardiomm.io.scan_csv import ScanParameters


def _params(**kw: object) -> ScanParameters:
    base: dict[str, object] = dict(
        fov_x_mm=360.0,
        fov_y_mm=288.0,
        recon_matrix_x=64,
        recon_matrix_y=48,
        slice_thickness_mm=8.0,
        tr_s=0.05,
        te_s=0.0015,
        extras={"SliceSpacing": 10.0, "SequenceTR": 3.0},
    )
    base.update(kw)
    return ScanParameters(**base)  # type: ignore[arg-type]


def test_crop_readout_keeps_the_central_columns() -> None:
    row = np.arange(10.0)
    np.testing.assert_array_equal(crop_readout(row, 5), [3, 4, 5, 6, 7])  # start 10 // 2 - 5 // 2 = 3
    np.testing.assert_array_equal(crop_readout(row, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(crop_readout(np.arange(9.0), 4), [2, 3, 4, 5])
    np.testing.assert_array_equal(crop_readout(row, None), row)
    np.testing.assert_array_equal(crop_readout(row, 12), row)
    vol = np.arange(2 * 3 * 4 * 8.0).reshape(2, 3, 4, 8)
    np.testing.assert_array_equal(crop_readout(vol, 4), vol[..., 2:6])
    with pytest.raises(ShapeError):
        crop_readout(row, 0)


def test_image_geometry_scan_csv_crops_oversampling_and_centres_the_stack() -> None:
    geo = image_geometry((5, 3, 48, 128), params=_params(), time_resolved=True)
    assert geo.readout_width == 64  # 128 = 2 x ReconMatrix_X
    assert geo.pixel_spacing_mm == pytest.approx((288 / 48, 360 / 64))  # (dy, dx) = FOV / n after the crop
    assert geo.slice_thickness_mm == 8.0 and geo.slice_spacing_mm == 10.0
    assert geo.frame_dt_s == pytest.approx(0.05) and geo.tr_s == pytest.approx(0.003)
    assert geo.te_s == pytest.approx(0.0015)
    assert geo.defaulted == {"orientation", "position"} and geo.source == "_info.csv"
    assert geo.orientation == DEFAULT_ORIENTATION
    # the centre pixel (24, 32) of the cropped 48 x 64 image of slice z lies at (0, 0, (z - 1) * 10)
    for z, ipp in enumerate(geo.positions_mm):
        np.testing.assert_allclose(ipp, [-32 * 5.625, -24 * 6.0, (z - 1) * 10.0])
    assert "orientation" in geo.describe_defaults() and "pixel spacing" not in geo.describe_defaults()


def test_image_geometry_scan_csv_fov_over_n_frame_time_fix_and_mapping() -> None:
    # UIH / Center007: no oversampling, ReconMatrix_X is the 2x interpolated matrix -> FOV / image size
    geo = image_geometry((5, 3, 40, 48), params=_params(recon_matrix_x=96), time_resolved=True)
    assert geo.readout_width is None
    assert geo.pixel_spacing_mm == pytest.approx((288 / 40, 360 / 48))
    geo = image_geometry((5, 1, 48, 64), params=_params(), time_resolved=True, frame_time_scale=10.0)
    assert geo.frame_dt_s == pytest.approx(0.5)
    # not a cardiac time axis: TR is the sequence TR, one inversion time per frame
    params = _params(ti_list_s=(0.1, 0.2, 0.3), extras={})
    geo = image_geometry((3, 1, 48, 64), params=params)
    assert geo.frame_dt_s is None and geo.tr_s == pytest.approx(0.05)
    assert geo.inversion_times_s == (0.1, 0.2, 0.3)
    assert geo.slice_spacing_mm == 8.0  # no SliceSpacing: the thickness
    # a CSV without FOV or thickness: those are defaults
    bare = ScanParameters(defaulted=frozenset({"slice_thickness_mm"}))
    geo = image_geometry((2, 2, 10, 20), params=bare, time_resolved=True)
    assert {"pixel_spacing", "slice_thickness", "frame_time"} <= geo.defaulted


def test_image_geometry_defaults_are_listed() -> None:
    geo = image_geometry((4, 2, 10, 20), time_resolved=True)
    assert geo.defaulted == {"pixel_spacing", "slice_thickness", "orientation", "position", "frame_time"}
    assert geo.pixel_spacing_mm == (2.0, 2.0) and geo.slice_thickness_mm == 8.0 and geo.frame_dt_s is None
    np.testing.assert_allclose(geo.positions_mm, [[-20.0, -10.0, -4.0], [-20.0, -10.0, 4.0]])
    text = geo.describe_defaults()
    for word in ("pixel spacing 2 x 2 mm", "slice thickness 8 mm", "orientation", "position", "frame"):
        assert word in text
    assert image_geometry((1, 2, 10, 20)).defaulted == {
        "pixel_spacing",
        "slice_thickness",
        "orientation",
        "position",
    }
    with pytest.raises(ShapeError):
        image_geometry((2, 10, 20))


def test_image_geometry_from_ismrmrd_header_oblique() -> None:
    angle = np.radians(25.0)
    read = np.array([np.cos(angle), np.sin(angle), 0.0])
    phase = np.array([0.0, 0.0, -1.0])
    normal = np.cross(read, phase)
    centres = [np.array([5.0, -12.0, 40.0]) + 9.0 * z * normal for z in range(2)]
    header = IsmrmrdGeometry(
        encoded_fov_mm=(300.0, 225.0, 7.0),
        recon_fov_mm=(150.0, 225.0, 7.0),
        encoded_matrix=(32, 12),
        recon_matrix=(16, 12),
        positions_mm=tuple((float(c[0]), float(c[1]), float(c[2])) for c in centres),
        read_dir=tuple(read),  # type: ignore[arg-type]
        phase_dir=tuple(phase),  # type: ignore[arg-type]
        slice_dir=tuple(normal),  # type: ignore[arg-type]
        tr_s=0.0032,
        patient_position="HFS",
    )
    geo = image_geometry((4, 2, 12, 32), header=header, params=_params(), time_resolved=True)
    dx, dy = 300.0 / 32, 225.0 / 12
    assert geo.source == "ISMRMRD header" and geo.readout_width == 16  # recon FOV 150 mm / dx
    assert geo.pixel_spacing_mm == pytest.approx((dy, dx))
    assert geo.slice_thickness_mm == 7.0 and geo.slice_spacing_mm == pytest.approx(9.0)
    np.testing.assert_allclose(geo.orientation, [*read, *phase], atol=1e-12)
    assert geo.defaulted == {"frame_time"} and geo.tr_s == 0.0032 and geo.patient_position == "HFS"
    row, col = np.asarray(geo.orientation[:3]), np.asarray(geo.orientation[3:])
    for ipp, centre in zip(geo.positions_mm, centres, strict=True):
        # the FOV centre is pixel (12 // 2, 16 // 2) of the cropped image
        np.testing.assert_allclose(np.asarray(ipp) + 8 * dx * row + 6 * dy * col, centre, atol=1e-9)


def test_nifti_affine_maps_voxels_to_the_dicom_positions_in_ras(tmp_path: Path) -> None:
    """Voxel (i, j, k) of the stored (x, y, z) array lands where DICOM puts pixel (row j, column i) of
    slice k, with LPS -> RAS (x, y negated); the oversampled grid is shifted by the crop start."""
    import nibabel as nib

    from cardiomm.io.geometry import ImageGeometry
    from cardiomm.io.nifti import write_nifti

    row = np.array([0.0, np.cos(0.3), np.sin(0.3)])
    col = np.array([np.cos(0.5), 0.0, -np.sin(0.5)])
    col -= row * (row @ col)
    col /= np.linalg.norm(col)
    normal = np.cross(row, col)
    firsts = [np.array([10.0, -20.0, 30.0]) + k * 8.0 * normal for k in range(3)]
    geom = ImageGeometry(
        pixel_spacing_mm=(1.5, 1.25),
        slice_thickness_mm=8.0,
        slice_spacing_mm=8.0,
        orientation=(*row, *col),
        positions_mm=tuple(tuple(float(v) for v in p) for p in firsts),
        readout_width=40,
    )
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    aff = geom.nifti_affine()
    for i, j, k in ((0, 0, 0), (7, 3, 2), (39, 29, 1)):
        want = (firsts[k] + i * 1.25 * row + j * 1.5 * col) * lps_to_ras
        np.testing.assert_allclose(aff @ [i, j, k, 1.0], [*want, 1.0], atol=1e-9)
    full = geom.nifti_affine(n_x=80)  # stored grid keeps the 2x oversampling: crop start 20
    np.testing.assert_allclose(full @ [25, 4, 1, 1.0], aff @ [5, 4, 1, 1.0], atol=1e-9)
    path = write_nifti(
        tmp_path / "v.nii.gz",
        np.ones((2, 3, 30, 80), np.float32),
        voxel_size_mm=(1.25, 1.5, 8.0),
        affine=full,
    )
    back = nib.load(path)
    np.testing.assert_allclose(back.affine, full, atol=1e-4)
    np.testing.assert_allclose(back.header.get_zooms()[:3], (1.25, 1.5, 8.0), rtol=1e-5)
