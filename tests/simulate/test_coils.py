"""Coil sensitivities, background phase and coil k-space."""

from __future__ import annotations

import numpy as np

from cardiomm.physics.fft import ifft2c_np
from cardiomm.simulate.coils import biot_savart_csm, normalise_csm, smooth_phase
from cardiomm.simulate.scan import coil_kspace


def test_biot_savart_csm_normalised_and_deterministic() -> None:
    csm = biot_savart_csm(8, (40, 64), (5.0, 5.0), seed=3)
    assert csm.shape == (8, 40, 64) and csm.dtype == np.complex64
    np.testing.assert_allclose((np.abs(csm) ** 2).sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(csm, biot_savart_csm(8, (40, 64), (5.0, 5.0), seed=3))
    assert not np.array_equal(csm, biot_savart_csm(8, (40, 64), (5.0, 5.0), seed=4))


def test_biot_savart_csm_coils_localised() -> None:
    """Each raw loop is most sensitive near the body surface, and different loops see different regions."""
    raw = biot_savart_csm(8, (64, 64), (5.0, 5.0), normalise=False, seed=0)
    peaks = {np.unravel_index(np.argmax(np.abs(c)), c.shape) for c in raw}
    assert len(peaks) == 8
    centre = np.abs(raw[:, 32, 32])
    edge = np.abs(raw).max(axis=(1, 2))
    assert np.all(edge > 2 * centre)


def test_biot_savart_csm_many_coils_and_coarse_grid_agree() -> None:
    exact = biot_savart_csm(32, (32, 48), (8.0, 8.0), coarse=1, seed=1)
    coarse = biot_savart_csm(32, (32, 48), (8.0, 8.0), coarse=4, seed=1)
    inner = (slice(8, 24), slice(12, 36))
    err = np.linalg.norm(exact[:, inner[0], inner[1]] - coarse[:, inner[0], inner[1]])
    assert err / np.linalg.norm(exact[:, inner[0], inner[1]]) < 0.05


def test_normalise_csm_unit_rss() -> None:
    rng = np.random.default_rng(0)
    raw = (rng.normal(size=(4, 8, 8)) + 1j * rng.normal(size=(4, 8, 8))).astype(np.complex64)
    np.testing.assert_allclose((np.abs(normalise_csm(raw)) ** 2).sum(0), 1.0, atol=1e-6)


def test_smooth_phase_bounded_and_smooth() -> None:
    ph = smooth_phase((64, 96), seed=2)
    assert np.abs(ph).max() <= np.pi * 1.01
    assert np.abs(np.diff(ph, axis=1)).max() < 0.2


def test_coil_kspace_rss_equals_image_magnitude() -> None:
    rng = np.random.default_rng(0)
    img = (rng.random((2, 3, 24, 32)) * np.exp(1j * rng.random((2, 3, 24, 32)))).astype(np.complex64)
    csm = np.stack([biot_savart_csm(6, (24, 32), (5.0, 5.0), seed=z) for z in range(3)])
    k = coil_kspace(img, csm)
    assert k.shape == (2, 3, 6, 24, 32) and k.dtype == np.complex64
    rss = np.sqrt((np.abs(ifft2c_np(k)) ** 2).sum(2))
    np.testing.assert_allclose(rss, np.abs(img), atol=1e-5)
    ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img[1, 2] * csm[2, 4]), norm="ortho"))
    np.testing.assert_allclose(k[1, 2, 4], ref, atol=1e-5)
