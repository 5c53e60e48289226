"""Phantom geometry: labels, motion, supersampling, analytic volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cardiomm.simulate.anatomy import HeartParams, contraction, sample_heart
from cardiomm.simulate.phantom import LABELS, Grid, View, render_frame
from cardiomm.simulate.tissues import Tissue


def test_contraction_ed_es_extremes() -> None:
    phase = np.linspace(0, 1, 201)
    c = contraction(phase, 0.35)
    assert c[0] == pytest.approx(0.0)
    assert c[np.argmin(np.abs(phase - 0.35))] == pytest.approx(1.0)
    assert c.min() >= 0 and c.max() <= 1 + 1e-12


def test_render_frame_label_convention_sax() -> None:
    grid = Grid(96, 128, 2.5, 2.5)
    maps = render_frame(HeartParams(), View.SAX, grid, phase=0.0, z=20.0)
    assert set(np.unique(maps.label)) == {0, 1, 2, 3}
    assert LABELS["LV"] == 1 and LABELS["MYO"] == 2 and LABELS["RV"] == 3
    assert np.all(maps.tissue[maps.label == 1] == Tissue.BLOOD)
    assert np.all(np.isin(maps.tissue[maps.label == 2], [Tissue.MYOCARDIUM, Tissue.INFARCT]))
    assert np.all(maps.tissue[maps.label == 3] == Tissue.BLOOD)


def test_render_frame_lv_area_matches_analytic_radius() -> None:
    p = HeartParams()
    grid = Grid(400, 400, 0.5, 0.5)
    for phase in (0.0, 0.35):
        endo, epi = p.lv_radii(30.0, float(contraction(phase, p.es_fraction)))
        maps = render_frame(p, View.SAX, grid, phase=phase, z=30.0)
        area_lv = (maps.label == 1).sum() * 0.25
        area_myo = (maps.label == 2).sum() * 0.25
        assert area_lv == pytest.approx(math.pi * endo**2, rel=0.02)
        assert area_myo == pytest.approx(math.pi * (epi**2 - endo**2), rel=0.03)


def test_lv_myocardial_area_conserved_over_cycle() -> None:
    p = HeartParams()
    areas = [(lambda r: r[1] ** 2 - r[0] ** 2)(p.lv_radii(25.0, c)) for c in (0.0, 0.5, 1.0)]
    np.testing.assert_allclose(areas, areas[0], rtol=1e-12)


@pytest.mark.parametrize("view", list(View))
def test_render_frame_every_view(view: View) -> None:
    grid = Grid(48, 64, 5.0, 5.0, ss=2)
    maps = render_frame(HeartParams(), view, grid, phase=0.2, velocity=True, material=True)
    assert maps.tissue.shape == (96, 128) and maps.label.shape == (96, 128)
    assert (maps.tissue != Tissue.AIR).mean() > 0.3
    assert maps.label.max() > 0


def test_render_frame_flow_velocity_only_in_vessels() -> None:
    grid = Grid(96, 128, 2.5, 2.5)
    maps = render_frame(HeartParams(), View.AORTA_TRA, grid, phase=0.15, velocity=True)
    assert maps.velocity is not None
    moving = maps.velocity != 0
    assert moving.any() and np.all(maps.tissue[moving] == Tissue.BLOOD)
    assert maps.velocity.max() > 50  # ascending aorta, systole [cm/s]


def test_tagging_material_coordinates_static_outside_heart() -> None:
    grid = Grid(64, 64, 4.0, 4.0)
    maps = render_frame(HeartParams(), View.SAX, grid, phase=0.35, z=20.0, material=True)
    yy, xx = grid.coords()
    outside = maps.label == 0
    assert maps.x0 is not None and maps.y0 is not None
    np.testing.assert_array_equal(maps.x0[outside], xx[outside])
    myo = maps.label == 2
    assert np.abs(maps.x0[myo] - xx[myo]).max() > 1.0  # the wall moved since ED


def test_sample_heart_disease_ordering() -> None:
    rng = np.random.default_rng(0)
    dcm = sample_heart("DCM", "Adult", rng)
    hcm = sample_heart("HCM", "Adult", rng)
    ped = sample_heart("NC", "Pediatric", rng)
    assert dcm.lv_radius_ed > hcm.lv_radius_ed and hcm.wall_ed > dcm.wall_ed
    assert ped.body_scale < 0.8 and ped.heart_rate > 75
    assert sample_heart("MI", "Adult", np.random.default_rng(1)).infarct is not None
