"""ACS extraction and sensitivity-map normalisation."""

from __future__ import annotations

import pytest
import torch

from cardiomm.errors import MaskError, UnknownChoiceError
from cardiomm.models import CardioMM, acs_mask


def test_acs_mask_uniform_band_on_last_axis() -> None:
    mask = torch.ones(1, 1, 6, 31, dtype=torch.bool)  # network layout (b, 1, kx, ky), ky = 31 (odd)
    acs = acs_mask(mask, "uniform", n_acs=20)
    start = (31 - 20 + 1) // 2  # fastMRI batched_mask_center: 6
    cols = acs[0, 0, 0].nonzero().flatten().tolist()
    assert cols == list(range(start, start + 20))
    assert acs[0, 0].all(dim=0).sum() == 20  # full columns (every kx)


def test_acs_mask_keeps_only_sampled_entries() -> None:
    mask = torch.zeros(1, 1, 4, 40, dtype=torch.bool)
    mask[..., ::2] = True
    acs = acs_mask(mask, "random", n_acs=20)
    assert not (acs & ~mask).any()
    assert acs.sum() == 4 * 10


def test_acs_mask_radial_square_and_per_sample_types() -> None:
    mask = torch.ones(2, 1, 30, 25, dtype=torch.bool)
    acs = acs_mask(mask, ["radial", "uniform"], n_acs=20)
    x0, y0 = (30 - 20 + 1) // 2, (25 - 20 + 1) // 2
    square = torch.zeros(30, 25, dtype=torch.bool)
    square[x0 : x0 + 20, y0 : y0 + 20] = True
    assert torch.equal(acs[0, 0], square)
    assert acs[1, 0].sum() == 30 * 20


def test_acs_mask_errors() -> None:
    mask = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    with pytest.raises(UnknownChoiceError):
        acs_mask(mask, "gaussian", n_acs=4)
    with pytest.raises(MaskError):
        acs_mask(mask, ["uniform"], n_acs=4)
    with pytest.raises(MaskError):
        acs_mask(mask, "uniform", n_acs=9)
    with pytest.raises(MaskError):
        acs_mask(torch.ones(1, 1, 4, 8, dtype=torch.bool), "radial", n_acs=6)


def test_sensitivity_maps_have_unit_rss_and_ignore_outside_acs() -> None:
    model = CardioMM("tiny").eval()
    g = torch.Generator().manual_seed(0)
    k = torch.randn(1, 3, 24, 16, dtype=torch.complex64, generator=g)  # network layout (b, c, kx, ky)
    mask = torch.ones(1, 1, 24, 16, dtype=torch.bool)
    meta, us = model.project(torch.randn(1, 16, generator=g), torch.randn(1, 16, generator=g), 1)
    with torch.no_grad():
        csm = model.sens_net(k, mask, meta, us, "uniform", n_acs=6)
        rss = csm.abs().square().sum(dim=1).sqrt()
        assert csm.shape == (1, 3, 24, 16) and csm.dtype == torch.complex64
        assert torch.allclose(rss, torch.ones_like(rss), atol=1e-5)
        k2 = k.clone()
        k2[..., :2] = 0  # outside the central 6 ky lines
        assert torch.equal(model.sens_net(k2, mask, meta, us, "uniform", n_acs=6), csm)
