"""Shipped checkpoints: load without pickle, reject the wrong kind, reconstruct finite images."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from cardiomm.errors import CheckpointError, ConfigError
from cardiomm.physics import ifft2c, rss
from cardiomm.recon import ReconInput, get_reconstructor
from cardiomm.recon.learned import CHECKPOINT_DIR, LearnedRecon, kspace_scale, sense_consistent

from .conftest import line_mask

SHIPPED = [
    m for m in ("cardiomm", "promptmr", "varnet") if (CHECKPOINT_DIR / m / "model.safetensors").is_file()
]


@pytest.mark.parametrize("method", SHIPPED)
def test_shipped_checkpoint_loads_without_pickle(
    method: str, monkeypatch: pytest.MonkeyPatch, phantom: dict[str, torch.Tensor]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle/torch.load used while loading a checkpoint")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(torch, "load", boom)
    recon = get_reconstructor(method)
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    out = recon(
        ReconInput(
            k * mask,
            mask,
            "uniform",
            4,
            20,
            "Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis.",
            "Undersampling: 4x uniform.",
        )
    )
    assert out.shape == (1, *k.shape[-2:]) and torch.isfinite(out).all()


def test_checkpoint_of_another_kind_is_rejected() -> None:
    if "varnet" not in SHIPPED:
        pytest.skip("no shipped VarNet checkpoint")
    with pytest.raises(CheckpointError, match="varnet"):
        get_reconstructor("cardiomm", CHECKPOINT_DIR / "varnet")


def test_all_shipped_checkpoints_are_present() -> None:
    """The demo needs all three learned methods; each weights file stays under 25 MB."""
    assert SHIPPED == ["cardiomm", "promptmr", "varnet"], SHIPPED
    for m in SHIPPED:
        assert (CHECKPOINT_DIR / m / "model.safetensors").stat().st_size < 25 * 2**20
        assert "demonstration" in (CHECKPOINT_DIR / m / "model_card.md").read_text().lower()


def _inp(k: torch.Tensor, mask: torch.Tensor) -> ReconInput:
    meta, us = "Adult cardiac MRI reconstruction.", "Undersampling: 4x uniform."
    return ReconInput(k * mask, mask, "uniform", 4, 20, meta, us)


@pytest.mark.parametrize("method", SHIPPED)
def test_hard_dc_keeps_every_acquired_sample(method: str, phantom: dict[str, torch.Tensor]) -> None:
    """Fully sampled input: with hard data consistency the output is the RSS of the input (numpy FFT
    reference) whatever the network does; without it, the network's own output differs from it."""
    k = phantom["kspace"]
    full = torch.ones(1, 1, *k.shape[-2:], dtype=torch.bool)
    axes = (-2, -1)
    coil = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k.numpy(), axes=axes), norm="ortho"), axes=axes)
    expected = np.sqrt((np.abs(coil) ** 2).sum(axis=1))
    hard = LearnedRecon.from_checkpoint(method, dc="hard")(_inp(k, full)).numpy()
    np.testing.assert_allclose(hard, expected, rtol=1e-4, atol=1e-5 * expected.max())
    soft = get_reconstructor(method)(_inp(k, full)).numpy()  # default: the network's own output
    assert np.abs(soft - expected).max() > 1e-3 * expected.max()


@pytest.mark.parametrize("method", SHIPPED)
def test_soft_output_is_the_network_forward(method: str, phantom: dict[str, torch.Tensor]) -> None:
    """``dc="soft"`` returns the network's own ``forward`` (the published output), unscaled."""
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    recon = LearnedRecon.from_checkpoint(method, dc="soft")
    inp = _inp(k, mask)
    scale = kspace_scale(inp.masked_kspace)
    m = mask.expand(1, 1, *k.shape[-2:])
    with torch.no_grad():
        if method == "varnet":
            ref = recon.model(inp.masked_kspace / scale, m, "uniform", 20)
        else:
            meta = recon._embed([inp.metadata_prompt]) if recon.encoder is not None else None
            us = recon._embed([inp.undersampling_prompt]) if recon.encoder is not None else None
            ref = recon.model(inp.masked_kspace / scale, m, meta, us, "uniform", 20)
    torch.testing.assert_close(recon(inp), ref * scale, rtol=1e-4, atol=1e-6 * float(ref.abs().max() * scale))


def _np_ifft2c(k: np.ndarray) -> np.ndarray:
    axes = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=axes), norm="ortho"), axes=axes)


