"""Database composition tables (as in a paper's database figure): scans, frames and patients per
modality, center, vendor, field strength, scanner and disease; printed with rich, written as CSV and
drawn as one bar-chart figure (matplotlib Agg, imported lazily)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cardiomm.database.catalog import read_catalog
from cardiomm.types import UNKNOWN
from cardiomm.utils.atomic import atomic_path

__all__ = ["STAT_GROUPS", "catalog_stats", "print_stats", "write_stats_csv", "plot_stats"]

#: Table name -> how rows are grouped.
STAT_GROUPS: tuple[str, ...] = ("modality", "center", "vendor", "field strength", "scanner", "disease")


def _group_column(frame: Any, name: str) -> Any:
    if name == "field strength":
        from cardiomm.text.prompts import format_field  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

        return frame["field_t"].map(lambda v: UNKNOWN if v is None or v != v else format_field(float(v)))
    if name == "scanner":
        field = _group_column(frame, "field strength")
        return frame["vendor"].astype(str) + " " + field + " " + frame["scanner"].astype(str)
    return frame[name].astype(str)


def catalog_stats(catalog: str | os.PathLike[str] | Any) -> dict[str, Any]:
    """Composition tables of a catalog (path or ``DataFrame``).

    Returns
    -------
    dict[str, pandas.DataFrame]
        One table per entry of :data:`STAT_GROUPS` (plus ``total``), columns ``<group>``, ``scans``,
        ``frames`` (sum of nt * nz), ``patients`` (distinct center + patient ID), ``scan_share``
        (fraction of scans); sorted by scans (descending), then name.
    """
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    if isinstance(catalog, str | os.PathLike):
        frame = read_catalog(catalog)
    else:
        frame = catalog
    frame = frame.assign(
        __frames=frame["n_frames"].fillna(0).astype("int64"),
        __patient=frame["center"].astype(str) + "/" + frame["patient_id"].astype(str),
    )
    total = max(len(frame), 1)
    tables: dict[str, Any] = {}
    for name in STAT_GROUPS:
        g = frame.assign(__key=_group_column(frame, name)).groupby("__key", sort=True)
        table = pd.DataFrame(
            {
                name: list(g.groups.keys()),
                "scans": g.size().to_numpy(),
                "frames": g["__frames"].sum().to_numpy(),
                "patients": g["__patient"].nunique().to_numpy(),
            }
        )
        table["scan_share"] = (table["scans"] / total).round(4)
        table = table.sort_values(["scans", name], ascending=[False, True], kind="stable")
        tables[name] = table.reset_index(drop=True)
    tables["total"] = pd.DataFrame(
        {
            "total": ["all"],
            "scans": [len(frame)],
            "frames": [int(frame["__frames"].sum())],
            "patients": [frame["__patient"].nunique()],
            "scan_share": [1.0 if len(frame) else 0.0],
        }
    )
    return tables


def print_stats(tables: Mapping[str, Any], console: Any | None = None) -> None:
    """Print the tables with rich."""
    out = console or Console()
    for name, frame in tables.items():
        table = Table(title=f"by {name}" if name != "total" else "total", title_justify="left")
        for col in frame.columns:
            table.add_column(str(col), justify="left" if col == name else "right")
        for row in frame.itertuples(index=False):
            table.add_row(*(f"{v:.1%}" if isinstance(v, float) else str(v) for v in row))
        out.print(table)


def write_stats_csv(tables: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write one ``by_<name>.csv`` per table (atomically); returns the files written."""
    folder = Path(out_dir)
    written = []
    for name, frame in tables.items():
        path = folder / f"by_{name.replace(' ', '_')}.csv"
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        written.append(path)
    return written


def plot_stats(tables: Mapping[str, Any], png: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Draw scans (bars) and frames (annotations) per group, one panel per table, to a PNG file."""
    import matplotlib  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    names = [n for n in STAT_GROUPS if n in tables]
    n_cols = (len(names) + 1) // 2
    fig, axes = plt.subplots(2, n_cols, figsize=(5 * n_cols, 8), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        frame = tables[name]
        ax.barh(frame[name].astype(str)[::-1], frame["scans"][::-1], color="#4477aa")
        for y, (scans, frames) in enumerate(zip(frame["scans"][::-1], frame["frames"][::-1], strict=True)):
            ax.text(scans, y, f" {frames} fr", va="center", fontsize=7)
        ax.set_title(f"scans by {name}")
        ax.set_xlabel("scans")
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(png)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    plt.close(fig)
    return path
