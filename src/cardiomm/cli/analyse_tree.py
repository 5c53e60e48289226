"""``cardiomm analyse recon-agreement``: cine phenotypes and T1/T2 biomarkers of a reconstruction tree
against the fully sampled references (and the simulator's ground truth when present)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cardiomm.cli.analyse import analyse_app, segmenter_kwargs
from cardiomm.cli.app import console
from cardiomm.errors import InputFileError
from cardiomm.utils.device import DEVICE_HELP

__all__ = ["recon_agreement"]


@analyse_app.command("recon-agreement")
def recon_agreement(
    pred_root: Path = typer.Argument(
        ..., help="Reconstruction tree written by `cardiomm reconstruct` on a TestSet tree."
    ),
    ref_root: Path = typer.Argument(..., help="The MMCMR tree (with FullSample) that was reconstructed."),
    out_dir: Path = typer.Option(
        Path("recon_agreement"), "--out-dir", help="Output folder (tables, figures, report.md)."
    ),
    segmenter: str | None = typer.Option(
        None,
        "--segmenter",
        help="Cine segmenter for references and reconstructions (default: the default segmenter).",
    ),
    model_folder: Path | None = typer.Option(None, "--model-folder", help="For --segmenter nnunet."),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="For --segmenter acdcunet/simunet: your trained weights (folder or .safetensors).",
    ),
    device: str = typer.Option("auto", "--device", help=f"Device of the U-Net segmenters: {DEVICE_HELP}"),
    method: str | None = typer.Option(
        None, "--method", help="Method name when PRED_ROOT holds one method's tree directly."
    ),
    all_centers: bool = typer.Option(
        False,
        "--all-centers",
        help="Keep the centers the paper excluded from cine phenotyping (pediatric, 0.55 T, 5.0 T).",
    ),
    plots: bool = typer.Option(
        True, "--plots/--no-plots", help="Write the radar, scatter and Bland-Altman PNGs."
    ),
    qc_figures: bool = typer.Option(
        True,
        "--qc-figures/--no-qc-figures",
        help="QC figure of each cine segmentation with a label QC flag (OUT/qc).",
    ),
) -> None:
    """Segment short-axis cine (11 phenotypes) and fit T1/T2 maps (myocardial mean) on reconstructions and
    fully sampled references; write agreement tables (r, Bland-Altman, ICC, MAE), figures and report.md."""
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.analysis.agreement_report import write_agreement_report  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.cine_tree import PAPER_EXCLUSIONS, cine_phenotype_tables, is_excluded  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.mapping_tree import mapping_biomarker_tables  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.segmentation import DEFAULT_SEGMENTER, get_segmenter  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.evaluation.tree import find_predictions  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch

    exclusions = () if all_centers else PAPER_EXCLUSIONS
    preds = find_predictions(pred_root, method)
    n_cine = sum(p.ref_rel.stem == "cine_sax" and not is_excluded(p.ref_rel, exclusions) for p in preds)
    n_map = sum(p.ref_rel.stem in ("T1map", "T2map") for p in preds)
    if not n_cine and not n_map:
        raise InputFileError("no cine_sax (after exclusions), T1map or T2map reconstructions", path=pred_root)
    name = segmenter or DEFAULT_SEGMENTER
    pairs, truth = [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        if n_cine:
            seg = get_segmenter(name, **segmenter_kwargs(name, model_folder, weights, device))
            bar = progress.add_task(f"cine: segment + phenotypes ({name})", total=n_cine)
            p, t = cine_phenotype_tables(
                pred_root,
                ref_root,
                seg,
                method=method,
                exclusions=exclusions,
                on_file=lambda _: progress.advance(bar),
                qc_dir=out_dir / "qc" if qc_figures else None,
            )
            pairs.append(p)
            truth.append(t)
        if n_map:
            bar = progress.add_task("mapping: T1 / T2 fits", total=n_map)
            p, t = mapping_biomarker_tables(
                pred_root, ref_root, method=method, on_file=lambda _: progress.advance(bar)
            )
            pairs.append(p)
            truth.append(t)
    all_pairs, all_truth = pd.concat(pairs, ignore_index=True), pd.concat(truth, ignore_index=True)
    excl = "none" if not exclusions else ", ".join(exclusions)
    notes = (
        f"Cine segmenter: `{name}`. "
        f"Excluded from cine phenotyping (paper protocol): {excl}; mapping: all centers."
    )
    report = write_agreement_report(all_pairs, all_truth, out_dir, notes=notes, plots=plots)
    console.print(f"{all_pairs['case'].nunique()} cases, {len(all_pairs)} pairs -> {report}")
    n_qc = len(list((out_dir / "qc").glob("*_qc.png"))) if qc_figures else 0
    if n_qc:
        console.print(f"{n_qc} QC figure(s) of flagged segmentations under {out_dir / 'qc'}")
