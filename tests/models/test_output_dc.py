"""The trained SENSE output layer (``output_dc="sense"``) of CardioMM and E2E-VarNet (its closed form at
full sampling: ``tests/recon/test_learned.py``)."""

from __future__ import annotations

import pytest
import torch

from cardiomm.errors import ConfigError, UnknownChoiceError
from cardiomm.models import CardioMM
from cardiomm.models.baselines.varnet import VARNET_PRESETS, VarNet, VarNetConfig
from cardiomm.models.config import ModelConfig
from cardiomm.models.layers.output_dc import OUTPUT_DC_LAM_INIT, OutputDC, sense_proximal
from cardiomm.physics import fft2c, ifft2c, rss


def _inputs(seed: int = 0, c: int = 4, ny: int = 32, nx: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    k = torch.randn(1, c, ny, nx, dtype=torch.complex64, generator=gen)
    mask = torch.zeros(1, 1, ny, nx, dtype=torch.bool)
    mask[..., ::3, :] = True
    mask[..., ny // 2 - 4 : ny // 2 + 4, :] = True
    return k * mask, mask


@pytest.mark.parametrize("kind", ["cardiomm", "varnet"])
def test_output_dc_is_the_forward_output_and_trains_lam(kind: str) -> None:
    """With ``output_dc="sense"`` the forward output is :class:`OutputDC` of the cascades' k-space and
    maps (and :meth:`output_image` is that layer alone), differs from the RSS of the same k-space, and
    ``lam`` receives a gradient; without it, :meth:`output_image` is the RSS of :meth:`forward_kspace`
    (the last cascade's k-space)."""
    k, mask = _inputs()
    if kind == "cardiomm":
        model: torch.nn.Module = CardioMM("tiny", output_dc="sense", output_dc_iterations=4)
        emb = torch.zeros(1, model.config.text_dim)
        args: tuple[object, ...] = (k, mask, emb, emb, "uniform", 8)
        plain: torch.nn.Module = CardioMM("tiny")
    else:
        model = VarNet(VarNetConfig(**{**VARNET_PRESETS["tiny"].__dict__, "output_dc": "sense"}))
        args = (k, mask, "uniform", 8)
        plain = VarNet("tiny")
    plain.load_state_dict(model.state_dict(), strict=False)
    assert isinstance(model.output_dc, OutputDC) and model.output_dc.n_iter == (
        4 if kind == "cardiomm" else 10
    )
    assert float(model.output_dc.lam.detach()) == pytest.approx(OUTPUT_DC_LAM_INIT)
    out = model(*args)
    k_net, csm = model.forward_kspace_maps(*args)
    want = sense_proximal(
        k, mask, k_net, csm, model.output_dc.lam.detach().abs().squeeze(), model.output_dc.n_iter
    )
    torch.testing.assert_close(out.detach(), want.abs(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        model.output_image(k, mask, k_net, csm).detach(), want.abs(), rtol=1e-4, atol=1e-5
    )
    rss_out = rss(ifft2c(k_net), dim=1).detach()
    assert float((out.detach() - rss_out).abs().max()) > 1e-3
    out.sum().backward()
    assert model.output_dc.lam.grad is not None and float(model.output_dc.lam.grad.abs()) > 0
    # forward_kspace is the output's k-space F S x (what adaptation compares with withheld samples):
    # its RSS image is the output, it equals the measurement where sampled only as far as lam allows,
    # and a loss on it trains lam too
    model.zero_grad()
    k_out = model.forward_kspace(*args)
    torch.testing.assert_close(rss(ifft2c(k_out), dim=1).detach(), out.detach(), rtol=1e-4, atol=1e-5)
    x = want.unsqueeze(1) * csm / rss(csm, dim=1, keepdim=True)
    torch.testing.assert_close(k_out.detach(), fft2c(x), rtol=1e-4, atol=1e-5)
    (k_out.abs() ** 2).sum().backward()
    assert model.output_dc.lam.grad is not None and float(model.output_dc.lam.grad.abs()) > 0
    assert "output_dc.lam" in model.state_dict()
    # the same weights without the layer: the published output
    p_k, p_csm = plain.forward_kspace_maps(*args)
    torch.testing.assert_close(plain(*args), rss(ifft2c(p_k), dim=1), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(plain.output_image(k, mask, p_k, p_csm), plain(*args), rtol=1e-4, atol=1e-6)


def test_output_dc_config_is_checked_and_round_trips() -> None:
    cfg = ModelConfig(output_dc="sense", output_dc_iterations=7)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert (
        ModelConfig.from_dict(
            {k: v for k, v in cfg.to_dict().items() if not k.startswith("output_dc")}
        ).output_dc
        == "none"
    )
    with pytest.raises(UnknownChoiceError, match="output_dc"):
        ModelConfig(output_dc="hard")
    with pytest.raises(ConfigError, match="output_dc_iterations"):
        ModelConfig(output_dc_iterations=0)
    with pytest.raises(UnknownChoiceError, match="output_dc"):
        VarNetConfig(output_dc="soft")
    with pytest.raises(ConfigError, match="output_dc_iterations"):
        VarNetConfig(output_dc_iterations=True)
    vcfg = VarNetConfig(output_dc="sense")
    assert VarNetConfig.from_dict(vcfg.to_dict()) == vcfg