def test_sense_consistency_matches_the_closed_form_at_full_sampling() -> None:
    """Full sampling: ``A^H A = I`` for unit-RSS maps, so the SENSE data consistency is
    ``(sum_c conj(S_c) ifft(y_c) + lam x_net) / (1 + lam)`` pixel-wise (numpy FFT reference); with no
    CG step it is the network image ``x_net = sum_c conj(S_c) ifft(k_net_c)`` itself."""
    gen = torch.Generator().manual_seed(0)
    shape = (2, 4, 16, 12)
    y, k_net, csm = (torch.randn(shape, dtype=torch.complex64, generator=gen) for _ in range(3))
    full = torch.ones(2, 1, 16, 12, dtype=torch.bool)
    s_np = csm.numpy() / np.sqrt((np.abs(csm.numpy()) ** 2).sum(axis=1, keepdims=True))  # unit RSS
    x_net = (s_np.conj() * _np_ifft2c(k_net.numpy())).sum(axis=1)
    aty = (s_np.conj() * _np_ifft2c(y.numpy())).sum(axis=1)
    lam = 0.03
    got = sense_consistent(y, full, k_net, csm, lam=lam, n_iter=20).numpy()
    np.testing.assert_allclose(got, (aty + lam * x_net) / (1 + lam), rtol=0, atol=1e-4 * np.abs(aty).max())
    np.testing.assert_allclose(sense_consistent(y, full, k_net, csm, n_iter=0).numpy(), x_net, atol=1e-5)


@pytest.mark.parametrize("method", SHIPPED)
def test_forward_kspace_maps_are_the_cascades_maps(method: str, phantom: dict[str, torch.Tensor]) -> None:
    """``forward_kspace_maps`` returns the last cascade's k-space and unit-RSS coil maps; ``forward_kspace``
    is the k-space of the output (its RSS is ``forward``); the SENSE output of a learned method fits the
    acquired samples better than its soft output."""
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    inp = _inp(k, mask)
    recon = LearnedRecon.from_checkpoint(method, dc="sense")
    m = mask.expand(1, 1, *k.shape[-2:])
    args: tuple[object, ...] = (inp.masked_kspace, m, "uniform", 20)
    if method != "varnet":
        emb = [recon._embed([t]) if recon.encoder is not None else None for t in ("a", "b")]
        args = (inp.masked_kspace, m, *emb, "uniform", 20)
    with torch.no_grad():
        k_out, csm = recon.model.forward_kspace_maps(*args)
        out = rss(ifft2c(recon.model.forward_kspace(*args)), dim=1)
        torch.testing.assert_close(out, recon.model(*args), atol=1e-5 * float(out.max()), rtol=0)
    assert csm.shape == k_out.shape
    torch.testing.assert_close(rss(csm, dim=1), torch.ones(csm.shape[0], *csm.shape[-2:]), atol=1e-4, rtol=0)
    sense, soft = recon(inp), LearnedRecon.from_checkpoint(method)(inp)
    assert sense.shape == soft.shape and torch.isfinite(sense).all()
    assert float((sense - soft).abs().max()) > 1e-3 * float(soft.max())


def test_unknown_data_consistency_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="data consistency 'firm'"):
        LearnedRecon.from_checkpoint("cardiomm", dc="firm")


def test_soft_output_of_a_model_with_the_trained_output_layer(phantom: dict[str, torch.Tensor]) -> None:
    """For a network with ``output_dc="sense"``, ``dc="soft"`` is its own forward (the trained layer), not
    the RSS of its k-space; ``dc="hard"`` still keeps every acquired sample."""
    from cardiomm.models import CardioMM
    from cardiomm.text import get_encoder

    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    model = CardioMM("tiny", output_dc="sense").eval()
    enc = get_encoder("hash")
    inp = _inp(k, mask)
    scale = kspace_scale(inp.masked_kspace)
    m = mask.expand(1, 1, *k.shape[-2:])
    with torch.no_grad():
        meta, us = enc.encode([inp.metadata_prompt]), enc.encode([inp.undersampling_prompt])
        ref = model(inp.masked_kspace / scale, m, meta, us, "uniform", 20) * scale
        k_net, _ = model.forward_kspace_maps(inp.masked_kspace / scale, m, meta, us, "uniform", 20)
    got = LearnedRecon("cardiomm", model, enc)(inp)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-6 * float(ref.abs().max()))
    rss_out = rss(ifft2c(k_net), dim=1) * scale
    assert float((got - rss_out).abs().max()) > 1e-3 * float(ref.max())
    full = torch.ones(1, 1, *k.shape[-2:], dtype=torch.bool)
    hard = LearnedRecon("cardiomm", model, enc, dc="hard")(_inp(k, full))
    torch.testing.assert_close(hard, rss(ifft2c(k), dim=1), rtol=1e-4, atol=1e-5 * float(hard.max()))
