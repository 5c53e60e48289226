"""``cardiomm evaluate``: metrics of a reconstruction tree against the fully sampled references."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from cardiomm.cli.app import app, console
from cardiomm.utils.atomic import atomic_path

__all__ = ["evaluate"]


@app.command("evaluate")
def evaluate(
    pred: Path = typer.Option(
        ..., "--pred", help="Folder of reconstructions (as written by `cardiomm reconstruct`)."
    ),
    ref: Path = typer.Option(..., "--ref", help="Data root with the fully sampled FullSample files."),
    out: Path = typer.Option(Path("metrics.csv"), "--out", help="Per-file metrics CSV."),
    method: str | None = typer.Option(
        None, "--method", help="Method name (default: first folder below --pred)."
    ),
    scheme: str = typer.Option(
        "percentile", "--scheme", help="Normalisation: percentile (CardioMM/2025), std (2024), maxval."
    ),
    external: str | None = typer.Option(
        None,
        "--external",
        help="Comma-separated external centers (default: centers without TrainingSet data).",
    ),
) -> None:
    """Evaluate every reconstruction (PSNR, SSIM, NMSE per the CMRxRecon2025 / CardioMM protocol)."""
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.evaluation.aggregate import group_table, markdown_table  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch
    from cardiomm.evaluation.tree import COLUMNS, center_roles, evaluate_tree, find_predictions  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch

    roles = center_roles(ref)
    if external:
        ext = {c.strip() for c in external.split(",") if c.strip()}
        roles = {c: ("external" if c in ext else "internal") for c in set(roles) | ext}
    n = len(find_predictions(pred, method))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("evaluating", total=n)
        rows = evaluate_tree(
            pred, ref, method=method, scheme=scheme, roles=roles, on_file=lambda _: progress.advance(task)
        )
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    by = ["Role", "Mask", "AF"] if df["Role"].nunique() > 1 else ["Mask", "AF"]
    console.print(markdown_table(group_table(df, by, "PSNR"), 2))
    console.print(f"wrote {len(df)} rows to {out}")
