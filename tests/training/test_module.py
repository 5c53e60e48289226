"""ReconModule: a few optimiser steps lower the loss (all model kinds); evaluation metrics; release files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.models.release import build_model, load_release, save_release
from cardiomm.training.module import ReconModule
from cardiomm.training.records import ReconBatch, collate_samples
from cardiomm.training.tree import TreeFrameDataset, discover_scans
from cardiomm.training.undersampling import UndersampledFrames


@pytest.fixture(scope="module")
def batch(tiny_tree: Path) -> ReconBatch:
    frames = TreeFrameDataset(discover_scans(tiny_tree, "TrainingSet"), preload=True)
    ds = UndersampledFrames(frames, train=False, accelerations=(4,), patterns=("uniform",))
    return collate_samples([ds[0], ds[1]])


@pytest.mark.parametrize("kind", ["cardiomm", "promptmr", "varnet"])
def test_few_steps_lower_the_loss(kind: str, batch: ReconBatch) -> None:
    module = ReconModule(model=kind, preset="tiny", lr=3e-3, weight_decay=0.0)
    opt = module.configure_optimizers()["optimizer"]
    losses = []
    for _ in range(8):
        loss = module.loss_fn(module(batch), batch.target, batch.max_value)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in module.model.parameters() if p.grad is not None)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def test_text_encoder_is_frozen_and_outside_the_state_dict(batch: ReconBatch) -> None:
    module = ReconModule(model="cardiomm", preset="tiny")
    module(batch)
    encoder = module.text_encoder()
    assert encoder.dim == 16 and encoder.cache_info().size == 2  # one metadata + one undersampling prompt
    assert all(k.startswith("model.") for k in module.state_dict())  # nothing of the encoder
    assert any(k.startswith("model.lm_head_meta") for k in module.state_dict())  # heads are trained


def test_optimiser_and_schedule_follow_the_recipe() -> None:
    module = ReconModule(model="varnet", preset="tiny")
    conf = module.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["lr"] == 2e-4 and opt.defaults["weight_decay"] == 0.01
    assert (sched.step_size, sched.gamma, conf["lr_scheduler"]["interval"]) == (5, 0.3, "epoch")
    with pytest.raises(ConfigError):
        ReconModule(model="unet")
    with pytest.raises(ConfigError):
        build_model("varnet", "tiny", {"grad_checkpoint": True})
    assert build_model("cardiomm", "tiny", {"grad_checkpoint": True}).grad_checkpoint


def test_eval_step_metrics_model_and_zero_filled(batch: ReconBatch) -> None:
    module = ReconModule(model="promptmr", preset="tiny")
    module.log = lambda *a, **k: None  # no trainer attached
    module._eval_step("val", batch, 1)
    m = {k: float(v.compute()) for k, v in module.metrics["val"].items()}
    assert 0 < m["zf_ssim"] <= 1 and m["zf_psnr"] > 10 and 0 <= m["zf_loss"] <= 1
    zf = module.zero_filled(batch)
    assert zf.shape == batch.target.shape and zf.dtype == torch.float32


@pytest.mark.parametrize("kind", ["cardiomm", "promptmr", "varnet"])
def test_release_loads_without_pickle_and_reproduces_outputs(
    kind: str, batch: ReconBatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = ReconModule(model=kind, preset="tiny").eval()
    with torch.no_grad():
        for p in module.model.parameters():  # move away from the initialisation
            p.add_(0.01 * torch.randn_like(p))
        expected = module(batch)
    save_release(tmp_path / "rel", module.model, {"steps": 3})
    assert {p.name for p in (tmp_path / "rel").iterdir()} >= {
        "model.safetensors",
        "config.json",
        "model_card.md",
    }

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used while loading a release")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    release = load_release(tmp_path / "rel")
    monkeypatch.undo()
    assert release.kind == kind and release.card["steps"] == 3
    fresh = ReconModule(model=kind, preset="tiny").eval()
    fresh.model = release.model
    with torch.no_grad():
        torch.testing.assert_close(fresh(batch), expected)
