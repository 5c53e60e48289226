"""Aggregate per-file metrics into the tables a paper shows (means per group and method)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["GROUPINGS", "group_table", "markdown_table", "win_table"]

#: Grouping columns of the standard tables.
GROUPINGS: tuple[str, ...] = ("Modality", "Center", "Mask", "AF", "Role")


def group_table(
    df: Any, by: str | Sequence[str], metric: str = "PSNR", method_order: Sequence[str] | None = None
) -> Any:
    """Mean ``metric`` per group (rows) and method (columns), a pandas DataFrame."""
    by = [by] if isinstance(by, str) else list(by)
    table = df.pivot_table(index=by, columns="Method", values=metric, aggfunc="mean")
    if method_order is not None:
        table = table[[m for m in method_order if m in table.columns]]
    return table


def win_table(
    df: Any,
    winner: str,
    against: Sequence[str],
    by: Sequence[str] = ("Role", "Mask", "AF"),
    metric: str = "PSNR",
) -> Any:
    """Boolean table: does ``winner`` have a higher mean ``metric`` than every method in ``against``?"""
    table = group_table(df, list(by), metric)
    others = [m for m in against if m in table.columns]
    return table[winner].gt(table[others].max(axis=1)) if others else table[winner].notna()


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.{digits}f}"
    return str(value)


def markdown_table(table: Any, digits: int = 2, bold_max: bool = True) -> str:
    """Render a (pivot) DataFrame as a GitHub Markdown table; the row maximum is bold when ``bold_max``."""
    index_names = [n or "" for n in (table.index.names or [table.index.name])]
    header = [*index_names, *[str(c) for c in table.columns]]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * len(index_names) + ["---:"] * len(table.columns)) + "|",
    ]
    for idx, row in table.iterrows():
        keys = idx if isinstance(idx, tuple) else (idx,)
        values = list(row.values)
        numeric = [v for v in values if isinstance(v, float) and v == v]
        best = max(numeric) if (bold_max and numeric) else None
        cells = [
            f"**{_fmt(v, digits)}**" if best is not None and v == best else _fmt(v, digits) for v in values
        ]
        lines.append("| " + " | ".join([*map(str, keys), *cells]) + " |")
    return "\n".join(lines)
