"""The K-weighted SSDU loss (Millard and Chiew 2023): densities, split probabilities and weights against
Monte Carlo draws and the closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.sampling import make_test_mask, radial_beams
from cardiomm.sampling.spokes import spoke_labels
from cardiomm.training.ssdu import SplitSpec, acs_band, split_frame, ssdu_loss
from cardiomm.training.ssdu_weight import (
    MAX_WEIGHT,
    inclusion_probability,
    k_weight,
    loss_probability,
    sampling_density,
)


def test_inclusion_probability_is_exact_for_equal_weights_and_close_to_draws_otherwise() -> None:
    assert np.allclose(inclusion_probability(np.ones(10), 4), 0.4)
    assert np.allclose(inclusion_probability(np.ones(5), 0), 0.0)
    assert np.allclose(inclusion_probability(np.ones(5), 5), 1.0)
    rng = np.random.default_rng(0)
    w = np.exp(-0.5 * (np.linspace(-2, 2, 40) / 0.8) ** 2)  # a Gaussian variable density
    pi = inclusion_probability(w, 12)
    assert pi.sum() == pytest.approx(12.0, abs=1e-6)
    counts = np.zeros(w.size)
    n_draws = 6000
    for _ in range(n_draws):
        counts[rng.choice(w.size, size=12, replace=False, p=w / w.sum())] += 1
    assert np.abs(counts / n_draws - pi).max() < 0.04  # Rosen's approximation; MC s.e. <= 0.0065
    assert np.all(np.diff(pi[np.argsort(w)]) >= -1e-12)  # a heavier unit is more likely drawn


def _line_mask(ny: int, nx: int, r: int, offset: int = 0) -> np.ndarray:
    m = np.zeros((ny, nx), dtype=bool)
    m[offset::r] = True
    m[ny // 2 - 6 : ny // 2 + 6] = True
    return m


@pytest.mark.parametrize("unit", ["line", "point"])
def test_loss_probability_matches_the_frequency_of_the_splits(unit: str) -> None:
    mask = _line_mask(64, 24, 3)
    acs = acs_band(mask.shape, "uniform", 12)
    spec = SplitSpec(loss_fraction=0.4, unit=unit)
    q = loss_probability(mask, acs, spec)
    rng = np.random.default_rng(1)
    n_draws = 1500
    freq = sum(split_frame(mask, acs, spec, rng)[1].astype(float) for _ in range(n_draws)) / n_draws
    sel = mask & ~acs
    assert not q[~sel].any()
    assert np.abs(freq - q)[sel].max() < 0.07  # s.e. <= 0.013
    assert q[sel].sum() == pytest.approx(freq[sel].sum(), rel=0.02)


def test_loss_probability_of_spokes_is_the_drawn_fraction() -> None:
    mask = make_test_mask("ktRadial", 8, 160, 160, 1)[0].astype(bool)
    acs = acs_band(mask.shape, "radial", 20)
    labels = spoke_labels(mask, mask & ~acs)
    assert labels is not None
    n_spokes = np.unique(labels[labels >= 0]).size
    q = loss_probability(mask, acs, SplitSpec(unit="spoke", loss_fraction=0.4))
    expected = round(0.4 * n_spokes) / n_spokes
    assert np.allclose(q[labels >= 0], expected)
    assert not q[labels < 0].any()


def test_sampling_density_of_a_regular_comb_is_one_over_r() -> None:
    for r in (4, 8):
        masks = np.stack([_line_mask(200, 16, r, offset=o) for o in (0, 1)])
        p = sampling_density(masks, r)
        outer = np.r_[10:80, 120:190]  # away from the ACS (12 lines at the centre) and its smoothed edge
        assert np.allclose(p[outer], 1.0 / r, rtol=0.03)
        assert p[100, 0] > 0.9  # the fully sampled centre
        assert np.allclose(p, p[:, :1])  # a line mask's density depends on ky only


@pytest.mark.parametrize("accel", [8, 16])
def test_sampling_density_of_a_radial_mask_is_spokes_over_pi_r(accel: int) -> None:
    """``b`` spokes through the centre cross a circle of radius ``r`` (samples) twice each: a density of
    ``b / (pi r)`` away from the fully sampled centre."""
    masks = make_test_mask("ktRadial", accel, 160, 160, 4).astype(bool)
    p = sampling_density(masks, accel)
    for d in (40, 70):
        assert p[80, 80 + d] == pytest.approx(radial_beams(accel) / (np.pi * d), rel=0.15)
    assert p[80, 82] > 0.95  # the fully sampled centre


def test_k_weight_closed_form_and_unbiasedness() -> None:
    """``(1 - K)^-1`` is one over the probability that a location outside Theta is in Lambda: the weighted
    count of Lambda over many draws of Omega ~ Bernoulli(P) and Theta ~ Bernoulli(P~) within it is the
    count of all locations outside Theta."""
    assert k_weight(np.array([0.25]), np.array([0.4]))[0] == pytest.approx((1 - 0.6 * 0.25) / (0.25 * 0.4))
    assert k_weight(np.array([0.5]), np.array([0.0]))[0] == 0.0
    assert k_weight(np.array([1e-3]), np.array([1e-9]))[0] == MAX_WEIGHT  # bounded
    rng = np.random.default_rng(2)
    p = np.array([0.9, 0.5, 0.2, 0.05])
    q = np.array([0.3, 0.4, 0.6, 0.5])
    w = k_weight(p, q)
    n = 400_000
    omega = rng.random((n, 4)) < p
    lam = omega & (rng.random((n, 4)) < q)
    theta = omega & ~lam
    ratio = (lam * w).sum(axis=0) / (~theta).sum(axis=0)
    assert np.allclose(ratio, 1.0, atol=0.03)


def test_weighted_ssdu_loss_against_numpy() -> None:
    rng = np.random.default_rng(3)
    shape = (2, 3, 8, 6)
    k = torch.from_numpy((rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64))
    pred = k + torch.from_numpy((0.3 * rng.normal(size=shape)).astype(np.complex64))
    m = torch.from_numpy(rng.random((2, 1, 8, 6)) < 0.5)
    w = torch.from_numpy(rng.uniform(0.5, 4.0, size=(2, 1, 8, 6)).astype(np.float32))
    a = np.sqrt(np.where(m.numpy(), w.numpy(), 0.0))
    d, r = a * (pred - k).numpy(), a * k.numpy()
    ref = np.mean(
        np.sqrt((np.abs(d) ** 2).sum((1, 2, 3))) / np.sqrt((np.abs(r) ** 2).sum((1, 2, 3)))
        + np.abs(d).sum((1, 2, 3)) / np.abs(r).sum((1, 2, 3))
    )
    assert float(ssdu_loss(pred, k, m, weight=w)) == pytest.approx(ref, rel=1e-5)
    plain = float(ssdu_loss(pred, k, m))
    assert float(ssdu_loss(pred, k, m, weight=torch.ones_like(w))) == pytest.approx(plain)


def test_unknown_weighting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="loss weighting"):
        SplitSpec(weighting="x")
