"""Train the ``simunet`` U-Net on frames rendered on the fly (:mod:`cardiomm.analysis.segmentation.simdata`).

Plain torch (no Lightning): Adam, linear warm-up then cosine decay of the learning rate, loss =
cross-entropy + soft Dice (LV, MYO, RV, pooled over the batch). The batch of step ``k`` is drawn from
``numpy.random.default_rng([seed, 0, k])`` and the validation frames from ``default_rng([seed, 1])``, so a
run is fully determined by its :class:`TrainConfig` (one torch thread; the step count is fixed before the
cosine decay starts, also when it is derived from a time budget). Weights are written atomically as
``model.safetensors`` (float16) + ``config.json`` + ``model_card.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cardiomm.analysis.labels import LABEL_NAMES, LV, MYO, RV
from cardiomm.analysis.segmentation.simdata import SimDataConfig, render_batch
from cardiomm.analysis.segmentation.unet import (
    SegUNet,
    UNetConfig,
    count_parameters,
    load_unet,
    weights_paths,
)
from cardiomm.errors import ConfigError
from cardiomm.models.checkpoint import card_markdown
from cardiomm.utils.atomic import atomic_path

__all__ = ["TrainConfig", "TrainResult", "dice_ce_loss", "validation_dice", "save_unet", "train_unet"]

_CLASSES = (LV, MYO, RV)


@dataclass(frozen=True)
class TrainConfig:
    """Training recipe.

    Attributes
    ----------
    steps
        Optimiser steps (default: those of the shipped weights); ignored when ``minutes`` is set, then
        derived from the speed of the first ``warmup_steps`` steps.
    minutes
        Wall-clock budget [min] for the whole run (data generation, training and validation), or None.
    batch_size
        Frames per step.
    lr, lr_final
        Peak and final learning rate (cosine decay after ``warmup_steps`` linear warm-up steps).
    warmup_steps
        Linear warm-up steps.
    seed
        Seed of the weights initialisation and of all frames.
    val_frames
        Held-out rendered frames for the validation Dice.
    val_every
        Validate every this many steps (and at the end).
    model, data
        Network and frame-generator configuration.
    """

    steps: int = 5942
    minutes: float | None = None
    batch_size: int = 8
    lr: float = 2e-3
    lr_final: float = 5e-5
    warmup_steps: int = 30
    seed: int = 0
    val_frames: int = 96
    val_every: int = 250
    model: UNetConfig = field(default_factory=UNetConfig)
    data: SimDataConfig = field(default_factory=SimDataConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.val_frames < 1 or self.warmup_steps < 1:
            raise ConfigError("steps, batch_size, val_frames and warmup_steps must be positive")
        if self.data.size % self.model.multiple:
            raise ConfigError(f"data.size {self.data.size} must be a multiple of {self.model.multiple}")
        if self.data.spacing_mm != self.model.spacing_mm or self.data.percentiles != self.model.percentiles:
            raise ConfigError("data and model must share spacing_mm and percentiles")


@dataclass
class TrainResult:
    """Outcome of :func:`train_unet`.

    Attributes
    ----------
    model
        Trained network (eval mode, float32).
    steps
        Optimiser steps done.
    history
        ``{"step", "loss", "lr", "val_LV", "val_MYO", "val_RV", "elapsed_s"}`` per validation.
    val_dice
        Final validation Dice per class.
    wall_time_s
        Duration of the run [s].
    losses
        Training loss of every step.
    weights
        Written weights file, or None.
    """

    model: SegUNet
    steps: int
    history: list[dict[str, float]]
    val_dice: dict[str, float]
    wall_time_s: float
    losses: list[float] = field(default_factory=list)
    weights: Path | None = None


def dice_ce_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Cross-entropy plus ``1 - mean soft Dice`` of the foreground classes, pooled over the batch.

    Parameters
    ----------
    logits
        ``(b, n_classes, h, w)``.
    labels
        ``(b, h, w)`` int64 class indices.
    eps
        Smoothing of the Dice ratio (keeps classes absent from the batch finite).
    """
    ce = F.cross_entropy(logits, labels)
    probs = torch.softmax(logits, dim=1)[:, 1:]
    onehot = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].to(probs.dtype)
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return ce + 1.0 - ((2.0 * inter + eps) / (denom + eps)).mean()


