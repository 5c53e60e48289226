"""Signal equations against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.simulate import contrast as cs
from cardiomm.simulate.tissues import FIELD_STRENGTHS_T, Tissue, relaxation_table


def test_molli_look_locker_correction_exact() -> None:
    t1, t2, pd = np.array([1.0, 1.6]), np.array([0.05, 0.25]), np.array([0.8, 0.95])
    ti = np.linspace(0.1, 4.0, 8)
    sig = cs.molli(pd, t1, t2, ti)
    t1s = cs.molli_t1_star(t1, t2)
    a = pd * np.sin(np.deg2rad(35)) * t1s / t1
    b = pd * np.sin(np.deg2rad(35)) * (1 + t1s / t1)
    np.testing.assert_allclose(sig, a[:, None] - b[:, None] * np.exp(-ti / t1s[:, None]))
    np.testing.assert_allclose(t1s * (b / a - 1.0), t1)
    np.testing.assert_allclose(cs.molli(pd, t1, t2, [0.0])[:, 0], -pd * np.sin(np.deg2rad(35)))


def test_molli_inversion_times_5_3_3_acquisition_order() -> None:
    ti = cs.molli_inversion_times(1.0)
    np.testing.assert_allclose(ti, [0.10, 1.10, 2.10, 3.10, 4.10, 0.18, 1.18, 2.18])


def test_bssfp_optimal_flip_matches_sqrt_t2_over_t1() -> None:
    t1, t2 = 1.2, 0.045
    opt = np.degrees(np.arccos((t1 / t2 - 1) / (t1 / t2 + 1)))
    assert cs.bssfp(1.0, t1, t2, opt) == pytest.approx(0.5 * np.sqrt(t2 / t1), rel=1e-9)


def test_null_inversion_time_nulls() -> None:
    ti = cs.null_inversion_time(0.5, trec=2.0)
    assert cs.inversion_recovery(1.0, 0.5, ti, 2.0) == pytest.approx(0.0, abs=1e-12)
    assert cs.null_inversion_time(0.5) == pytest.approx(0.5 * np.log(2))


def test_gamma_variate_peak_and_timing() -> None:
    t = np.linspace(0, 30, 30001)
    c = cs.gamma_variate(t, 5.0, 3.0, 1.5, 4.0)
    assert c.max() == pytest.approx(4.0, rel=1e-6)
    assert t[np.argmax(c)] == pytest.approx(5.0 + 4.5, abs=1e-3)
    assert np.all(c[t <= 5.0] == 0)


def test_spamm_modulation_range_and_period() -> None:
    x = np.linspace(0, 16, 161)
    m = cs.spamm_modulation(x, np.zeros_like(x), 8.0)
    assert m.min() >= 0 and m.max() <= 1
    np.testing.assert_allclose(m[0], m[80], atol=1e-12)


def test_relaxation_table_field_dependence() -> None:
    tables = [relaxation_table(b) for b in FIELD_STRENGTHS_T]
    myo_t1 = [t[Tissue.MYOCARDIUM].t1 for t in tables]
    myo_t2s = [t[Tissue.MYOCARDIUM].t2s for t in tables]
    assert myo_t1 == sorted(myo_t1) and myo_t2s == sorted(myo_t2s, reverse=True)
    t15 = tables[1]
    assert t15[Tissue.MYOCARDIUM].t1 == pytest.approx(1.0)
    assert t15[Tissue.MYOCARDIUM].t2s == pytest.approx(0.035, rel=0.05)
    assert relaxation_table(2.25)[Tissue.BLOOD].t1 == pytest.approx(0.5 * (1.55 + 1.95))
