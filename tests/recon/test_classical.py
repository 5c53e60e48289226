"""Classical baselines against independent references (numpy RSS, the known phantom)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiomm.errors import MaskError
from cardiomm.recon import ReconInput, acs_block_sampled, get_reconstructor
from cardiomm.recon.classical import L1WaveletRecon, SenseRecon, ZeroFilledRecon

from .conftest import line_mask


def _nrmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_zero_filled_matches_numpy_rss(phantom: dict[str, torch.Tensor]) -> None:
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    out = ZeroFilledRecon()(ReconInput(k * mask, mask, "uniform", 4))
    kz = (k * mask).numpy()
    ref = np.sqrt((np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kz, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))) ** 2).sum(1))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-6)


def test_sense_fully_sampled_recovers_image(phantom: dict[str, torch.Tensor]) -> None:
    k = phantom["kspace"]
    mask = torch.ones(1, 1, *k.shape[-2:], dtype=torch.bool)
    out = SenseRecon(lam=0.0, n_iter=20)(ReconInput(k, mask, "uniform", 1))
    assert _nrmse(out, phantom["img"]) < 0.02


def test_sense_and_cs_beat_zero_filled_at_r4(phantom: dict[str, torch.Tensor]) -> None:
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    inp = ReconInput(k * mask, mask, "uniform", 4)
    err = {r.name: _nrmse(r(inp), phantom["img"]) for r in (ZeroFilledRecon(), SenseRecon(), L1WaveletRecon())}
    assert err["sense"] < 0.8 * err["zf"], err
    assert err["cs"] < 0.8 * err["zf"], err


def test_missing_acs_raises_mask_error(phantom: dict[str, torch.Tensor]) -> None:
    k = phantom["kspace"]
    mask = torch.zeros(1, 1, *k.shape[-2:], dtype=torch.bool)
    mask[..., ::4, :] = True
    assert not acs_block_sampled(mask, 20)
    with pytest.raises(MaskError, match="ACS"):
        SenseRecon()(ReconInput(k * mask, mask, "uniform", 4))


def test_registry_unknown_method() -> None:
    from cardiomm.errors import UnknownChoiceError

    with pytest.raises(UnknownChoiceError, match="unknown method"):
        get_reconstructor("magic")