def validation_dice(
    model: SegUNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 16
) -> dict[str, float]:
    """Dice per class (LV, MYO, RV) pooled over all frames ``(n, 1, h, w)`` / labels ``(n, h, w)``."""
    model.eval()
    inter, total = np.zeros(3), np.zeros(3)
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            pred = model(images[i : i + batch_size].contiguous(memory_format=torch.channels_last)).argmax(1)
            ref = labels[i : i + batch_size]
            for k, c in enumerate(_CLASSES):
                p, r = pred == c, ref == c
                inter[k] += float((p & r).sum())
                total[k] += float(p.sum() + r.sum())
    return {
        LABEL_NAMES[c]: float(2 * inter[k] / total[k]) if total[k] else float("nan")
        for k, c in enumerate(_CLASSES)
    }


def _lr(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1.0 + math.cos(math.pi * frac))


#: Title of the model card written by :func:`save_unet` when none is given.
SIMUNET_TITLE = "simunet: short-axis segmentation U-Net trained on cardiomm simulate frames"

#: A batch source: ``(rng, n) -> (images (n, 1, s, s) float32, labels (n, s, s) int64)``.
BatchFn = Callable[[np.random.Generator, int], tuple[torch.Tensor, torch.Tensor]]


def save_unet(
    path: str | os.PathLike[str],
    model: SegUNet,
    config: UNetConfig,
    card: Mapping[str, Any] | None = None,
    title: str = SIMUNET_TITLE,
) -> Path:
    """Write ``model`` (float16 safetensors, config in its metadata), ``config.json`` and ``model_card.md``.

    ``path`` is a folder or a ``.safetensors`` file (then the side files share its stem). Returns the
    weights path. Every file is written atomically.
    """
    from safetensors.torch import save_file  # noqa: PLC0415 - lazy: importing this module loads no safetensors

    weights, config_path = weights_paths(path)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
    config_json = json.dumps(config.to_dict(), sort_keys=True)
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "simunet_config": config_json})
    config_text = json.dumps(config.to_dict(), indent=2, sort_keys=True)
    with atomic_path(config_path) as tmp:
        tmp.write_text(config_text + "\n")
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    fields = {
        "trainable parameters": f"{count_parameters(model):,}",
        **dict(card or {}),
        "weights": f"{weights.name} (float16, {weights.stat().st_size / 1e6:.2f} MB)",
    }
    text = card_markdown(title, fields, config_text, sha)
    in_folder = weights.name == "model.safetensors"
    card_path = weights.parent / "model_card.md" if in_folder else weights.with_suffix(".md")
    with atomic_path(card_path) as tmp:
        tmp.write_text(text)
    return weights


