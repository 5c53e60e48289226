"""Safetensors checkpoints: round trip, preset checks, corrupt files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch

from cardiomm.errors import CheckpointError
from cardiomm.models import CardioMM, load_checkpoint, load_weights, save_checkpoint


def _batch(text_dim: int = 16):
    g = torch.Generator().manual_seed(3)
    k = torch.randn(2, 2, 16, 24, dtype=torch.complex64, generator=g)
    mask = torch.zeros(2, 1, 16, 24, dtype=torch.bool)
    mask[:, :, ::2] = True
    return k * mask, mask, torch.randn(2, text_dim, generator=g), torch.randn(2, text_dim, generator=g)


def _trained_like(model: CardioMM) -> CardioMM:
    """Perturb every parameter so a load that silently re-initialised would be caught."""
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def test_save_load_gives_identical_output(tmp_path: Path) -> None:
    model = _trained_like(CardioMM("tiny", init_seed=5))
    folder = save_checkpoint(tmp_path / "ckpt", model, extra_card={"epochs": 3, "data": "synthetic"}).parent
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "model_card.md"]
    loaded = load_checkpoint(folder, expected_preset="tiny")
    assert loaded.card["epochs"] == 3 and loaded.card["parameters"]["trainable"] > 0
    assert json.loads((folder / "config.json").read_text())["preset"] == "tiny"
    assert "sha256" in (folder / "model_card.md").read_text()
    batch = _batch()
    with torch.no_grad():
        assert torch.equal(model(*batch, "uniform", 4), loaded.model(*batch, "uniform", 4))
    # the fixed prompt banks come from the file, not a fresh draw
    bank = "cascades.0.model.unet.prompt_level1.prompt_param"
    assert torch.equal(loaded.model.state_dict()[bank], model.state_dict()[bank])


def test_save_load_single_file_and_tied_prelu(tmp_path: Path) -> None:
    model = _trained_like(CardioMM("tiny", shared_prelu=True))
    weights = save_checkpoint(tmp_path / "best.safetensors", model)
    assert weights.name == "best.safetensors"
    assert (tmp_path / "best.json").is_file() and (tmp_path / "best.md").is_file()
    loaded = load_checkpoint(weights)
    shared = loaded.model.cascades[0].model.unet.bottleneck[0].body[1]
    assert shared is loaded.model.sens_net.norm_unet.unet.dec_level2.ca.body[1]
    assert torch.equal(shared.weight, model.cascades[0].model.unet.bottleneck[0].body[1].weight)
    fresh = CardioMM("tiny", shared_prelu=True, init_seed=9)
    load_weights(fresh, weights)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_checkpoint_is_plain_safetensors(tmp_path: Path) -> None:
    weights = save_checkpoint(tmp_path / "c", CardioMM("tiny"))
    raw = weights.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["format"] == "pt"
    assert json.loads(header["__metadata__"]["cardiomm_config"])["preset"] == "tiny"


def test_load_tiny_checkpoint_as_small_raises(tmp_path: Path) -> None:
    weights = save_checkpoint(tmp_path / "c", CardioMM("tiny"))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "c", expected_preset="small")
    assert str(weights) in str(info.value) and "'tiny'" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError):
        load_weights(CardioMM("small"), weights)


def test_load_corrupt_or_missing_checkpoint_raises(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a safetensors file at all" * 3)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(garbage)
    assert str(garbage) in str(info.value) and "\n" not in str(info.value)

    weights = save_checkpoint(tmp_path / "c", CardioMM("tiny"))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(truncated)

    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "nowhere")


def test_load_rejects_nonfinite_weights(tmp_path: Path) -> None:
    model = CardioMM("tiny")
    with torch.no_grad():
        model.cascades[1].dc_weight.fill_(float("nan"))
    weights = save_checkpoint(tmp_path / "c", model)
    with pytest.raises(CheckpointError, match="non-finite"):
        load_checkpoint(weights)
