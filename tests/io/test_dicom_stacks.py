"""How a DICOM folder becomes one stack: series per slice, position noise, mixed series, R-R interval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.errors import InputFileError
from cardiomm.io import read_dicom_series

N_T, N_Z = 3, 4
POSITIONS = [0.0, 8.0, 16.0, 24.0]


def _images() -> np.ndarray:
    """(t, z, y, x) uint16 with every image distinct (value = 100 t + 10 z + 1 plus a ramp)."""
    t, z = np.meshgrid(np.arange(N_T), np.arange(N_Z), indexing="ij")
    ramp = np.arange(6 * 5, dtype=np.uint16).reshape(6, 5)
    return (100 * t + 10 * z + 1)[..., None, None].astype(np.uint16) + ramp


def _edit(folder: Path, change: Callable[[object, int], None]) -> None:
    """Apply ``change(dataset, k)`` to every file of ``folder`` (k: the file's rank by name)."""
    import pydicom

    for k, f in enumerate(sorted(folder.rglob("*.dcm"))):
        ds = pydicom.dcmread(f)
        change(ds, k)
        ds.save_as(f, enforce_file_format=True)


def test_one_series_per_slice_reads_as_the_stack(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    imgs = _images()
    write_dicom_series(tmp_path / "one", imgs, positions=POSITIONS)
    for z, pos in enumerate(POSITIONS):  # as archives deliver short-axis cines: a series per slice
        write_dicom_series(
            tmp_path / "split" / f"sax_{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}"
        )
    first = sorted((tmp_path / "split").rglob("*.dcm"))[0]
    (tmp_path / "split" / "copy.dcm").write_bytes(first.read_bytes())  # the same image exported twice
    one, split = read_dicom_series(tmp_path / "one"), read_dicom_series(tmp_path / "split")
    np.testing.assert_array_equal(one.magnitude, imgs.astype(np.float32))
    np.testing.assert_array_equal(split.magnitude, one.magnitude)
    assert split.slice_spacing == one.slice_spacing == 8.0
    np.testing.assert_allclose(np.asarray(split.slice_positions), POSITIONS)


def test_series_that_are_not_one_stack_are_listed(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    imgs = _images()
    write_dicom_series(tmp_path / "mix", imgs, positions=POSITIONS)
    write_dicom_series(tmp_path / "mix" / "loc", imgs[:1, :1], positions=[0.0], uid="1.2.8")

    def localizer(ds: object, _: int) -> None:
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # type: ignore[attr-defined]  # sagittal
        ds.SeriesDescription = "localizer"  # type: ignore[attr-defined]

    _edit(tmp_path / "mix" / "loc", localizer)
    with pytest.raises(InputFileError, match=r"2 series that are not one stack.*'localizer' \(1 images\)"):
        read_dicom_series(tmp_path / "mix")
    write_dicom_series(tmp_path / "rep", imgs, positions=POSITIONS)
    write_dicom_series(tmp_path / "rep" / "again", imgs[:, 1:2], positions=[8.0], uid="1.2.7")
    with pytest.raises(InputFileError, match="2 series hold images at the same slice position"):
        read_dicom_series(tmp_path / "rep")


def test_position_noise_within_a_slice_is_tolerated(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    imgs = _images()
    write_dicom_series(
        tmp_path / "s", imgs, positions=[p + 0.005 for p in POSITIONS]
    )  # 0.01-mm rounding edge
    jitter = np.random.default_rng(1).uniform(-0.004, 0.004, N_T * N_Z)

    def nudge(ds: object, k: int) -> None:
        x, y, z = (float(v) for v in ds.ImagePositionPatient)  # type: ignore[attr-defined]
        ds.ImagePositionPatient = [x, y, z + float(jitter[k])]  # type: ignore[attr-defined]

    _edit(tmp_path / "s", nudge)
    series = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(series.magnitude, imgs.astype(np.float32))
    assert series.slice_spacing == pytest.approx(8.0, abs=0.01)


def test_rr_interval_is_the_median_over_the_images(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    write_dicom_series(tmp_path / "s", _images(), positions=POSITIONS, nominal_interval_ms=800.0)
    _edit(tmp_path / "s", lambda ds, k: setattr(ds, "NominalInterval", 700.0 + 10 * (k % 5)))  # 700-740
    expected = np.median([700.0 + 10 * (k % 5) for k in range(N_T * N_Z)]) * 1e-3  # not the first file's
    assert read_dicom_series(tmp_path / "s").rr_interval == pytest.approx(expected) != 0.700
