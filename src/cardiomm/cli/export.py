"""``cardiomm export``: a release as a self-contained TorchScript program for one protocol."""

from __future__ import annotations

from pathlib import Path

import typer

from cardiomm.cli.app import app, console

__all__ = ["export_command"]


@app.command("export")
def export_command(
    release: Path | None = typer.Argument(None, help="Release folder (default: shipped, --method)."),
    out: Path = typer.Option(..., "--out", help="Output file (.pt)."),
    fmt: str = typer.Option("torchscript", "--format", help="torchscript (onnx: refused, complex nets)."),
    method: str = typer.Option("cardiomm", "--method", help="cardiomm | varnet | promptmr."),
    coils: int = typer.Option(..., "--coils", help="Coils of the k-space the program will take."),
    ky: int = typer.Option(..., "--ky", help="Phase encodes (ky) of the k-space."),
    kx: int = typer.Option(..., "--kx", help="Readout samples (kx) of the k-space."),
    pattern: str = typer.Option("Uniform", "--pattern", help="Uniform, ktGaussian or ktRadial (its family)."),
    accel: int = typer.Option(8, "--accel", help="Acceleration R, for the undersampling prompt."),
    acs: int = typer.Option(20, "--acs", help="ACS lines / square side."),
    prompt: str | None = typer.Option(None, "--prompt", help="CardioMM metadata prompt."),
    batch: int = typer.Option(1, "--batch-size", help="Frames per call of the program."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists."),
) -> None:
    """Export a release as a TorchScript program (`torch.jit.load`, libtorch) for one protocol: k-space
    shape, mask family, prompts and batch size are fixed and checked at every call."""
    import warnings  # noqa: PLC0415

    from cardiomm.recon.export import ExportSpec, export_release  # noqa: PLC0415 - lazy: torch
    from cardiomm.sampling.registry import mask_type_of  # noqa: PLC0415 - lazy: numpy

    spec = ExportSpec(coils, ky, kx, str(mask_type_of(pattern)), accel, acs, prompt, batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on python values it records as constants
        written = export_release(release, out, spec, method=method, fmt=fmt, overwrite=overwrite)
    console.print(
        f"{method if release is None else release} -> {written} ({fmt}; k-space "
        f"({batch}, {coils}, {ky}, {kx}) complex64, {spec.mask_type} mask -> "
        f"image ({batch}, {ky}, {kx}) float32)",
        highlight=False,
    )
