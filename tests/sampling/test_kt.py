"""Tests of the k-t masks: ktGaussian (vs a literal MATLAB transcription), ktdup, randp, ktUniform."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.errors import ConfigError, MaskError
from cardiomm.sampling import KtGaussianMask, KtUniformMask, ktdup, matlab_rng, randp
from cardiomm.sampling.kt import kt_gaussian_density


def test_matlab_rng_matches_published_matlab_streams() -> None:
    # MATLAB: rng(1); rand(1,5) -> 0.4170 0.7203 0.0001 0.3023 0.1468 ; rng default (seed 0); rand -> 0.8147
    np.testing.assert_allclose(matlab_rng(1).rand(5), [0.4170, 0.7203, 0.0001, 0.3023, 0.1468], atol=5e-5)
    assert matlab_rng(0).rand() == pytest.approx(0.8147, abs=5e-5)
    with pytest.raises(ConfigError):
        matlab_rng(2**32)


def test_randp_is_inverse_cdf_with_histc_bins() -> None:
    u = np.array([0.0, 0.2499, 0.25, 0.7499, 0.75, 0.9999])
    assert randp(np.array([1.0, 2.0, 1.0]), u).tolist() == [0, 0, 1, 1, 2, 2]
    # zero-weight entries are never drawn
    draws = randp(np.array([1.0, 0.0, 0.0, 1.0]), np.random.default_rng(0).random(1000))
    assert set(draws.tolist()) == {0, 3}
    with pytest.raises(MaskError):
        randp(np.array([1.0, -1.0]), u)


def test_ktdup_official_case_moves_duplicate_to_nearest_vacancy() -> None:
    # ktdup.m reference case: ph = [0 0 1 2], ti = [0 0 0 1], ny = 6, nt = 4 (centred coordinates)
    ky = np.array([0, 0, 1, 2]) + 6 // 2
    frame = np.array([0, 0, 0, 1]) + 4 // 2
    assert ktdup(ky, frame, 6, 4).tolist() == [3, 2, 4, 5]


def test_ktdup_ties_go_to_lower_ky_and_order_by_position() -> None:
    assert ktdup(np.array([3, 3]), np.array([0, 0]), 8, 1).tolist() == [3, 2]
    # duplicates are processed by ascending grid position (4 before 5), not by input order
    assert ktdup(np.array([5, 5, 4, 4]), np.zeros(4, int), 6, 1).tolist() == [5, 2, 4, 3]
    # never moves across frames
    out = ktdup(np.array([1, 1, 1]), np.array([0, 0, 1]), 3, 2)
    assert out.tolist() == [1, 0, 1]


def _matlab_kt_gaussian(
    nx: int, ny: int, nt: int, ncalib: int, r: int, alpha: float, seed: int
) -> np.ndarray:
    """Literal transcription of ktGaussianSampling.m / randp.m / ktdup.m (1-based, column-major)."""
    p1 = np.arange(-np.floor(ny / 2), np.ceil(ny / 2))
    tr = int(np.floor(ny / r + 0.5))
    sig = ny / 5
    prob = 0.1 + alpha / (1 - alpha + 1e-10) * np.exp(-(p1**2) / (1 * sig**2))
    tmp_sd = np.floor(1e6 * np.random.RandomState(seed).rand(nt) + 0.5).astype(int)
    ph, ti = [], []
    for i in range(-(nt // 2), -(-nt // 2)):
        sd = int(tmp_sd[i + nt // 2])
        x = np.random.RandomState(sd if sd else 5489).rand(tr)
        edges = np.concatenate(([0.0], np.cumsum(prob))) / np.cumsum(prob)[-1]
        k = np.digitize(x, edges)  # histc bin, 1-based
        ph += list(k - np.floor(ny / 2) - 1)
        ti += [i] * tr
    ph = np.array(ph) + np.ceil((ny + 1) / 2)
    ti = np.array(ti) + np.ceil((nt + 1) / 2)
    pt = ((ti - 1) * ny + ph).astype(int)
    uniq, counts = np.unique(pt, return_counts=True)
    dupind = [j for v in uniq[counts != 1] for j in np.flatnonzero(pt == v)[1:]]
    empind = np.setdiff1d(np.arange(1, ny * nt + 1), pt)
    for j in dupind:
        x0, y0 = pt[j] - ((pt[j] - 1) // ny) * ny, -(-pt[j] // ny)
        x, y = empind - ((empind - 1) // ny) * ny, -(-empind // ny)
        dis = np.sqrt((x - x0) ** 2 + np.where((y - y0) ** 2 > 0, np.inf, 0.0))
        pt[j] = empind[np.argmin(dis)]
        empind = np.setdiff1d(empind, pt[j])
    samp = np.zeros(ny * nt)
    samp[pt - 1] = 1
    samp = samp.reshape(nt, ny)  # column-major (ny, nt) -> (t, ky)
    acs = np.zeros(ny)
    acs[ny // 2 - ncalib // 2 : ny // 2 - ncalib // 2 + ncalib] = 1
    lines = (samp + acs[None]) > 0
    return np.broadcast_to(lines[:, :, None], (nt, ny, nx))


@pytest.mark.parametrize(
    ("ny", "nt", "accel", "seed"), [(31, 7, 4, 10), (31, 7, 8, 42), (246, 12, 16, 1), (97, 1, 8, 7)]
)
def test_kt_gaussian_follows_matlab_transcription(ny: int, nt: int, accel: int, seed: int) -> None:
    nx, acs = 8, 8
    ours = KtGaussianMask(accel, acs=acs)((nt, ny, nx), seed=seed)
    ref = _matlab_kt_gaussian(nx, ny, nt, acs, accel, 0.2, seed)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("accel", [8, 16, 24])
def test_kt_gaussian_frames_hold_tr_distinct_lines_plus_acs(accel: int) -> None:
    nx, ny, nt, acs = 32, 246, 12, 20
    func = KtGaussianMask(accel, acs=acs)
    tr = func.lines_per_frame(ny)
    assert tr == {8: 31, 16: 15, 24: 10}[accel]  # round_half_up(246 / R)
    for seed in (1, 2, 3):
        drawn = func.sample_lines(ny, nt, seed)
        mask = func((nt, ny, nx), seed=seed)
        acs_lines = set(range(ny // 2 - acs // 2, ny // 2 - acs // 2 + acs))
        for f in range(nt):
            assert len(set(drawn[f].tolist())) == tr  # ktdup made them distinct
            lines = set(np.flatnonzero(mask[f].any(axis=1)).tolist())
            assert lines == set(drawn[f].tolist()) | acs_lines
            assert np.array_equal(mask[f].all(axis=1), mask[f].any(axis=1))
            n = len(lines)
            assert max(tr, acs) <= n <= tr + acs
            # [1/R, 1/R + ACS/ny], with half a line of slack for tr = round(ny/R)
            assert 1 / accel - 0.5 / ny <= n / ny <= 1 / accel + (acs + 0.5) / ny


def test_kt_gaussian_is_reproducible_and_varies_with_frame_and_seed() -> None:
    shape = (8, 120, 16)
    func = KtGaussianMask(8)
    a = func(shape, seed=5)
    np.testing.assert_array_equal(a, func(shape, seed=5))
    gen_a, gen_b = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(func(shape, seed=gen_a), func(shape, seed=gen_b))
    assert not np.array_equal(a, func(shape, seed=6))
    assert len({a[f].tobytes() for f in range(shape[0])}) == shape[0]


def test_kt_gaussian_density_is_centre_weighted() -> None:
    ny = 246
    density = kt_gaussian_density(ny)
    assert density.argmax() == ny // 2 and density[ny // 2] == pytest.approx(0.1 + 0.2 / 0.8)
    drawn = KtGaussianMask(8, acs=0).sample_lines(ny, 200, seed=3)
    counts = np.bincount(drawn.ravel(), minlength=ny)
    centre, edge = counts[ny // 2 - 20 : ny // 2 + 20].mean(), np.r_[counts[:40], counts[-40:]].mean()
    assert centre > 2 * edge


def test_kt_gaussian_rejects_bad_alpha() -> None:
    with pytest.raises(MaskError):
        KtGaussianMask(8, alpha=1.0)


@pytest.mark.parametrize(("accel", "nt"), [(4, 8), (8, 8), (5, 3)])
def test_kt_uniform_is_sheared_lattice_plus_acs(accel: int, nt: int) -> None:
    ny, nx, acs = 64, 8, 8
    mask = KtUniformMask(accel, acs=acs)((nt, ny, nx))
    start = ny // 2 - acs // 2
    for t in range(nt):
        expected = {k for k in range(ny) if (k - t) % accel == 0} | set(range(start, start + acs))
        assert set(np.flatnonzero(mask[t].any(axis=1)).tolist()) == expected
    if nt >= accel:  # R consecutive frames cover all of ky
        assert mask[:accel].any(axis=(0, 2)).all()
