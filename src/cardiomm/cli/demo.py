"""``cardiomm demo``: simulate a multi-center test set, reconstruct with every method, evaluate, report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cardiomm.cli.app import app, console
from cardiomm.demo import run_demo
from cardiomm.utils.device import DEVICE_HELP, resolve_device
from cardiomm.utils.precision import PRECISION_HELP, precision_note, resolve_precision

__all__ = ["demo"]


@app.command("demo")
def demo(
    out: Path = typer.Option(
        Path("demo_out"), "--out", help="Output folder (data, reconstructions, metrics, report)."
    ),
    methods: str = typer.Option(
        "zf,sense,cs,varnet,promptmr,cardiomm", "--methods", help="Comma-separated methods."
    ),
    phenotypes: bool = typer.Option(
        True, "--phenotypes/--no-phenotypes", help="Also the clinical step: cine phenotypes at 8x/16x/24x."
    ),
    real: bool = typer.Option(
        True, "--real/--no-real", help="Also the real-anatomy step: a real heart, every method."
    ),
    device: str = typer.Option("auto", "--device", help=f"Device of the learned methods: {DEVICE_HELP}"),
    precision: str = typer.Option(
        "auto", "--precision", help=f"Arithmetic of the learned methods: {PRECISION_HELP}"
    ),
) -> None:
    """Reconstruct zero-shot external-center and internal-center scans at 8x/16x/24x with CardioMM and
    every baseline, evaluate them and write a report (a few minutes on 2 CPU cores)."""
    torch_device = resolve_device(device)
    prec = resolve_precision(precision, torch_device)
    if note := precision_note(prec, torch_device):
        console.print(f"[yellow]{note}[/]")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        result = run_demo(
            out,
            methods=[m.strip() for m in methods.split(",") if m.strip()],
            log=console.print,
            progress=progress,
            phenotypes=phenotypes,
            real=real,
            device=torch_device,
            precision=prec,
        )
    console.print("\nMean PSNR (dB) per center role, pattern and acceleration (higher is better):\n")
    console.print(result.table_markdown, highlight=False, soft_wrap=True)
    if result.real_table_markdown:
        console.print(
            "\nA real heart (Sunnybrook SCD0000101, CC0) at an unseen center, zero-shot: mean PSNR (dB):\n"
        )
        console.print(result.real_table_markdown, highlight=False, soft_wrap=True)
    if result.phenotypes_markdown:
        console.print(
            "\nClinical measurements: one subject's short-axis cine stack (simunet segmentation):\n"
        )
        console.print(result.phenotypes_markdown, highlight=False, soft_wrap=True)
    console.print(f"\nreport: {result.report}\nmetrics: {result.metrics_csv}")
    if result.real_report is not None:
        console.print(f"real-anatomy report: {result.real_report}")
    if result.phenotypes_csv is not None:
        console.print(f"phenotypes: {result.phenotypes_csv}")
    console.print(f"time: {result.seconds:.0f} s (learned methods at {result.precision})")
    if result.skipped:
        console.print(f"[yellow]skipped (no checkpoint): {', '.join(result.skipped)}[/]")
