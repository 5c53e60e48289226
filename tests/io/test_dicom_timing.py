"""Slices of a cine stack with different numbers of frames (breath-holds at different heart rates):
frames matched by trigger time on one grid (:mod:`cardiomm.io.dicom_timing`), or refused.

Every image holds a value that is linear in its trigger time (and distinct per slice), so an image
interpolated between two frames has a known value."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.errors import ShapeError
from cardiomm.io import read_dicom_series

from .dicom_tags import retag

POSITIONS = [0.0, 8.0, 16.0, 24.0]


def _value(t_ms: float, z: int) -> float:
    return 100.0 + 2.0 * t_ms + 1000.0 * z


def _slice(
    write: Callable[..., None],
    root: Path,
    z: int,
    n_t: int,
    dt: float,
    slope: float = 1.0,
    rr_ms: float | None = None,
) -> None:
    """Slice ``z`` as its own series: ``n_t`` frames ``dt`` ms apart, stored values ``value / slope``."""
    values = np.array([_value(t * dt, z) / slope for t in range(n_t)])
    images = np.broadcast_to(values[:, None, None, None], (n_t, 1, 4, 3)).round().astype(np.uint16)
    write(
        root / f"sax{z}",
        images,
        positions=[POSITIONS[z]],
        uid=f"1.2.9.{z}",
        trigger_dt=dt,
        nominal_interval_ms=rr_ms,
    )
    retag(root / f"sax{z}", SeriesNumber=10 + z, SeriesDescription="sax", RescaleSlope=slope)


def test_slices_with_fewer_frames_cut_the_cine_to_the_times_all_have(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Prospective triggering: one breath-hold at a faster heart rate has 4 frames, the others 6, at
    the same trigger times: the first 4 frames of every slice, unchanged."""
    for z in range(len(POSITIONS)):
        _slice(write_dicom_series, tmp_path, z, 4 if z == 2 else 6, 40.0)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_timing"):
        got = read_dicom_series(tmp_path)
    want = np.array([[_value(40.0 * t, z) for z in range(4)] for t in range(4)], np.float32)
    np.testing.assert_array_equal(got.magnitude, np.broadcast_to(want[..., None, None], (4, 4, 4, 3)))
    assert got.frame_dt == pytest.approx(0.040)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "different numbers of frames [4, 6]" in said and "4 frames kept (0-120 ms" in said
    assert "0 images interpolated" in said


def test_retrospective_slices_are_matched_by_their_fraction_of_the_cycle(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Retrospective gating: three slices with 5 frames dividing a 200-ms cycle (40-ms steps), one with
    6 frames dividing a 180-ms cycle (30 ms, another heart rate; its images store half the value, slope
    2). Matched by fraction of each slice's R-R interval (``NominalInterval``): the odd slice at 0, 36,
    72, 108 and 144 ms, the linear blend of its two frames around each, of their rescaled values."""
    for z in range(len(POSITIONS)):
        if z == 1:
            _slice(write_dicom_series, tmp_path, z, 6, 30.0, slope=2.0, rr_ms=180.0)
        else:
            _slice(write_dicom_series, tmp_path, z, 5, 40.0, rr_ms=200.0)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_timing"):
        got = read_dicom_series(tmp_path)
    fraction = np.arange(5) / 5
    want = np.array([[_value(u * (180.0 if z == 1 else 200.0), z) for z in range(4)] for u in fraction])
    np.testing.assert_allclose(got.magnitude[..., 0, 0], want, atol=1.0)  # uint16 rounding of value / 2
    np.testing.assert_array_equal(got.magnitude[:, [0, 2, 3], 0, 0], want[:, [0, 2, 3]])
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "matched by fraction of each slice's R-R interval" in said and "5 frames kept" in said
    assert "4 images interpolated between two frames" in said


@pytest.mark.parametrize(
    ("frames", "dt", "message"),
    [
        ([6, 6, 2, 6], [40.0] * 4, r"\(by trigger time\) holds 2 of the 6 frames"),
        ([6, 6, 4, 6], [40.0, 40.0, 0.0, 40.0], r"share a trigger time"),
    ],
    ids=["too-few-common-frames", "no-trigger-times"],
)
def test_slices_whose_frames_cannot_be_matched_are_refused(
    write_dicom_series: Callable[..., None],
    tmp_path: Path,
    frames: list[int],
    dt: list[float],
    message: str,
) -> None:
    for z, (n_t, step) in enumerate(zip(frames, dt, strict=True)):
        _slice(write_dicom_series, tmp_path, z, n_t, step)
    with pytest.raises(ShapeError, match=message) as info:
        read_dicom_series(tmp_path)
    assert "different numbers of frames" in str(info.value) and str(tmp_path) in str(info.value)
