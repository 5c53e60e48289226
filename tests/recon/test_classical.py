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
    ref = np.sqrt(
        (
            np.abs(
                np.fft.fftshift(
                    np.fft.ifft2(np.fft.ifftshift(kz, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
                )
            )
            ** 2
        ).sum(1)
    )
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
    err = {
        r.name: _nrmse(r(inp), phantom["img"]) for r in (ZeroFilledRecon(), SenseRecon(), L1WaveletRecon())
    }
    assert err["sense"] < 0.8 * err["zf"], err
    assert err["cs"] < 0.8 * err["zf"], err


@pytest.mark.parametrize("recon_cls", [SenseRecon, L1WaveletRecon])
def test_espirit_maps_computed_once_per_frame_across_masks(
    phantom: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch, recon_cls: type
) -> None:
    """Two masks sharing the ACS block but with different zero-filled maxima (hence different per-mask
    scales) reuse one set of maps, and the images equal those with the maps recomputed."""
    import cardiomm.recon.classical as classical  # noqa: PLC0415

    calls: list[int] = []
    real_espirit = classical.espirit

    def counting(k: torch.Tensor, **kw: object) -> torch.Tensor:
        calls.append(k.shape[0])
        return real_espirit(k, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(classical, "espirit", counting)
    monkeypatch.setattr(classical, "_MAPS_CACHE", type(classical._MAPS_CACHE)())
    k = phantom["kspace"] * 3.7  # not unit scale
    recon = recon_cls(n_iter=5)
    outs = []
    for r in (4, 6):
        mask = line_mask(*k.shape[-2:], r)
        outs.append(recon(ReconInput(k * mask, mask, "uniform", r)))
    assert calls == [1]
    classical._MAPS_CACHE.clear()
    mask = line_mask(*k.shape[-2:], 6)
    fresh = recon(ReconInput(k * mask, mask, "uniform", 6))
    assert calls == [1, 1]
    torch.testing.assert_close(outs[1], fresh, rtol=0, atol=0)
    assert _nrmse(outs[0], outs[1]) > 1e-3  # the two masks did give different images


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


@pytest.mark.realdata
def test_compare_on_real_cmrxrecon_slice(shared_data) -> None:  # noqa: ANN001
    """The documented real-data command (`cardiomm compare`), zero-filled and SENSE on the real slice.

    One coil: SENSE with a unit map equals zero filling up to the Tikhonov weight.
    """
    from cardiomm.recon.compare import compare_methods

    kspace = shared_data / "kspace" / "cmrxrecon2024_demo_cine_sax_1coil_1slice_1frame.mat"
    mask = shared_data / "kspace" / "cmrxrecon2024_demo_cine_sax_mask_Uniform8.mat"
    scores, _, us = compare_methods(kspace, mask, ["zf", "sense"], n_acs=16)
    by = {s.method: s for s in scores}
    print({s.method: (round(s.psnr, 2), round(s.ssim, 4)) for s in scores})
    assert us == "Undersampling: 8x uniform."
    assert by["zf"].psnr == pytest.approx(28.30, abs=0.01)
    assert by["sense"].psnr == pytest.approx(by["zf"].psnr, abs=0.1)
