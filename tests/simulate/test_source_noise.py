"""Source-image noise estimate and the added-noise rule of the real-anatomy synthesis."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.simulate.source_noise import MIN_ADDED_FRACTION, added_noise_std, source_noise_std


def _phantom(rng: np.random.Generator, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[:128, :128]
    obj = ((yy - 64) / 50.0) ** 2 + ((xx - 64) / 40.0) ** 2 < 1
    img = np.where(obj, 100.0 + 40.0 * np.sin(xx / 11.0) * np.cos(yy / 13.0), 0.0)
    img = np.zeros((3, 128, 128)) + img  # zero corners as in masked clinical images
    return (img + obj * rng.normal(0.0, sigma, img.shape)).clip(0, None).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.5, 2.0, 6.0])
def test_source_noise_std_recovers_known_gaussian_noise(sigma: float) -> None:
    est = source_noise_std(_phantom(np.random.default_rng(1), sigma))
    assert est == pytest.approx(sigma, rel=0.12)


def test_source_noise_std_of_smooth_or_empty_images_is_about_zero() -> None:
    assert source_noise_std(_phantom(np.random.default_rng(0), 0.0)) < 0.15  # 0.15 % of the object
    assert source_noise_std(np.zeros((2, 32, 32), np.float32)) == 0.0


def test_added_noise_tops_up_to_the_target_with_a_floor() -> None:
    assert added_noise_std(10.0, 0.0) == pytest.approx(10.0)
    # real source noise s matches complex noise sqrt(2) s: 100 - 2 * 9 = 82
    assert added_noise_std(10.0, 3.0) == pytest.approx(np.sqrt(82.0))
    assert added_noise_std(10.0, 20.0) == pytest.approx(MIN_ADDED_FRACTION * 10.0)


def test_synthesis_adds_less_noise_to_a_noisy_source() -> None:
    from cardiomm.simulate.real_anatomy import ANATOMY_CENTERS, synthesise_scan

    rng = np.random.default_rng(2)
    clean = _phantom(rng, 0.0)[None, :1]
    noisy = _phantom(rng, 8.0)[None, :1]
    center = ANATOMY_CENTERS[0]
    a = synthesise_scan(clean, (8.0, 1.5, 1.5), center, seed=0)
    b = synthesise_scan(noisy, (8.0, 1.5, 1.5), center, seed=0)
    assert a.source_noise_std < 0.1 < 2.0 < b.source_noise_std
    assert b.noise_std < 0.8 * a.noise_std
