"""fft2c / ifft2c against numpy.fft (independent reference) and their unitarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiomm.physics import fft2c, fft2c_np, ifft2c, ifft2c_np


def _np_fft2c(x: np.ndarray) -> np.ndarray:
    """Reference written out with explicit normalisation (not norm="ortho")."""
    n = x.shape[-1] * x.shape[-2]
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=ax), axes=ax), axes=ax) / np.sqrt(n)


@pytest.mark.parametrize("shape", [(2, 3, 8, 10), (1, 2, 7, 9), (5, 6), (2, 6, 4), (2, 8, 5), (1, 10, 14)])
def test_fft2c_matches_numpy(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    out = fft2c(torch.from_numpy(x))
    assert out.shape == shape and out.dtype == torch.complex64
    ref, tol = _np_fft2c(x.astype(np.complex128)), 2e-5 * np.abs(x).max()
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=tol)
    np.testing.assert_allclose(fft2c_np(x), ref, rtol=0, atol=tol)
    assert fft2c_np(x).dtype == np.complex64


@pytest.mark.parametrize("shape", [(2, 3, 8, 10), (1, 2, 7, 9), (2, 6, 4)])
def test_ifft2c_inverts_fft2c(shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, dtype=torch.complex64)
    torch.testing.assert_close(ifft2c(fft2c(x)), x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ifft2c_np(fft2c_np(x.numpy())), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(ifft2c(x).numpy(), ifft2c_np(x.numpy()), atol=1e-5)


def test_fft2c_centre_is_dc() -> None:
    x = torch.ones(6, 9, dtype=torch.complex64)
    k = fft2c(x)
    assert abs(complex(k[3, 4]) - np.sqrt(54)) < 1e-4  # DC at (ny // 2, nx // 2), orthonormal scale
    assert float(k.abs().sum() - k[3, 4].abs()) < 1e-4


def test_fft2c_parseval() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 16, 12, generator=gen, dtype=torch.complex64)
    assert abs(float(fft2c(x).abs().pow(2).sum() / x.abs().pow(2).sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("shape", [(6, 10), (6, 8), (512, 246)])
def test_fft2c_gradient_after_inference_mode_call(shape: tuple[int, int]) -> None:
    """A first call under inference mode must not poison the cached sign patterns for autograd; (6, 8)
    and CMRxRecon's (512, 246) have an odd ``ny / 2 + nx / 2``, whose output signs are negated."""
    import torch

    from cardiomm.physics.fft import _checkerboards, fft2c, ifft2c

    _checkerboards.cache_clear()
    with torch.inference_mode():
        fft2c(torch.ones(*shape, dtype=torch.complex64))
    x = torch.randn(*shape, dtype=torch.complex64, requires_grad=True)
    ifft2c(fft2c(x)).abs().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad.abs()).all()
