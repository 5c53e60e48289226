"""rss against numpy; sense_combine recovers the image and handles empty maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiomm.errors import ShapeError
from cardiomm.physics import rss, rss_np, sense_combine


def test_rss_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 4, 6, 5)) + 1j * rng.standard_normal((2, 4, 6, 5))).astype(np.complex64)
    ref = np.sqrt((np.abs(x.astype(np.complex128)) ** 2).sum(axis=1))
    out = rss(torch.from_numpy(x), dim=1)
    assert out.shape == (2, 6, 5) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(rss(torch.from_numpy(x)).numpy(), ref, rtol=1e-6)  # default dim=-3
    np.testing.assert_allclose(rss_np(x), ref, rtol=1e-6)
    assert rss_np(x).dtype == np.float32


def test_rss_real_input() -> None:
    x = torch.tensor([[3.0, 0.0], [4.0, 2.0]])
    torch.testing.assert_close(rss(x, dim=0), torch.tensor([5.0, 2.0]))


def test_rss_floored_form_matches_exact_norm() -> None:
    """``eps`` selects the floored ``sqrt(max(sum |x|^2, eps^2))`` form (models): equal to the exact norm up
    to rounding, ``eps`` where every coil is zero, finite gradients there; ``keepdim`` keeps the coil axis."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 6, 5, generator=gen, dtype=torch.complex64)
    x[0, :, 0, 0] = 0
    exact = rss(x, dim=1)
    torch.testing.assert_close(rss(x, dim=1, eps=0.0), exact, rtol=1e-6, atol=0.0)
    floored = rss(x, dim=1, keepdim=True, eps=1e-12)
    assert floored.shape == (2, 1, 6, 5) and floored[0, 0, 0, 0] == pytest.approx(1e-12)
    torch.testing.assert_close(floored[:, 0].flatten()[1:], exact.flatten()[1:], rtol=1e-6, atol=0.0)
    xg = x.clone().requires_grad_()
    rss(xg, dim=1, eps=1e-15).sum().backward()
    assert xg.grad is not None and torch.isfinite(torch.view_as_real(xg.grad)).all()
    assert rss_np(x.numpy(), axis=1, keepdims=True).shape == (2, 1, 6, 5)


def test_sense_combine_recovers_image() -> None:
    gen = torch.Generator().manual_seed(1)
    csm = torch.randn(2, 4, 6, 5, generator=gen, dtype=torch.complex64)
    img = torch.randn(2, 6, 5, generator=gen, dtype=torch.complex64)
    out = sense_combine(csm * img[:, None], csm)
    assert out.shape == (2, 6, 5)
    torch.testing.assert_close(out, img, rtol=1e-5, atol=1e-5)


def test_sense_combine_zero_where_no_sensitivity() -> None:
    csm = torch.zeros(1, 2, 3, 3, dtype=torch.complex64)
    csm[..., 1, 1] = 1.0
    out = sense_combine(torch.ones(1, 2, 3, 3, dtype=torch.complex64), csm)
    assert bool(torch.isfinite(out).all())
    assert complex(out[0, 1, 1]) == 1.0 and float(out.abs().sum()) == 1.0


def test_sense_combine_shape_error() -> None:
    with pytest.raises(ShapeError, match="does not match"):
        sense_combine(torch.ones(1, 2, 3, 3, dtype=torch.complex64), torch.ones(1, 3, 3, 3) + 0j)
