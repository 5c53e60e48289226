"""``cardiomm compare``: every method on one fully sampled file under one mask, scored by the protocol."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cardiomm.cli.app import DC_HELP, app, console
from cardiomm.cli.reconstruct import mask_spec_from_options
from cardiomm.errors import ConfigError
from cardiomm.types import DataConsistency
from cardiomm.utils.device import DEVICE_HELP, resolve_device
from cardiomm.utils.precision import PRECISION_HELP, precision_note, resolve_precision

__all__ = ["compare"]


@app.command("compare")
def compare(
    kspace: Path = typer.Argument(..., help="Fully sampled CMRxRecon .mat (kspace_full / kspace) or .h5."),
    mask: Path | None = typer.Option(None, "--mask", help="Mask .mat (key `mask`), e.g. a CMRxRecon mask."),
    pattern: str | None = typer.Option(
        None, "--pattern", help="Or a generated mask: Uniform, ktGaussian, ktRadial, ktUniform."
    ),
    accel: int | None = typer.Option(None, "--accel", help="Acceleration R of --pattern (ACS not counted)."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of a random --pattern (default: from the file name)."
    ),
    methods: str = typer.Option(
        "zf,sense,cs,varnet,promptmr,cardiomm", "--methods", help="Comma-separated methods."
    ),
    acs: int = typer.Option(20, "--acs", help="Calibration region size (16 for CMRxRecon2024 masks)."),
    prompt: str | None = typer.Option(
        None, "--prompt", help="Metadata prompt (default: from path and header)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for metrics.csv, every reconstruction (.mat), images, error maps and one figure.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
    device: str = typer.Option("auto", "--device", help=f"Device of the learned methods: {DEVICE_HELP}"),
    precision: str = typer.Option(
        "fp32", "--precision", help=f"Arithmetic of the learned methods: {PRECISION_HELP}"
    ),
    dc: DataConsistency = typer.Option(DataConsistency.SOFT, "--dc", help=DC_HELP),
) -> None:
    """Reconstruct one file with every method and print PSNR / SSIM / NMSE against the fully sampled RSS."""
    from cardiomm.recon.compare import run_comparison, write_comparison  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, skimage, torch

    torch_device = resolve_device(device)
    prec = resolve_precision(precision, torch_device)
    if note := precision_note(prec, torch_device):
        console.print(f"[yellow]{note}[/]")
    spec = mask_spec_from_options(kspace, mask, pattern, accel, seed, acs)
    if mask is None and spec is None:
        raise ConfigError("give --mask FILE or --pattern P --accel R")
    if out is not None and out.exists() and not overwrite:
        raise ConfigError("the --out folder exists already; pass --overwrite to replace it", path=out)
    if out is not None and any(out.resolve() == p.resolve() for p in (kspace, mask) if p is not None):
        raise ConfigError("--out must not be an input", path=out)
    names = [m.strip() for m in methods.split(",") if m.strip()]
    if not names:
        raise ConfigError(f"--methods names no method (got {methods!r}); e.g. --methods zf,sense,cardiomm")
    result = run_comparison(
        kspace,
        mask,
        names,
        n_acs=acs,
        prompt=prompt,
        mask_spec=spec,
        device=torch_device,
        precision=prec,
        dc=dc,
    )
    scores, meta, us = result.scores, result.metadata_prompt, result.undersampling_prompt
    under = mask.name if mask is not None else spec.token if spec is not None else ""
    table = Table(title=f"{kspace.name} under {under}")
    for col in ("method", "PSNR (dB)", "SSIM", "NMSE", "s / frame"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for s in scores:
        table.add_row(
            s.method, f"{s.psnr:.2f}", f"{s.ssim:.4f}", f"{s.nmse:.4f}", f"{s.seconds_per_frame:.2f}"
        )
    console.print(f"prompts: {meta!r} / {us!r}")
    console.print(table)
    if out is not None:
        files = write_comparison(result, out, f"{kspace.name} under {under}")
        console.print(f"wrote {len(files)} files under {out} (metrics.csv, comparison.png)")
