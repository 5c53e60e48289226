"""The trained SENSE output layer (``output_dc="sense"``) of CardioMM and E2E-VarNet (its closed form at
full sampling: ``tests/recon/test_learned.py``)."""

from __future__ import annotations

import math

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


def _assert_each_frame_is_the_proximal_step(
    out: torch.Tensor,
    k: torch.Tensor,
    masks: torch.Tensor,
    k_net: torch.Tensor,
    csm: torch.Tensor,
    lam: torch.Tensor,
    n_iter: int,
) -> None:
    """Frame i of a layer's output is :func:`sense_proximal` of frame i alone at the weight ``lam[i]``."""
    for i in range(out.shape[0]):
        one = slice(i, i + 1)
        want = sense_proximal(k[one], masks[one], k_net[one], csm[one], float(lam[i]), n_iter)
        torch.testing.assert_close(out[one].detach(), want.abs(), rtol=1e-4, atol=1e-5)


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


def test_mask_features_of_line_and_2d_patterns() -> None:
    """``phi_0 = log(f / 0.125)`` of the sampled fraction, ``phi_1`` = fraction of sampled points on
    fully sampled lines - 1/2: Cartesian line masks (either axis, broadcast or not) +1/2, scattered 2-D
    points -1/2, the protocol's ktRadial in between; fractions against numpy."""
    import numpy as np

    from cardiomm.models.layers.output_dc import mask_features
    from cardiomm.sampling.registry import make_test_mask

    m = torch.zeros(3, 1, 64, 80, dtype=torch.bool)
    m[0, 0, ::8, :] = True  # rows (8 of 64): f = 1/8
    m[1, 0, :, ::4] = True  # columns: f = 1/4
    gen = torch.Generator().manual_seed(0)
    m[2, 0] = torch.rand(64, 80, generator=gen) < 0.05  # scattered points
    phi = mask_features(m)
    f2 = float(m[2].float().mean())
    want = torch.tensor([[0.0, 0.5], [float(np.log(2.0)), 0.5], [float(np.log(f2 / 0.125)), -0.5]])
    torch.testing.assert_close(phi, want, rtol=0, atol=1e-5)
    torch.testing.assert_close(mask_features(m[1:2, :, :1, :]), want[1:2], rtol=0, atol=1e-5)
    for pattern, accel in (("Uniform", 8), ("ktGaussian", 16), ("ktRadial", 8), ("ktRadial", 24)):
        tm = np.asarray(make_test_mask(pattern, accel, 80, 64, 2, seed=0)).astype(bool)
        got = mask_features(torch.from_numpy(tm)[:, None])
        np.testing.assert_allclose(got[:, 0].numpy(), np.log(tm.mean(axis=(1, 2)) / 0.125), atol=1e-5)
        if pattern == "ktRadial":
            assert bool((got[:, 1] < 0).all()), (pattern, accel, got)
        else:
            assert bool((got[:, 1] == 0.5).all()), (pattern, accel, got)


