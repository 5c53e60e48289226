"""Shipped checkpoints: load without pickle, reject the wrong kind, reconstruct finite images."""

from __future__ import annotations

import pickle

import pytest
import torch

from cardiomm.errors import CheckpointError
from cardiomm.recon import ReconInput, get_reconstructor
from cardiomm.recon.learned import CHECKPOINT_DIR

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
