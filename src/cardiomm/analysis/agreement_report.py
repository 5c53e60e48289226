"""Write the agreement report of a reconstruction tree: CSV tables, figures and ``report.md``.

Input: long tables of :func:`cardiomm.analysis.cine_tree.cine_phenotype_tables` (cine phenotypes) and/or
:func:`cardiomm.analysis.mapping_tree.mapping_biomarker_tables` (myocardial T1 / T2), concatenated.
Output folder::

    pairs.csv            long table (case, method, pattern, accel, phenotype, value_recon, value_ref, qc)
    agreement.csv        per method x pattern x accel x phenotype: r, bias, LoA, ICC, MAE
    agreement_pooled.csv per method x accel x phenotype, patterns pooled
    truth.csv            fully sampled analysis vs ground truth (simulated data only)
    figures/radar_r_<accel>x.png       Pearson r per phenotype / biomarker, one polygon per method (Fig. 1d)
    figures/<phenotype>_<method>_<pattern>.png   scatter + Bland-Altman, coloured by acceleration
    report.md            the tables above in Markdown, with the figures linked
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cardiomm.analysis.agreement import agreement_table
from cardiomm.analysis.agreement_plots import plot_agreement
from cardiomm.analysis.cine_tree import truth_summary
from cardiomm.analysis.mapping_tree import BIOMARKER_UNITS
from cardiomm.analysis.phenotypes import PHENOTYPE_UNITS
from cardiomm.utils.atomic import atomic_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["UNITS", "write_agreement_report"]

#: Inner edge of the Pearson-r radar charts.
RADAR_FLOOR = 0.5
#: Units of the cine phenotypes and the mapping biomarkers.
UNITS: dict[str, str] = {**PHENOTYPE_UNITS, **BIOMARKER_UNITS}


def _csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def _md_table(df: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [fmt.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_agreement_report(
    pairs: pd.DataFrame,
    truth: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    title: str = "Phenotype and biomarker agreement: reconstructions vs fully sampled",
    notes: str = "",
    plots: bool = True,
) -> Path:
    """Write tables, figures and ``report.md`` under ``out_dir``; return the report path."""
    from cardiomm.evaluation.report import radar_chart  # noqa: PLC0415 - lazy: importing this module loads no skimage, torch

    out = Path(out_dir)
    fig_dir = out / "figures"
    order = list(dict.fromkeys(pairs["phenotype"]))
    stats = agreement_table(pairs)
    pooled = agreement_table(pairs, group_by=("method", "accel", "phenotype"))
    _csv(pairs, out / "pairs.csv")
    _csv(stats, out / "agreement.csv")
    _csv(pooled, out / "agreement_pooled.csv")
    if len(truth):
        _csv(truth, out / "truth.csv")
    lines = [f"# {title}", ""]
    if notes:
        lines += [notes, ""]
    n_cases = pairs["case"].nunique()
    methods = ", ".join(sorted(map(str, pairs["method"].unique())))
    patterns = ", ".join(sorted(map(str, pairs["pattern"].unique())))
    accels = ", ".join(f"{a}x" for a in sorted(int(a) for a in pairs["accel"].unique()))
    lines += [f"{n_cases} cases; methods {methods}; patterns {patterns}; accelerations {accels}.", ""]
    if len(truth):
        ts = truth_summary(truth)
        lines += [
            "## Fully sampled vs ground truth",
            "",
            "Absolute relative error [%] of the values from the fully sampled images (cine: segmented; "
            "mapping: fitted inside the true myocardium) against the simulator's ground truth.",
            "",
            _md_table(ts, "{:.2f}"),
            "",
        ]
    for method, grp in pooled.groupby("method", sort=True):
        r = grp.pivot(index="phenotype", columns="accel", values="pearson_r").reindex(order)
        icc = grp.pivot(index="phenotype", columns="accel", values="icc").reindex(order)
        bias = grp.pivot(index="phenotype", columns="accel", values="bias").reindex(order)
        table = r.rename(columns=lambda a: f"r {a}x").join(icc.rename(columns=lambda a: f"ICC {a}x"))
        table = table.join(bias.rename(columns=lambda a: f"bias {a}x")).reset_index()
        table.insert(1, "unit", [UNITS.get(p, "") for p in table["phenotype"]])
        lines += [f"## {method}: patterns pooled", "", _md_table(table), ""]
    if plots:
        lines += [
            "## Pearson r per acceleration (like the paper's Figure 1d)",
            "",
            f"Radial axis {RADAR_FLOOR}-1; values below {RADAR_FLOOR} are drawn at {RADAR_FLOOR}.",
            "",
        ]
        for accel, grp in pooled.groupby("accel", sort=True):
            r = grp.pivot(index="phenotype", columns="method", values="pearson_r").reindex(order)
            path = radar_chart(
                r.clip(lower=RADAR_FLOOR),
                fig_dir / f"radar_r_{accel}x.png",
                f"Pearson r vs fully sampled, {accel}x",
                limits=(RADAR_FLOOR, 1.0),
            )
            lines += [f"![Pearson r radar, {accel}x]({path.relative_to(out).as_posix()})", ""]
    lines += [
        "## Per pattern",
        "",
        "See `agreement.csv` (Pearson r, Bland-Altman bias and 95 % limits of "
        "agreement, ICC(2,1), MAE per method, pattern, acceleration and phenotype).",
        "",
    ]
    if plots:
        figs = plot_agreement(pairs, fig_dir, units=UNITS)
        lines += [
            f"Scatter and Bland-Altman plots ({len(figs)}): `figures/<phenotype>_<method>_<pattern>.png`.",
            "",
        ]
    report = out / "report.md"
    with atomic_path(report) as tmp:
        Path(tmp).write_text("\n".join(lines))
    return report
