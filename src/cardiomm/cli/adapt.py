"""``cardiomm adapt``: self-supervised adaptation of a release to undersampled data (see ``docs/adapt.md``).

Examples::

    cardiomm adapt site_tree/Cine/TestSet --out releases/site_a            # the shipped CardioMM
    cardiomm adapt scan_kus_ktGaussian16.mat --out R --steps 60 --device cpu
    cardiomm adapt scan.mat --mask scan_mask_ktGaussian16.mat --out R --method varnet
    cardiomm reconstruct site_tree/Cine/TestSet --out rec --model releases/site_a
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cardiomm.cli.app import app, console
from cardiomm.errors import ConfigError
from cardiomm.utils.device import resolve_device

if TYPE_CHECKING:
    from cardiomm.training.adapt import CurvePoint

__all__ = ["adapt_command"]


@app.command("adapt")
def adapt_command(
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help=(
            "Undersampled k-space (kus .mat, or any k-space file with --mask), a folder of *_kus_*.mat "
            "files, or a TestSet tree read through its Mask_TaskAll masks."
        ),
    ),
    out: Path = typer.Option(..., "--out", help="Release folder to write (safetensors + config + card)."),
    model: Path | None = typer.Option(
        None, "--model", help="Release to adapt (default: the shipped checkpoint of --method)."
    ),
    method: str = typer.Option("cardiomm", "--method", help="cardiomm | promptmr | varnet."),
    mask: Path | None = typer.Option(
        None, "--mask", help="Mask .mat undersampling a single fully sampled file."
    ),
    include: list[str] = typer.Option(
        [],
        "--include",
        help="Folders: only files whose name or relative path matches this glob (repeatable).",
    ),
    steps: int = typer.Option(30, "--steps", help="Maximum optimiser steps (see docs/adapt.md)."),
    lr: float = typer.Option(1e-4, "--lr", help="Adam learning rate."),
    batch_frames: int = typer.Option(1, "--batch-frames", help="Frames per step."),
    splits: int = typer.Option(2, "--splits", help="Random k-space splits per frame per step."),
    loss_fraction: float = typer.Option(
        0.4, "--loss-fraction", help="Fraction of the non-ACS acquired lines/points held back for the loss."
    ),
    val_fraction: float = typer.Option(
        0.2,
        "--val-fraction",
        help="Fraction of the non-ACS acquired lines/points held out for early stopping (0: none).",
    ),
    unit: str = typer.Option(
        "auto",
        "--split-unit",
        help="auto (lines for Cartesian line masks, else points) | line | spoke (whole spokes of "
        "radial masks) | point.",
    ),
    loss_weighting: str = typer.Option(
        "none",
        "--loss-weighting",
        help="none (SSDU) | k (the loss weighted by the sampling densities, Millard and Chiew 2023; "
        "docs/adapt.md).",
    ),
    val_every: int = typer.Option(10, "--val-every", help="Steps between validation losses."),
    patience: int = typer.Option(
        5, "--patience", help="Validations without gain before stopping (0: never)."
    ),
    train_only: str | None = typer.Option(
        None,
        "--train-only",
        help="Train only these parts: heads, prompts, sens, output, last:N (comma-separated).",
    ),
    acs: int = typer.Option(20, "--acs", help="Calibration region the network uses (lines / square)."),
    prompt: str | None = typer.Option(
        None, "--prompt", help="Metadata prompt text (default: from the path)."
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N."),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads (default: torch's)."),
    significance: float = typer.Option(
        2.0,
        "--significance",
        help="Release a changed model only if its validation gain exceeds this many std. errors, and no "
        "step worse than that on one sampling protocol (0: both tests off).",
    ),  # fmt: skip
    seed: int = typer.Option(0, "--seed", help="Seed of the splits, frame order and validation sets."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out release."),
) -> None:
    """Adapt a reconstruction model to a site's undersampled data, without fully sampled data (SSDU with
    ZS-SSL early stopping); writes a release that `cardiomm reconstruct --model` loads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    from cardiomm.training.adapt import AdaptOptions, adapt  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
    from cardiomm.training.ssdu import SplitSpec  # noqa: PLC0415 - lazy: importing this module loads no numpy, torch

    if method not in ("cardiomm", "promptmr", "varnet"):
        raise ConfigError(f"--method must be cardiomm, promptmr or varnet, got {method!r}")
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    options = AdaptOptions(
        steps=steps, lr=lr, batch_frames=batch_frames, n_splits=splits, val_every=val_every,
        patience=patience, significance=significance, seed=seed, train_only=train_only,
        split=SplitSpec(
            loss_fraction=loss_fraction, val_fraction=val_fraction, unit=unit, weighting=loss_weighting
        ),
    )  # fmt: skip
    dev = resolve_device(device)

    def show(point: CurvePoint) -> None:
        train = "" if point.train_loss is None else f"train {point.train_loss:.4f}  "
        worse = f"  worse than step 0 on {', '.join(point.worse)}" if point.worse else ""
        console.print(f"  step {point.step:4d}  {train}val {point.val_loss:.4f}{worse}", highlight=False)

    result = adapt(
        input_path, out, model_path=model, method=method, mask=mask, include=include, n_acs=acs,
        prompt=prompt, options=options, device=dev, overwrite=overwrite, on_eval=show,
    )  # fmt: skip
    console.print(
        f"[bold]adapted[/] {method}: {result.steps_run} steps in {result.wall_time_s:.0f} s "
        f"({result.stop_reason}); released step {result.best_step}"
        + (f", validation loss {result.best_val_loss:.4f}" if result.best_val_loss is not None else ""),
        highlight=False,
    )
    start = next((p.val_loss for p in result.curve if p.step == 0), None)
    if result.best_step == 0 and start is not None:
        console.print("  the input weights are released unchanged", highlight=False)
    elif start and result.best_val_loss is not None:
        change = 100.0 * (result.best_val_loss / start - 1.0)
        console.print(f"  held-out loss {change:+.1f} % against step 0 ({start:.4f})", highlight=False)
    _print_protocols(result.curve)
    console.print(f"  release -> {out}", highlight=False)


def _print_protocols(curve: list[CurvePoint]) -> None:
    """Each protocol's held-out loss change at the step of the lowest mean loss against step 0."""
    first = next((p for p in curve if p.step == 0 and p.by_protocol), None)
    later = [p for p in curve if p.step > 0 and p.by_protocol]
    if first is None or not later:
        return
    best = min(later, key=lambda p: p.val_loss)
    start = dict(first.by_protocol)
    changes = ", ".join(
        f"{name} {100.0 * (loss / start[name] - 1.0):+.1f} %"
        for name, loss in best.by_protocol
        if start.get(name)
    )
    console.print(
        f"  held-out loss per protocol at step {best.step} against step 0: {changes}", highlight=False
    )