class _Progress:
    """Rich progress bar on stderr; when disabled, :meth:`log` still prints unless ``quiet``."""

    def __init__(self, enabled: bool, total: int, quiet: bool = False, name: str = "simunet") -> None:
        self._bar: Any = None
        self._quiet = quiet
        if enabled:
            cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self._bar = Progress(*cols, console=Console(stderr=True))
            self._bar.start()
            self._task = self._bar.add_task(name, total=total)

    def update(self, total: int, description: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, total=total, description=description)

    def log(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        elif not self._quiet:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def train_unet(
    out: str | os.PathLike[str] | None,
    config: TrainConfig | None = None,
    *,
    progress: bool = True,
    extra_card: Mapping[str, Any] | None = None,
    batches: BatchFn | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    name: str = "simunet",
    title: str = SIMUNET_TITLE,
    init_from: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a U-Net segmenter from scratch; write it to ``out`` unless None.

    The default data are phantom frames rendered on the fly (``simunet``); ``batches`` and
    ``validation`` substitute another source (e.g. :class:`~cardiomm.analysis.segmentation.realdata.
    RealBatches` and real validation slices for ``acdcunet``).

    Parameters
    ----------
    out
        Weights folder or ``.safetensors`` file (see :func:`save_unet`), or None to keep it in memory.
    config
        The recipe (default: :class:`TrainConfig`, the shipped weights' recipe).
    progress
        Show a progress bar with the running loss and print each validation on stderr.
    extra_card
        Additional model-card fields (they override the defaults).
    batches
        Batch source called as ``batches(rng, batch_size)`` (default: :func:`.simdata.render_batch`).
    validation
        Fixed validation ``(images, labels)`` (default: ``val_frames`` rendered frames).
    name, title
        Progress-bar name and model-card title.
    init_from
        Start from these weights (folder or ``.safetensors``; their config must equal ``config.model``)
        instead of a random initialisation: a continuation with its own warm-up and cosine schedule.
    """
    start = time.perf_counter()
    cfg = TrainConfig() if config is None else config
    torch.manual_seed(cfg.seed)
    model = SegUNet.from_config(cfg.model)
    if init_from is not None:
        start_model, start_config = load_unet(init_from)
        if start_config != cfg.model:
            raise ConfigError(f"init_from {init_from}: its config {start_config} is not {cfg.model}")
        model.load_state_dict(start_model.state_dict())
    # in place; torch documents Module.to(memory_format=...), but its typed overloads omit it
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if batches is None:
        data_cfg = cfg.data

        def batches(rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
            return render_batch(rng, n, data_cfg)

    if validation is None:
        validation = render_batch(np.random.default_rng([cfg.seed, 1]), cfg.val_frames, cfg.data)
    val_images, val_labels = validation
    train_start = time.perf_counter()
    total = cfg.steps
    history: list[dict[str, float]] = []
    losses: list[float] = []
    bar = _Progress(progress, total, name=name)
    running, loss_start = float("nan"), float("nan")
    step = 0
    try:
        while step < total:
            if cfg.minutes is not None and step == cfg.warmup_steps:
                now = time.perf_counter()
                per_step = (now - train_start) / step * 1.02  # + validation passes
                total = max(step + 1, step + int((cfg.minutes * 60.0 - (now - start)) / per_step))
            model.train()
            rng = np.random.default_rng([cfg.seed, 0, step])
            images, labels = batches(rng, cfg.batch_size)
            lr = _lr(step, total, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = dice_ce_loss(model(images.contiguous(memory_format=torch.channels_last)), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = float(loss.detach())
            losses.append(value)
            running = value if math.isnan(running) else 0.98 * running + 0.02 * value
            loss_start = value if step == 0 else loss_start
            step += 1
            bar.update(total, f"{name} loss {running:.3f}")
            if step % cfg.val_every == 0 or step == total:
                dice = validation_dice(model, val_images, val_labels)
                elapsed = time.perf_counter() - start
                history.append(
                    {
                        "step": step,
                        "loss": running,
                        "lr": lr,
                        "elapsed_s": elapsed,
                        **{f"val_{k}": v for k, v in dice.items()},
                    }
                )
                bar.log(
                    f"step {step}/{total}: loss {running:.4f}, validation Dice "
                    + ", ".join(f"{k} {v:.3f}" for k, v in dice.items())
                )
    finally:
        bar.close()
    model.eval()
    val = {k[4:]: v for k, v in history[-1].items() if k.startswith("val_")}
    wall = time.perf_counter() - start
    weights = None
    if out is not None:
        card = {
            "training data": "frames rendered on the fly by cardiomm.analysis.segmentation.simdata",
            "steps": step,
            "batch size": cfg.batch_size,
            "seed": cfg.seed,
            "first / final training loss": f"{loss_start:.4f} / {running:.4f}",
            "validation data": f"{cfg.val_frames} held-out rendered frames",
            "validation Dice": ", ".join(f"{k} {v:.3f}" for k, v in val.items()),
            "wall time": f"{wall / 60:.1f} min",
            "torch": torch.__version__,
            "torch threads": torch.get_num_threads(),
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "recipe": json.dumps(
                {k: v for k, v in asdict(cfg).items() if k != "model"} | {"steps": step}, default=str
            ),
            "reproduce": f"python scripts/train_segmenter.py --steps {step} --seed {cfg.seed} --threads 1",
            **dict(extra_card or {}),
        }
        weights = save_unet(out, model, cfg.model, card, title)
    return TrainResult(
        model=model,
        steps=step,
        history=history,
        val_dice=val,
        wall_time_s=wall,
        losses=losses,
        weights=weights,
    )
