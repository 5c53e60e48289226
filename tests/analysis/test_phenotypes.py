"""Tests of the cine phenotypes on label phantoms with analytically known volumes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cardiomm.analysis.phenotypes import PHENOTYPES, compute_phenotypes, qc_flags
from cardiomm.analysis.wall_thickness import wall_thickness
from cardiomm.errors import DataValueError, ShapeError


def test_phenotypes_match_analytic_volumes(phantom: Callable[..., object]) -> None:
    ph = phantom()
    nz = ph.labels.shape[1]
    vox_ml = np.prod(ph.spacing_mm) * 1e-3
    ed_lv = np.pi * ph.r_lv[0] ** 2 * nz * vox_ml
    es_i = int(np.argmin(ph.r_lv))
    es_lv = np.pi * ph.r_lv[es_i] ** 2 * nz * vox_ml
    sector = 2 * ph.rv_half_angle_deg / 360.0
    ed_rv = sector * np.pi * (ph.rv_outer[0] ** 2 - ph.rv_inner**2) * nz * vox_ml
    es_rv = sector * np.pi * (ph.rv_outer[es_i] ** 2 - ph.rv_inner**2) * nz * vox_ml
    lvm = np.pi * (ph.r_epi**2 - ph.r_lv[0] ** 2) * nz * vox_ml * 1.05
    hr = 60.0 / (ph.labels.shape[0] * ph.frame_dt_s)

    res = compute_phenotypes(ph.labels, ph.spacing_mm, ph.frame_dt_s)
    assert (res.ed_frame, res.es_frame) == (0, es_i)
    assert res.heart_rate_bpm == pytest.approx(hr)
    rel = 0.015
    assert res.lvedv_ml == pytest.approx(ed_lv, rel=rel)
    assert res.lvesv_ml == pytest.approx(es_lv, rel=rel)
    assert res.lvsv_ml == pytest.approx(ed_lv - es_lv, rel=0.03)
    assert res.lvef_pct == pytest.approx(100 * (ed_lv - es_lv) / ed_lv, abs=1.0)
    assert res.lvco_l_min == pytest.approx((ed_lv - es_lv) * hr * 1e-3, rel=0.03)
    assert res.lvm_g == pytest.approx(lvm, rel=rel)
    assert res.rvedv_ml == pytest.approx(ed_rv, rel=0.03)
    assert res.rvesv_ml == pytest.approx(es_rv, rel=0.03)
    assert res.rvef_pct == pytest.approx(100 * (ed_rv - es_rv) / ed_rv, abs=1.5)
    wt = (ph.r_epi - ph.r_lv[0]) * ph.spacing_mm[1]
    assert res.wt_global_mm == pytest.approx(wt, rel=0.05)
    assert res.passed_qc, res.qc_flags
    assert set(res.values()) == set(PHENOTYPES) and len(PHENOTYPES) == 11
    row = res.as_dict(with_segments=True)
    assert row["LVEDV (mL)"] == res.lvedv_ml and row["QC"] == "" and "WT_AHA_16 (mm)" in row


def test_wall_thickness_per_segment_uniform_annulus(phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=1, n_slices=9, spacing_mm=(8.0, 1.2, 1.2))
    wt = wall_thickness(ph.labels[0], (1.2, 1.2))
    expected = (ph.r_epi - ph.r_lv[0]) * 1.2
    assert wt.global_mm == pytest.approx(expected, rel=0.05)
    assert np.all(np.isfinite(wt.segment_mean_mm))
    np.testing.assert_allclose(wt.segment_mean_mm, expected, rtol=0.07)
    assert all(m >= s for m, s in zip(wt.segment_max_mm, wt.segment_mean_mm, strict=True))


def test_wall_thickness_anisotropic_spacing() -> None:
    yy, xx = np.mgrid[:96, :96].astype(float)
    # an ellipse in pixels that is a circle in mm with dy = 2 dx
    r = np.hypot((yy - 48) * 2.0, (xx - 48) * 1.0)
    sl = np.zeros((96, 96), np.uint8)
    sl[r <= 40] = 2
    sl[r <= 30] = 1
    wt = wall_thickness(sl, (2.0, 1.0), levels=[2])
    assert wt.global_mm == pytest.approx(10.0, abs=1.0)


def test_qc_flags_missing_labels_and_few_slices(phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=2, n_slices=4)
    lab = ph.labels.copy()
    lab[lab == 3] = 0
    flags = qc_flags(lab, 0, 1)
    assert "missing_RV_ED" in flags and "missing_RV_ES" in flags and "few_slices" in flags
    lab2 = ph.labels.copy()
    lab2[0, 1:, :, :][lab2[0, 1:] == 2] = 0  # MYO in one slice only ...
    lab2[0, 0][lab2[0, 0] == 2] = 0
    lab2[0, 0, 60:62, 40:44] = 2  # ... 8 pixels
    assert "small_MYO_ED" in qc_flags(lab2, 0, 1)
    single = compute_phenotypes(ph.labels[:1], ph.spacing_mm, with_wall_thickness=False)
    assert "single_frame" in single.qc_flags and single.lvsv_ml == 0 and np.isnan(single.lvco_l_min)
    assert np.isnan(single.wt_global_mm)


def test_qc_flag_irregular_lv_curve(phantom: Callable[..., object]) -> None:
    """A smooth cycle passes (total variation = 2 x range); a segmentation that loses the cavity in
    every other frame is flagged; short stacks are not judged."""
    ph = phantom(n_frames=12, n_slices=6, size=64, r_ed=14, r_es=9, r_epi=20)
    assert "irregular_lv_curve" not in qc_flags(ph.labels, 0, 6)
    jumpy = ph.labels.copy()
    for t in range(1, 12, 2):
        jumpy[t, :3][jumpy[t, :3] == 1] = 2  # half the cavity drawn as myocardium in odd frames
    assert "irregular_lv_curve" in qc_flags(jumpy, 0, 6)
    assert "irregular_lv_curve" not in qc_flags(jumpy[:6], 0, 3)


def test_phenotypes_input_errors(phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=2, n_slices=6)
    with pytest.raises(ShapeError):
        compute_phenotypes(ph.labels[0, 0], ph.spacing_mm)
    with pytest.raises(DataValueError):
        compute_phenotypes(ph.labels, (8.0, 1.5))  # type: ignore[arg-type]
    with pytest.raises(DataValueError):
        compute_phenotypes(ph.labels.astype(float), ph.spacing_mm)
    with pytest.raises(DataValueError):
        compute_phenotypes(ph.labels, ph.spacing_mm, frame_dt_s=-1.0)