def test_mask_dependent_output_dc_weights_each_frame_by_its_mask() -> None:
    """``output_dc="sense-mask"``: with ``lam_weights = 0`` the layer is the fixed-weight one; with
    weights ``w`` frame i is :func:`sense_proximal` at ``|lam| exp(10 w . phi_i)``, and ``w`` receives a
    gradient; the config round-trips and the checkpoint has the new key."""
    from cardiomm.models.layers.output_dc import LAM_GAIN, mask_features

    k, mask = _inputs(c=3)
    k2, _ = _inputs(seed=1, c=3)
    mask2 = torch.zeros_like(mask)
    mask2[..., ::2, ::2] = True  # a 2-D pattern: another weight
    k = torch.cat([k, k2 * mask2])
    masks = torch.cat([mask, mask2])
    gen = torch.Generator().manual_seed(5)
    k_net = torch.randn(k.shape, dtype=torch.complex64, generator=gen)
    csm = torch.randn(k.shape, dtype=torch.complex64, generator=gen)
    fixed = OutputDC(6)
    adaptive = OutputDC(6, mask_dependent=True)
    assert adaptive.lam_weights is not None and fixed.lam_weights is None
    torch.testing.assert_close(adaptive(k, masks, k_net, csm), fixed(k, masks, k_net, csm))
    with torch.no_grad():
        adaptive.lam_weights.copy_(torch.tensor([0.05, -0.2]))
    lam = OUTPUT_DC_LAM_INIT * torch.exp(LAM_GAIN * (mask_features(masks) @ torch.tensor([0.05, -0.2])))
    torch.testing.assert_close(adaptive.weight(masks), lam)
    assert float(lam[1] / lam[0]) > 2.0  # line mask (+1/2) against 2-D (-1/2): weights differ
    out = adaptive(k, masks, k_net, csm)
    _assert_each_frame_is_the_proximal_step(out, k, masks, k_net, csm, lam, 6)
    out.sum().backward()
    assert adaptive.lam_weights.grad is not None and float(adaptive.lam_weights.grad.abs().min()) > 0
    cfg = ModelConfig(output_dc="sense-mask")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert "output_dc.lam_weights" in CardioMM(cfg).state_dict()
    vnet = VarNet(VarNetConfig(**{**VARNET_PRESETS["tiny"].__dict__, "output_dc": "sense-mask"}))
    assert isinstance(vnet.output_dc, OutputDC) and vnet.output_dc.lam_weights is not None


def test_lam_jitter_scales_each_training_frame_within_its_range_only() -> None:
    """``lam_jitter = a``: in training mode every frame's weight is the trained one times ``exp(a u)``,
    ``u`` in [-1, 1], different between frames, with the gradient still reaching ``lam``; in eval mode
    and with ``a = 0`` the weight is exact. The training module sets it and refuses bad values."""
    from cardiomm.training.module import ReconModule

    masks = torch.ones(64, 1, 4, 4, dtype=torch.bool)
    layer = OutputDC(3)
    layer.lam_jitter = 0.7
    torch.manual_seed(0)
    layer.train()
    w = layer.weight(masks)
    ratio = w.detach() / OUTPUT_DC_LAM_INIT
    assert float(ratio.log().abs().max()) <= 0.7 + 1e-6
    assert float(ratio.log().max()) > 0.5 and float(ratio.log().min()) < -0.5  # spread over the range
    w.sum().backward()
    assert layer.lam.grad is not None and float(layer.lam.grad.abs()) > 0
    layer.eval()
    torch.testing.assert_close(layer.weight(masks), torch.full((64,), OUTPUT_DC_LAM_INIT))
    layer.train()
    layer.lam_jitter = 0.0
    torch.testing.assert_close(layer.weight(masks), torch.full((64,), OUTPUT_DC_LAM_INIT))

    module = ReconModule("varnet", "tiny", {"output_dc": "sense"}, output_lam_jitter=0.5)
    assert isinstance(module.model.output_dc, OutputDC) and module.model.output_dc.lam_jitter == 0.5
    for bad in (-1.0, float("nan"), "abc", [1]):
        with pytest.raises(ConfigError, match="output_lam_jitter"):
            ReconModule("varnet", "tiny", {"output_dc": "sense"}, output_lam_jitter=bad)
    with pytest.raises(ConfigError, match="output layer"):
        ReconModule("varnet", "tiny", output_lam_jitter=0.5)


def _noisy_frame(sigma: float, seed: int = 0, c: int = 4, ny: int = 48, nx: int = 96) -> torch.Tensor:
    """Multi-coil k-space of a smooth object (its power near the k-space centre) plus complex Gaussian
    noise of variance ``sigma^2`` per sample."""
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(-1, 1, ny), torch.linspace(-1, 1, nx), indexing="ij")
    obj = torch.exp(-(y**2 + x**2) / 0.1).to(torch.complex64) * 10.0
    coils = torch.stack([obj * torch.exp(torch.tensor(1j * i)) * (1 + 0.1 * i) for i in range(c)])
    noise = torch.randn(1, c, ny, nx, dtype=torch.complex64, generator=gen) * sigma
    return fft2c(coils.unsqueeze(0)) + noise


