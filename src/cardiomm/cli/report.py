"""``cardiomm report``: Markdown + PNG report (tables, radar charts, example images) from a metrics CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from cardiomm.cli.app import app, console
from cardiomm.errors import InputFileError

__all__ = ["report"]


@app.command("report")
def report(
    metrics: Path = typer.Option(..., "--metrics", help="Metrics CSV written by `cardiomm evaluate`."),
    out: Path = typer.Option(Path("report"), "--out", help="Output folder (report.md + PNG figures)."),
    pred: Path | None = typer.Option(None, "--pred", help="Reconstruction folder, for example image grids."),
    ref: Path | None = typer.Option(
        None, "--ref", help="Data root with FullSample files, for example image grids."
    ),
    title: str = typer.Option("cardiomm evaluation", "--title"),
) -> None:
    """Write report.md with tables per group and PSNR radar charts per center and modality."""
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.evaluation.examples import collect_examples  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch
    from cardiomm.evaluation.report import write_report  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch

    if not metrics.is_file():
        raise InputFileError("metrics CSV not found", path=metrics)
    df = pd.read_csv(metrics)
    examples = collect_examples(df, pred, ref) if pred is not None and ref is not None else []
    path = write_report(df, out, examples=examples, title=title)
    console.print(f"wrote {path}")
