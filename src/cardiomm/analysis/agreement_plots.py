"""Bland-Altman and scatter plots of reconstruction vs reference values (PNG, matplotlib Agg).

matplotlib is imported inside the functions and used through ``Figure`` + ``FigureCanvasAgg`` (no
pyplot, no global backend switch). Files are written atomically.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from cardiomm.analysis.agreement import agreement_stats
from cardiomm.errors import MissingKeyError
from cardiomm.utils.atomic import atomic_path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["agreement_figure", "plot_agreement"]


def _figure(ncols: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy: importing this module loads no matplotlib
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    fig = Figure(figsize=(5.0 * ncols, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def agreement_figure(
    recon: ArrayLike,
    ref: ArrayLike,
    path: str | os.PathLike[str],
    *,
    groups: ArrayLike | None = None,
    title: str = "",
    units: str = "",
    group_label: str = "R",
) -> Path:
    """Write a two-panel PNG: scatter (with identity line) and Bland-Altman (bias, 95 % LoA).

    Parameters
    ----------
    recon, ref
        Paired values (NaN pairs dropped).
    path
        Output ``.png``.
    groups
        Optional per-pair group values (e.g. acceleration), drawn in different colours.
    title, units
        Figure title and value units for the axis labels.
    """
    a = np.asarray(recon, dtype=np.float64).reshape(-1)
    b = np.asarray(ref, dtype=np.float64).reshape(-1)
    g = np.asarray(groups).reshape(-1) if groups is not None else np.zeros(a.size, dtype=int)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b, g = a[ok], b[ok], g[ok]
    stats = agreement_stats(a, b)
    unit = f" [{units}]" if units else ""
    fig = _figure(2)
    ax_s, ax_b = fig.subplots(1, 2)
    for gv in np.unique(g) if g.size else []:
        sel = g == gv
        label = f"{group_label}={gv}" if groups is not None else None
        ax_s.scatter(b[sel], a[sel], s=14, alpha=0.75, label=label)
        ax_b.scatter((a[sel] + b[sel]) / 2, a[sel] - b[sel], s=14, alpha=0.75, label=label)
    if a.size:
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        ax_s.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax_s.set_xlabel(f"fully sampled{unit}")
    ax_s.set_ylabel(f"reconstruction{unit}")
    ax_s.set_title(f"r = {stats.pearson_r:.3f}, ICC({stats.icc_kind}) = {stats.icc:.3f}, n = {stats.n}")
    for y, style in ((stats.bias, "-"), (stats.loa_low, "--"), (stats.loa_high, "--")):
        if np.isfinite(y):
            ax_b.axhline(y, color="k", ls=style, lw=1)
    ax_b.set_xlabel(f"mean of recon and reference{unit}")
    ax_b.set_ylabel(f"recon - reference{unit}")
    ax_b.set_title(f"bias {stats.bias:.3g}, LoA [{stats.loa_low:.3g}, {stats.loa_high:.3g}]")
    if groups is not None and a.size:
        ax_s.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def plot_agreement(
    table: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    panel_by: Sequence[str] = ("phenotype", "method", "pattern"),
    colour_by: str = "accel",
    recon_col: str = "value_recon",
    ref_col: str = "value_ref",
    units: dict[str, str] | None = None,
) -> list[Path]:
    """One :func:`agreement_figure` PNG per ``panel_by`` group, points coloured by ``colour_by``.

    Returns the written paths (``<out_dir>/<phenotype>_<method>_<pattern>.png``).
    """
    cols = [*panel_by, colour_by, recon_col, ref_col]
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise MissingKeyError(f"agreement table lacks column(s) {missing}; found {list(table.columns)}")
    units = units or {}
    paths = []
    for key, grp in table.groupby(list(panel_by), sort=True, dropna=False):
        key_t = key if isinstance(key, tuple) else (key,)
        name = "_".join(_slug(str(k)) for k in key_t)
        title = ", ".join(f"{c}={k}" for c, k in zip(panel_by, key_t, strict=True))
        unit = units.get(str(key_t[0]), "") if "phenotype" in panel_by[:1] else ""
        paths.append(
            agreement_figure(
                grp[recon_col].to_numpy(),
                grp[ref_col].to_numpy(),
                Path(out_dir) / f"{name}.png",
                groups=grp[colour_by].to_numpy(),
                title=title,
                units=unit,
                group_label=colour_by,
            )
        )
    return paths
