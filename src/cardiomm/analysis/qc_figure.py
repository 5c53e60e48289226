"""Quality-control figure of a cine segmentation: contours at ED and ES, volume curves, the numbers.

One PNG per stack, for a reader who wants to see that the segmentation behind the phenotypes is right:

- two rows (ED, ES) of three short-axis slices (the most basal, middle and most apical slice with LV
  blood pool at ED), cropped to the heart, with the endocardial (red), epicardial (green) and RV (blue)
  contours over the images (over the label map when no images are given);
- the LV and RV cavity volumes over the cardiac cycle with ED and ES marked;
- the phenotypes as text, then "QC: passed" (green) or every failed check with its value and the
  expected range (red, :meth:`~cardiomm.analysis.phenotypes.CardiacPhenotypes.qc_lines`).

matplotlib is used through ``Figure`` + ``FigureCanvasAgg`` (no global pyplot state).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.analysis.labels import LV, MYO, RV
from cardiomm.analysis.phenotypes import CardiacPhenotypes, label_volumes_ml
from cardiomm.errors import ShapeError
from cardiomm.utils.atomic import atomic_path

__all__ = ["phenotype_qc_figure", "qc_slices"]

#: Contour colour per label.
COLOURS = {LV: "#e41a1c", MYO: "#4daf4a", RV: "#377eb8"}
#: Text colour of the QC verdict: passed, failed checks.
QC_COLOURS = {"passed": "#1a7f37", "failed": "#b00000"}
#: Failed-check lines are wrapped at this many characters.
QC_LINE_CHARS = 58


def qc_slices(labels: NDArray[np.integer], ed_frame: int) -> list[int]:
    """Basal, middle and apical slice indices among the slices with LV blood pool at ED (fewer when the
    stack has fewer such slices; ``[middle slice]`` when none has)."""
    has_lv = np.flatnonzero((labels[ed_frame] == LV).any(axis=(1, 2)))
    if has_lv.size == 0:
        return [labels.shape[1] // 2]
    picks = [int(has_lv[0]), int(has_lv[has_lv.size // 2]), int(has_lv[-1])]
    return sorted(set(picks), key=picks.index)


def _crop_box(labels: NDArray[np.integer], margin: int = 8) -> tuple[slice, slice]:
    # (y, x); numpy's stubs type an axis reduction as "scalar | array"
    heart = cast(NDArray[np.bool_], (labels > 0).any(axis=(0, 1)))
    if not heart.any():
        return slice(None), slice(None)
    ys, xs = np.flatnonzero(heart.any(axis=1)), np.flatnonzero(heart.any(axis=0))
    ny, nx = heart.shape
    return (
        slice(max(0, ys[0] - margin), min(ny, ys[-1] + margin + 1)),
        slice(max(0, xs[0] - margin), min(nx, xs[-1] + margin + 1)),
    )


def phenotype_qc_figure(
    path: str | os.PathLike[str],
    labels: ArrayLike,
    result: CardiacPhenotypes,
    spacing_mm: tuple[float, float, float],
    *,
    images: ArrayLike | None = None,
    frame_dt_s: float | None = None,
    title: str = "",
) -> Path:
    """Write the QC figure of a ``(t, z, y, x)`` segmentation (and its images) as PNG; return the path.

    Parameters
    ----------
    path
        Output ``.png`` (written atomically).
    labels
        ``(t, z, y, x)`` labels (LV 1, MYO 2, RV 3) the phenotypes were computed from.
    result
        The phenotypes (ED / ES frames, values, QC flags).
    spacing_mm
        ``(dz, dy, dx)`` [mm] for the volume curves.
    images
        Magnitude images of the same shape (optional).
    frame_dt_s
        Time between frames [s]; the curve's x axis is in ms when given, else in frames.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy: importing this module loads no matplotlib
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    lab = np.asarray(labels)
    if lab.ndim != 4:
        raise ShapeError(f"labels must be (t, z, y, x), got shape {lab.shape}")
    img = None if images is None else np.abs(np.asarray(images, dtype=np.float64))
    if img is not None and img.shape != lab.shape:
        raise ShapeError(f"images {img.shape} and labels {lab.shape} differ")
    slices = qc_slices(lab, result.ed_frame)
    ys, xs = _crop_box(lab)
    fig = Figure(figsize=(3.0 * len(slices) + 4.6, 6.2), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, len(slices) + 1, width_ratios=[1.0] * len(slices) + [1.5])
    for row, (name, frame) in enumerate((("ED", result.ed_frame), ("ES", result.es_frame))):
        for col, z in enumerate(slices):
            ax = fig.add_subplot(grid[row, col])
            seg = lab[frame, z][ys, xs]
            if img is not None:
                view = img[frame, z][ys, xs]
                ax.imshow(view, cmap="gray", vmin=0, vmax=float(np.percentile(view, 99.5)) or 1.0)
            else:
                ax.imshow(seg, cmap="gray", vmin=0, vmax=3)
            # RV, epicardium (myocardium with the cavity it encloses), then the endocardium on top
            for region, colour in (
                (seg == RV, COLOURS[RV]),
                ((seg == MYO) | (seg == LV), COLOURS[MYO]),
                (seg == LV, COLOURS[LV]),
            ):
                if region.any():
                    ax.contour(region.astype(float), levels=[0.5], colors=colour, linewidths=1.2)
            ax.set_title(f"{name} (frame {frame}), slice {z}", fontsize=9)
            ax.axis("off")
    vols = label_volumes_ml(lab, spacing_mm)
    t = np.arange(lab.shape[0]) * (frame_dt_s * 1e3 if frame_dt_s else 1.0)
    ax = fig.add_subplot(grid[0, -1])
    ax.plot(t, vols[LV], "-o", color=COLOURS[LV], ms=3, label="LV cavity")
    ax.plot(t, vols[RV], "-o", color=COLOURS[RV], ms=3, label="RV cavity")
    for frame, name in ((result.ed_frame, "ED"), (result.es_frame, "ES")):
        ax.axvline(t[frame], color="0.5", ls=":", lw=1)
        ax.text(t[frame], ax.get_ylim()[1], name, ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("time [ms]" if frame_dt_s else "frame")
    ax.set_ylabel("volume [mL]")
    ax.legend(fontsize=8)
    text_ax = fig.add_subplot(grid[1, -1])
    text_ax.axis("off")
    lines = [f"{k} {v:.1f} {u}" for k, v, u in (
        ("LVEDV", result.lvedv_ml, "mL"), ("LVESV", result.lvesv_ml, "mL"), ("LVEF", result.lvef_pct, "%"),
        ("LVM", result.lvm_g, "g"), ("RVEDV", result.rvedv_ml, "mL"), ("RVESV", result.rvesv_ml, "mL"),
        ("RVEF", result.rvef_pct, "%"), ("WT", result.wt_global_mm, "mm"),
    )]  # fmt: skip
    values = text_ax.text(0.0, 1.0, "\n".join(lines), va="top", family="monospace", fontsize=9)
    if result.passed_qc:
        verdict, colour, size = "QC: passed", QC_COLOURS["passed"], 9
    else:
        failed = [textwrap.fill(line, QC_LINE_CHARS, subsequent_indent="    ") for line in result.qc_lines()]
        verdict, colour, size = (
            "\n".join([f"QC: {len(failed)} check(s) failed", *failed]),
            QC_COLOURS["failed"],
            8,
        )
    text_ax.annotate(  # below the values, whatever their height
        verdict,
        xy=(0.0, 0.0),
        xycoords=values,
        xytext=(0.0, -6.0),
        textcoords="offset points",
        va="top",
        family="monospace",
        fontsize=size,
        color=colour,
    )
    if title:
        fig.suptitle(title, fontsize=10)
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return out
