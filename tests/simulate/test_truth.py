"""Ground-truth phenotypes, wall thickness and the sidecar file."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from cardiomm.simulate.truth import (
    phenotypes_from_labels,
    read_ground_truth,
    wall_thickness,
    write_ground_truth,
)


def _disc(shape: tuple[int, int], r: float, c: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - shape[0] / 2 - c[0]) ** 2 + (xx - shape[1] / 2 - c[1]) ** 2 <= r * r


def _volume(radii_endo: list[float], wall: float, rv: float) -> np.ndarray:
    out = np.zeros((len(radii_endo), 2, 80, 80), np.uint8)
    for t, r in enumerate(radii_endo):
        for z in range(2):
            out[t, z][_disc((80, 80), r + wall)] = 2
            out[t, z][_disc((80, 80), r)] = 1
            out[t, z][_disc((80, 80), rv * (1 - 0.1 * t), (0, -30))] = 3
    return out


def test_phenotypes_from_labels_match_independent_count() -> None:
    labels = _volume([15, 12, 9, 13], 5, 6)
    spacing, dt = (8.0, 1.5, 1.25), 0.25
    ph = phenotypes_from_labels(labels, spacing, dt)
    vox = 8.0 * 1.5 * 1.25 / 1000
    lv = [(labels[t] == 1).sum() * vox for t in range(4)]
    rv = [(labels[t] == 3).sum() * vox for t in range(4)]
    assert ph["ED frame"] == 0 and ph["ES frame"] == 2
    assert ph["LVEDV (mL)"] == pytest.approx(lv[0]) and ph["LVESV (mL)"] == pytest.approx(lv[2])
    assert ph["LVEF (%)"] == pytest.approx(100 * (lv[0] - lv[2]) / lv[0])
    assert ph["HR (bpm)"] == pytest.approx(60.0)
    assert ph["LVCO (L/min)"] == pytest.approx((lv[0] - lv[2]) * 60.0 / 1000)
    assert ph["LVM (g)"] == pytest.approx((labels[0] == 2).sum() * vox * 1.05)
    assert ph["RVEDV (mL)"] == pytest.approx(rv[0]) and ph["RVESV (mL)"] == pytest.approx(rv[2])


def test_wall_thickness_of_annulus() -> None:
    lab = np.zeros((1, 200, 200), np.uint8)
    lab[0][_disc((200, 200), 50)] = 2
    lab[0][_disc((200, 200), 35)] = 1
    wt = wall_thickness(lab, (0.5, 0.5))
    assert wt[0] == pytest.approx(7.5, abs=0.3)
    assert np.isnan(wall_thickness(np.zeros((1, 20, 20), np.uint8), (1.0, 1.0))[0])


def test_write_ground_truth_roundtrip(tmp_path: Path) -> None:
    labels = np.zeros((2, 1, 8, 8), np.uint8)
    labels[:, :, 2:4, 2:4] = 1
    maps = {"t1": np.full((2, 1, 8, 8), 1.2, np.float32)}
    meta = {"center": "Center001", "ti_s": np.array([0.1, 0.2])}
    path = write_ground_truth(
        tmp_path / "x_gt.h5",
        labels=labels,
        tissue=labels,
        maps=maps,
        metadata=meta,
        phenotypes={"LVEF (%)": 55.0},
    )
    got = read_ground_truth(path)
    np.testing.assert_array_equal(got["labels"], labels)
    assert got["metadata"]["ti_s"] == [0.1, 0.2] and got["phenotypes"]["LVEF (%)"] == 55.0
    with h5py.File(path) as f:
        assert f.attrs["LVEF (%)"] == 55.0 and f["maps/t1"].attrs["unit"] == "s"
        assert json.loads(f.attrs["metadata"])["center"] == "Center001"
    assert [p.name for p in tmp_path.iterdir()] == ["x_gt.h5"]
