"""``cardiomm train``: train CardioMM / PromptMR / E2E-VarNet from a YAML config (see ``docs/training.md``).

Examples::

    cardiomm train --config configs/small_cpu.yaml
    cardiomm train --config configs/tiny.yaml --set trainer.max_steps=20 --set run.output_dir=runs/t
    cardiomm train --config configs/small_cpu.yaml --resume          # continue from checkpoints/last.ckpt
    cardiomm train --config configs/cardiomm_real_cpu.yaml \\
        --init-from src/cardiomm/assets/checkpoints/cardiomm
    cardiomm train --config configs/cardiomm_real_cpu.yaml \\
        --init-from src/cardiomm/assets/checkpoints/cardiomm --train-only heads,prompts
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from cardiomm.cli.app import app, console
from cardiomm.training.config import load_config
from cardiomm.training.run import train

__all__ = ["train_command"]


def _fmt(metrics: dict[str, float], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if k in metrics)


@app.command("train")
def train_command(
    config: Path = typer.Option(
        ..., "--config", "-c", help="YAML config (sections model, data, trainer, run)."
    ),
    sets: list[str] = typer.Option(
        [], "--set", help="Override a config value, e.g. --set trainer.max_steps=50 (repeatable)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from <run.output_dir>/checkpoints/last.ckpt."
    ),
    init_from: Path = typer.Option(
        None,
        "--init-from",
        help="Start from a release's weights (fine-tuning; same as --set run.init_from=PATH).",
    ),
    train_only: str = typer.Option(
        None,
        "--train-only",
        help="Train only these parts: heads, prompts, sens, output, last:N, comma-separated "
        "(same as --set run.train_only=SPEC).",
    ),
) -> None:
    """Train a reconstruction model; writes checkpoints, TensorBoard logs and a safetensors release."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    extra = [f"run.init_from={init_from}"] if init_from is not None else []
    extra += [f"run.train_only={train_only}"] if train_only is not None else []
    cfg = load_config(config, [*sets, *extra])
    result = train(cfg, resume=resume)
    if result.global_rank != 0:
        return
    keys = ("loss", "psnr", "ssim", "zf_psnr", "zf_ssim")
    console.print(
        f"[bold]trained[/] {cfg.model.get('model', 'cardiomm')}/{cfg.model.get('preset', 'small')}: "
        f"{result.global_step} steps, {result.epochs:g} epochs, {result.wall_time_s:.0f} s; "
        f"frames {result.frames}",
        highlight=False,
    )
    if result.initial:
        console.print(f"  val before: {_fmt(result.initial, keys)}", highlight=False)
    console.print(f"  val after:  {_fmt(result.final, keys)}", highlight=False)
    if result.test:
        console.print(f"  test:       {_fmt(result.test, keys)}", highlight=False)
    if result.release_dir is not None:
        console.print(f"  release -> {result.release_dir}", highlight=False)
