"""Tests of the AHA 16-segment assignment on synthetic geometry with a known septum."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cardiomm.analysis.aha import (
    LEVEL_APEX,
    LEVEL_BASE,
    LEVEL_MID,
    aha_segments,
    segment_ids,
    septum_geometry,
    slice_levels,
)
from cardiomm.analysis.labels import ACDC_TO_CARDIOMM, acdc_to_cardiomm, cardiomm_to_acdc, remap_labels
from cardiomm.errors import DataValueError


def _point(centre: tuple[float, float], angle_deg: float, r: float = 24.0) -> tuple[float, float]:
    a = np.deg2rad(angle_deg)
    return centre[0] - r * np.sin(a), centre[1] + r * np.cos(a)


def test_septum_geometry_finds_insertion_points(phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=1, n_slices=1, rv_half_angle_deg=60.0)
    geo = septum_geometry(ph.labels[0])
    assert geo.measured[0]
    assert np.degrees(geo.septum_angle[0]) % 360 == pytest.approx(180.0, abs=3.0)
    np.testing.assert_allclose(geo.centre[0], ph.centre, atol=0.5)
    cy, cx = ph.centre
    ins = sorted(np.degrees(np.arctan2(-(p[0] - cy), p[1] - cx)) % 360 for p in geo.insertion_points[0])
    np.testing.assert_allclose(ins, [120.0, 240.0], atol=6.0)  # contact band of 2 px


@pytest.mark.parametrize(
    ("level", "angle", "expected"),
    [
        (LEVEL_BASE, 90, 1),
        (LEVEL_BASE, 150, 2),
        (LEVEL_BASE, 210, 3),
        (LEVEL_BASE, 270, 4),
        (LEVEL_BASE, 330, 5),
        (LEVEL_BASE, 30, 6),
        (LEVEL_MID, 90, 7),
        (LEVEL_MID, 150, 8),
        (LEVEL_MID, 210, 9),
        (LEVEL_MID, 270, 10),
        (LEVEL_MID, 330, 11),
        (LEVEL_MID, 30, 12),
        (LEVEL_APEX, 90, 13),
        (LEVEL_APEX, 180, 14),
        (LEVEL_APEX, 270, 15),
        (LEVEL_APEX, 0, 16),
    ],
)
def test_segment_ids_standard_orientation(level: int, angle: float, expected: int) -> None:
    centre = (64.0, 64.0)
    y, x = _point(centre, angle)
    assert segment_ids(np.array([y]), np.array([x]), centre, np.pi, level)[0] == expected


def test_segment_ids_mirrored_orientation() -> None:
    centre = (64.0, 64.0)
    y, x = _point(centre, 30.0)  # septum on the right (angle 0): 30 deg is then anteroseptal when clockwise
    assert segment_ids([y], [x], centre, 0.0, LEVEL_MID, counterclockwise=False)[0] == 8
    assert segment_ids([y], [x], centre, 0.0, LEVEL_MID, counterclockwise=True)[0] == 9


def test_aha_segments_cover_myocardium_and_levels(phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=1, n_slices=9)
    seg = aha_segments(ph.labels[0])
    myo = ph.labels[0] == 2
    assert np.all(seg[myo] > 0) and np.all(seg[~myo] == 0)
    assert set(np.unique(seg[0])) - {0} == set(range(1, 7))
    assert set(np.unique(seg[4])) - {0} == set(range(7, 13))
    assert set(np.unique(seg[8])) - {0} == set(range(13, 17))
    # equal sectors: mid-slice segments hold about a sixth of the ring each
    counts = np.bincount(seg[4][myo[4]], minlength=13)[7:]
    assert counts.min() > 0.9 * counts.mean()


def test_slice_levels_infers_base_from_area() -> None:
    lab = np.zeros((7, 20, 20), np.uint8)
    for z in range(6):  # slice 0 empty, slices 1..6 shrink towards the apex at the end
        r = 8 - z
        yy, xx = np.mgrid[:20, :20]
        lab[z + 1][(yy - 10) ** 2 + (xx - 10) ** 2 <= r**2] = 2
    np.testing.assert_array_equal(slice_levels(lab), [0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(slice_levels(lab[::-1]), [3, 3, 2, 2, 1, 1, 0])
    np.testing.assert_array_equal(slice_levels(lab, base_first=False), [0, 3, 3, 2, 2, 1, 1])


def test_label_converters_roundtrip() -> None:
    acdc = np.array([[0, 1, 2, 3]])
    np.testing.assert_array_equal(acdc_to_cardiomm(acdc), [[0, 3, 2, 1]])
    np.testing.assert_array_equal(cardiomm_to_acdc(acdc_to_cardiomm(acdc)), acdc)
    with pytest.raises(DataValueError):
        remap_labels(np.array([5]), ACDC_TO_CARDIOMM)
    np.testing.assert_array_equal(remap_labels(np.array([5, 1]), ACDC_TO_CARDIOMM, strict=False), [0, 3])
