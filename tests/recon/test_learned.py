"""Shipped checkpoints: load without pickle, reject the wrong kind, reconstruct finite images."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from cardiomm.errors import CheckpointError
from cardiomm.recon import ReconInput, get_reconstructor
from cardiomm.recon.learned import CHECKPOINT_DIR, LearnedRecon, kspace_scale

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
    hard = LearnedRecon.from_checkpoint(method, hard_dc=True)(_inp(k, full)).numpy()
    np.testing.assert_allclose(hard, expected, rtol=1e-4, atol=1e-5 * expected.max())
    soft = get_reconstructor(method)(_inp(k, full)).numpy()  # default: the network's own output
    assert np.abs(soft - expected).max() > 1e-3 * expected.max()


@pytest.mark.parametrize("method", SHIPPED)
def test_soft_output_is_the_network_forward(method: str, phantom: dict[str, torch.Tensor]) -> None:
    """``hard_dc=False`` returns the network's own ``forward`` (the published output), unscaled."""
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    recon = LearnedRecon.from_checkpoint(method, hard_dc=False)
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