def _quiet_and_noisy_frames(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two undersampled frames (noise 0.05 and 0.3), their masks, and random ``k_net`` and coil maps."""
    _, mask = _inputs(ny=48, nx=96)
    k = torch.cat([_noisy_frame(0.05) * mask, _noisy_frame(0.3, seed=1) * mask])
    gen = torch.Generator().manual_seed(seed)
    k_net = torch.randn(k.shape, dtype=torch.complex64, generator=gen)
    csm = torch.randn(k.shape, dtype=torch.complex64, generator=gen)
    return k, mask.expand(2, -1, -1, -1), k_net, csm


def test_noise_ratio_measures_the_noise_of_the_acquired_samples() -> None:
    """:func:`noise_ratio` against the known noise variance over the numpy mean power of the acquired
    samples (within 10 %): with a line mask, with an asymmetric echo (zeros are not samples), scale-free,
    per frame; a frame without outer readout samples gets ``RHO_REF``."""
    import numpy as np

    from cardiomm.models.layers.output_dc import RHO_REF, noise_ratio

    mask = torch.zeros(1, 1, 48, 96, dtype=torch.bool)
    mask[..., ::4, :] = True
    mask[..., 20:28, :] = True
    for sigma in (0.05, 0.2):
        k = _noisy_frame(sigma) * mask
        acquired = k.numpy()[np.broadcast_to(mask.numpy(), k.shape)]
        want = sigma**2 / float(np.mean(np.abs(acquired) ** 2))
        got = float(noise_ratio(k, mask)[0])
        assert got == pytest.approx(want, rel=0.1)
        assert float(noise_ratio(k * 1e4, mask)[0]) == pytest.approx(got, rel=1e-4)
        echo = k.clone()
        echo[..., :24] = 0  # asymmetric echo: the first quarter of the readout never measured
        kept = echo.numpy()[np.broadcast_to(mask.numpy(), k.shape) & (np.abs(echo.numpy()) > 0)]
        want_echo = sigma**2 / float(np.mean(np.abs(kept) ** 2))
        assert float(noise_ratio(echo, mask)[0]) == pytest.approx(want_echo, rel=0.1)
    two = torch.cat([_noisy_frame(0.05) * mask, _noisy_frame(0.2, seed=1) * mask])
    rho = noise_ratio(two, mask)
    assert rho.shape == (2,) and float(rho[1] / rho[0]) == pytest.approx(16.0, rel=0.25)
    centre = torch.zeros_like(mask)
    centre[..., :, 40:56] = True
    assert float(noise_ratio(_noisy_frame(0.1) * centre, centre)[0]) == pytest.approx(RHO_REF)
    silent = torch.zeros(1, 2, 8, 8, dtype=torch.complex64)
    assert float(noise_ratio(silent, mask[..., :8, :8])[0]) == pytest.approx(RHO_REF)


def test_noise_scaled_output_dc_weights_each_frame_by_its_noise() -> None:
    """``output_dc="sense-noise"``: frame i is :func:`sense_proximal` at ``|lam| rho_i / RHO_REF``; no new
    parameter (a ``sense`` checkpoint loads strictly); refused without k-space or with the mask
    weights too; the config round-trips, VarNet has it too."""
    from cardiomm.models.layers.output_dc import RHO_REF, noise_ratio

    k, masks, k_net, csm = _quiet_and_noisy_frames(seed=5)
    layer = OutputDC(6, noise_scaled=True)
    lam = OUTPUT_DC_LAM_INIT * noise_ratio(k, masks) / RHO_REF
    torch.testing.assert_close(layer.weight(masks, k), lam)
    assert float(lam[1] / lam[0]) > 10.0  # the noisier frame trusts the network more
    out = layer(k, masks, k_net, csm)
    _assert_each_frame_is_the_proximal_step(out, k, masks, k_net, csm, lam, 6)
    out.sum().backward()
    assert layer.lam.grad is not None and float(layer.lam.grad.abs()) > 0
    with pytest.raises(ConfigError, match="k-space"):
        layer.weight(masks)
    with pytest.raises(ConfigError, match="not both"):
        OutputDC(3, mask_dependent=True, noise_scaled=True)
    cfg = ModelConfig(output_dc="sense-noise")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    CardioMM(cfg).load_state_dict(CardioMM(ModelConfig(output_dc="sense")).state_dict(), strict=True)
    vnet = VarNet(VarNetConfig(**{**VARNET_PRESETS["tiny"].__dict__, "output_dc": "sense-noise"}))
    assert isinstance(vnet.output_dc, OutputDC) and vnet.output_dc.noise_scaled


def test_weight_floor_bounds_each_frame_from_below_and_is_checked() -> None:
    """``output_dc_floor``: each frame's weight is ``max(|lam| rho_i / RHO_REF, floor)`` (the quiet frame
    raised to the floor, the noisy one untouched), the output is the proximal step at that weight; the
    training jitter scales the clamped weight; NaN, negative or a floor without a layer are refused; the
    config round-trips and a config without the field loads with no floor."""
    from cardiomm.models.layers.output_dc import RHO_REF, make_output_dc, noise_ratio

    k, masks, k_net, csm = _quiet_and_noisy_frames(seed=7)
    free = OUTPUT_DC_LAM_INIT * noise_ratio(k, masks) / RHO_REF
    floor = float(free.min() + free.max()) / 2.0  # between the two frames' weights
    layer = make_output_dc("sense-noise", 5, floor)
    assert isinstance(layer, OutputDC)
    lam = layer.weight(masks, k).detach()
    assert float(lam[0]) == pytest.approx(floor) and float(lam[1]) == pytest.approx(float(free[1]))
    _assert_each_frame_is_the_proximal_step(layer(k, masks, k_net, csm), k, masks, k_net, csm, lam, 5)
    layer.train()
    layer.lam_jitter = 0.5
    ratio = (layer.weight(masks, k) / lam).detach()
    assert float(ratio.min()) >= math.exp(-0.5) - 1e-6 and float(ratio.max()) <= math.exp(0.5) + 1e-6
    for bad in (float("nan"), -0.01, float("inf")):
        with pytest.raises(ConfigError, match="floor"):
            OutputDC(3, noise_scaled=True, floor=bad)
        with pytest.raises(ConfigError, match="output_dc_floor"):
            ModelConfig(output_dc="sense-noise", output_dc_floor=bad)
        with pytest.raises(ConfigError, match="output_dc_floor"):
            VarNetConfig(output_dc="sense-noise", output_dc_floor=bad)
    with pytest.raises(ConfigError, match="output_dc_floor"):
        ModelConfig(output_dc_floor=0.02)  # no output layer to bound
    with pytest.raises(ConfigError, match="output_dc_floor"):
        ModelConfig(output_dc="sense-noise", output_dc_floor="0.02")  # type: ignore[arg-type]
    cfg = ModelConfig(output_dc="sense-noise", output_dc_floor=0.02)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k != "output_dc_floor"}
    assert ModelConfig.from_dict(old).output_dc_floor == 0.0
    model = CardioMM("tiny", output_dc="sense-noise", output_dc_floor=0.02)
    assert isinstance(model.output_dc, OutputDC) and model.output_dc.floor == 0.02
    vcfg = {**VARNET_PRESETS["tiny"].__dict__, "output_dc": "sense-noise", "output_dc_floor": 0.03}
    vnet = VarNet(VarNetConfig(**vcfg))
    assert isinstance(vnet.output_dc, OutputDC) and vnet.output_dc.floor == 0.03
