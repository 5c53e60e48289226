"""``cardiomm analyse cine-agreement``: phenotypes of a reconstruction tree vs fully sampled (and truth)."""

from __future__ import annotations

from pathlib import Path

import typer

from cardiomm.cli.analyse import analyse_app
from cardiomm.cli.app import console

__all__ = ["cine_agreement"]


@analyse_app.command("cine-agreement")
def cine_agreement(
    pred_root: Path = typer.Argument(..., help="Reconstruction tree written by `cardiomm reconstruct` on a TestSet tree."),
    ref_root: Path = typer.Argument(..., help="The MMCMR tree (with FullSample) that was reconstructed."),
    out_dir: Path = typer.Option(Path("cine_agreement"), "--out-dir", help="Output folder (tables, figures, report.md)."),
    segmenter: str | None = typer.Option(None, "--segmenter", help="Segmenter for references and reconstructions (default: the default segmenter)."),
    model_folder: Path | None = typer.Option(None, "--model-folder", help="For --segmenter nnunet."),
    method: str | None = typer.Option(None, "--method", help="Method name when PRED_ROOT holds one method's tree directly."),
    all_centers: bool = typer.Option(False, "--all-centers", help="Keep the centers the paper excluded (pediatric, 0.55 T, 5.0 T)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write the radar, scatter and Bland-Altman PNGs."),
) -> None:
    """Segment every short-axis cine reconstruction and its fully sampled reference; write agreement tables,
    Bland-Altman / scatter plots, a Pearson-r radar per acceleration and report.md."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from cardiomm.analysis.cine_report import write_cine_report
    from cardiomm.analysis.cine_tree import PAPER_EXCLUSIONS, cine_phenotype_tables, is_excluded
    from cardiomm.analysis.segmentation import DEFAULT_SEGMENTER, get_segmenter
    from cardiomm.evaluation.tree import find_predictions

    name = segmenter or DEFAULT_SEGMENTER
    seg = get_segmenter(name, **({"model_folder": model_folder} if model_folder is not None else {}))
    exclusions = () if all_centers else PAPER_EXCLUSIONS
    n_total = sum(
        1 for p in find_predictions(pred_root, method)
        if p.ref_rel.stem == "cine_sax" and not is_excluded(p.ref_rel, exclusions)
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(f"segment + phenotypes ({name})", total=n_total)
        pairs, truth = cine_phenotype_tables(
            pred_root, ref_root, seg, method=method, exclusions=exclusions,
            on_file=lambda _: progress.advance(bar),
        )
    excl = "none" if not exclusions else ", ".join(exclusions)
    notes = f"Segmenter: `{name}`. Excluded (paper protocol): {excl}."
    report = write_cine_report(pairs, truth, out_dir, notes=notes, plots=plots)
    console.print(f"{pairs['case'].nunique()} cases, {len(pairs)} pairs -> {report}")
