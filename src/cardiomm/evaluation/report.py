"""Markdown + PNG report of an evaluation: tables, PSNR radar charts (like the paper's Figure 1b/c) and an
example image grid with error maps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardiomm.evaluation.aggregate import group_table, markdown_table
from cardiomm.utils.atomic import atomic_path

__all__ = ["radar_chart", "image_grid", "write_report", "METHOD_ORDER"]

#: Display order of methods (others follow alphabetically).
METHOD_ORDER = ("zf", "sense", "cs", "varnet", "promptmr", "cardiomm")


def _plt() -> Any:
    import matplotlib  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    return plt


def _order(methods: Sequence[str]) -> list[str]:
    known = [m for m in METHOD_ORDER if m in methods]
    return known + sorted(m for m in methods if m not in known)


def radar_chart(table: Any, path: Path, title: str, limits: tuple[float, float] | None = None) -> Path:
    """Radar chart of a (group x method) table, one polygon per method, written as PNG.

    ``limits`` fixes the radial axis (default: data range rounded out to integers +- 1, for dB).
    """
    plt = _plt()
    labels = [str(i) for i in table.index]
    n = len(labels)
    angles = [(math.pi / 2 - 2 * math.pi * i / n) % (2 * math.pi) for i in range(n)]  # clockwise from the top
    fig = plt.figure(figsize=(6.4, 6.4))
    ax = fig.add_subplot(111, polar=True)
    values = table.to_numpy(dtype=float)
    lo = math.floor(np.nanmin(values)) - 1 if np.isfinite(values).any() else 0
    hi = math.ceil(np.nanmax(values)) + 1 if np.isfinite(values).any() else 1
    for method in table.columns:
        v = table[method].to_numpy(dtype=float)
        ax.plot([*angles, angles[0]], [*v, v[0]], linewidth=2, label=str(method), marker="o", markersize=3)
    ax.set_thetalim(0, 2 * math.pi)
    ax.set_xticks(angles)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylim(*(limits or (lo, hi)))
    ax.set_title(title, pad=18)
    ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.1), fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def image_grid(
    reference: np.ndarray, recons: dict[str, np.ndarray], path: Path, title: str, error_scale: float = 5.0
) -> Path:
    """Grid: reference + each reconstruction (top), absolute error maps x ``error_scale`` (bottom).

    Images are 2-D magnitudes, each normalised by its own 99.5th percentile (the metric protocol).
    """
    plt = _plt()

    def norm(x: np.ndarray) -> np.ndarray:
        p = float(np.percentile(x, 99.5))
        return x / p if p > 0 else x

    ref = norm(reference)
    n = 1 + len(recons)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), squeeze=False)
    axes[0, 0].imshow(ref, cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("reference", fontsize=9)
    axes[1, 0].axis("off")
    for j, (name, img) in enumerate(recons.items(), start=1):
        r = norm(img)
        axes[0, j].imshow(r, cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(name, fontsize=9)
        axes[1, j].imshow(np.abs(r - ref) * error_scale, cmap="inferno", vmin=0, vmax=1)
        axes[1, j].set_title(f"|error| x{error_scale:g}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def write_report(
    df: Any,
    out_dir: Path,
    *,
    examples: Sequence[tuple[str, np.ndarray, dict[str, np.ndarray]]] = (),
    title: str = "cardiomm evaluation",
) -> Path:
    """Write ``report.md`` with the tables and figures into ``out_dir``; return its path.

    ``examples`` are ``(caption, reference (y, x), {method: recon (y, x)})`` triples for image grids.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    methods = _order(sorted(df["Method"].unique()))
    lines = [f"# {title}", "", f"{len(df)} reconstructions, methods: {', '.join(methods)}.", ""]
    lines += [
        "Metric protocol: per 2-D frame, each image normalised by its own 99.5th percentile; "
        "PSNR/SSIM (scikit-image, `data_range = ref.max()`) and NMSE; mean over frames per file, "
        "then over files.",
        "",
    ]
    has_roles = "Role" in df.columns and df["Role"].nunique() > 1
    main_by = ["Role", "Mask", "AF"] if has_roles else ["Mask", "AF"]
    for metric, digits in (("PSNR", 2), ("SSIM", 4)):
        lines += [
            f"## {metric} by {' / '.join(main_by)}",
            "",
            markdown_table(group_table(df, main_by, metric, methods), digits),
            "",
        ]
    figures = []
    roles = dict(zip(df["Center"], df["Role"], strict=False)) if "Role" in df.columns else {}
    for by, name in (("Center", "center"), ("Modality", "modality")):
        table = group_table(df, by, "PSNR", methods)
        if by == "Center" and roles:
            table.index = [f"{c} ({roles.get(c, '?')[:3]})" for c in table.index]
        lines += [f"## PSNR by {by.lower()}", "", markdown_table(table, 2), ""]
        if len(table.index) >= 3:
            png = radar_chart(table, out_dir / f"radar_psnr_{name}.png", f"PSNR (dB) per {by.lower()}")
            figures.append((f"PSNR per {by.lower()}", png.name))
    for caption, ref, recons in examples:
        slug = "".join(c if c.isalnum() else "_" for c in caption).strip("_").lower()[:60]
        png = image_grid(ref, recons, out_dir / f"example_{slug}.png", caption)
        figures.append((caption, png.name))
    if figures:
        lines += ["## Figures", ""] + [f"![{cap}]({name})" for cap, name in figures] + [""]
    report = out_dir / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines))
    return report
