"""Tables, acceptance check and figure of ``scripts/real_cine_agreement.py`` (see its docstring)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardiomm.analysis.segmentation.evaluate import SUNNYBROOK_CONTOUR_DIRS

REPO = Path(__file__).resolve().parents[1]
SUBJECT = "SCD0000101"
CONTOURS = SUNNYBROOK_CONTOUR_DIRS[SUBJECT]
#: Phenotypes of the Markdown table (the CSV has all 11).
SHOWN = ("LVEDV", "LVESV", "LVEF", "LVM", "RVEDV", "RVEF")
#: Acceptance: |CardioMM at 8x - fully sampled| within these limits.
ACCEPTANCE = {"LVEDV": 3.0, "LVEF": 2.0}
ACCEPT_METHOD, ACCEPT_AF = "cardiomm", 8
CACHE_FORMAT = "real-cine-agreement/1"
FULL, MANUAL, DICOM = "fully sampled", "manual contours", "DICOM images"


@dataclass
class Row:
    """Phenotypes of one method under one mask, or of a reference (``af`` None)."""

    method: str
    mask: str
    af: int | None
    values: dict[str, float]
    ed_frame: int | None = None
    es_frame: int | None = None
    qc: str = ""
    psnr: float = math.nan
    ssim: float = math.nan
    seconds_per_frame: float = math.nan
    diffs: dict[str, float] = field(default_factory=dict)


@dataclass
class Panel:
    """One figure panel: an ED image ``(y, x)``, its labels, optional manual ``(x, y)`` polygons."""

    image: NDArray[np.float32]
    labels: NDArray[np.uint8]
    polygons: list[NDArray[np.float64]] = field(default_factory=list)


def acceptance(rows: Sequence[Row]) -> tuple[bool | None, list[str]]:
    """Whether every CardioMM 8x row is within :data:`ACCEPTANCE` (None without such a row), and why."""
    lines, ok = [], []
    for r in rows:
        if r.method == ACCEPT_METHOD and r.af == ACCEPT_AF:
            parts, passed = [], True
            for k, lim in ACCEPTANCE.items():
                d = r.diffs.get(k, math.nan)
                good = bool(abs(d) <= lim)
                passed &= good
                parts.append(f"{k} {d:+.2f} (limit {lim:g}, {'within' if good else 'outside'})")
            ok.append(passed)
            lines.append(f"{r.mask}: {'met' if passed else 'not met'}: " + ", ".join(parts))
    return (all(ok) if ok else None), lines


# ---------------------------------------------------------------------------------------------- the run
def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


# ------------------------------------------------------------------------------------------------ output
def write_csv(path: Path, rows: Sequence[Row]) -> None:
    """One line per row: all 11 phenotypes, their differences to fully sampled, metrics, QC."""
    from cardiomm.analysis.phenotypes import PHENOTYPE_UNITS, PHENOTYPES

    path.parent.mkdir(parents=True, exist_ok=True)
    head = ["method", "mask", "af", "psnr_db", "ssim", "seconds_per_frame", "ed_frame", "es_frame"]
    head += [f"{k} ({PHENOTYPE_UNITS[k]})" for k in PHENOTYPES]
    head += [f"d{k} ({PHENOTYPE_UNITS[k]})" for k in PHENOTYPES] + ["qc"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        for r in rows:
            line: list[object] = [r.method, r.mask, "" if r.af is None else r.af]
            line += [_fmt(r.psnr, 3), _fmt(r.ssim, 5), _fmt(r.seconds_per_frame, 4)]
            line += ["" if r.ed_frame is None else r.ed_frame, "" if r.es_frame is None else r.es_frame]
            line += [_fmt(r.values.get(k, math.nan), 3) for k in PHENOTYPES]
            line += [_fmt(r.diffs.get(k, math.nan), 3) for k in PHENOTYPES] + [r.qc]
            w.writerow(line)


def _fmt(v: float | None, digits: int) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _cell(r: Row, k: str) -> str:
    v = r.values.get(k, math.nan)
    if not math.isfinite(v):
        return "-"
    d = r.diffs.get(k)
    return f"{v:.1f}" if d is None or not math.isfinite(d) else f"{v:.1f} ({d:+.1f})"


def write_report(
    path: Path, rows: Sequence[Row], ctx: dict[str, Any], csv_path: Path, figure: Path | None
) -> None:
    """The Markdown report (table, acceptance, settings)."""
    from cardiomm.analysis.phenotypes import PHENOTYPE_UNITS

    center = ctx["center"]
    met, lines = acceptance(rows)
    verdict = {True: "**met**", False: "**not met**", None: "**not measured** (no CardioMM 8x run)"}[met]
    sp, dsp = ctx["spacing"], ctx["dicom_spacing"]
    n_t, n_z = len(ctx["frames"]), len(ctx["slices"])
    out = [
        "# Real-cine agreement: Sunnybrook SCD0000101 through synthesised k-space",
        "",
        f"Written by `scripts/real_cine_agreement.py` on {ctx['date']} (issue #15, item 6):",
        "",
        f"    {ctx['command']}",
        "",
        f"The real cine SCD0000101 (GE Signa HDx 1.5 T, SC-HF-I-1; {n_z} slices x {n_t} frames"
        + (f", a subset: slices {ctx['slices']}, frames {ctx['frames']}" if ctx["subset"] else "")
        + f"; DICOM pixels {dsp[1]:.2f} mm, slices {dsp[0]:.1f} mm apart, frame interval "
        + f"{ctx['frame_dt'] * 1e3:.1f} ms) was turned into multi-coil k-space with the real-anatomy "
        + "synthesis (`cardiomm.simulate.real_anatomy.synthesise_scan`) at the external "
        + f"center {center.code} ({center.label}; {center.matrix_x} readout samples, 2x readout "
        + "oversampling, SNR "
        + f"{center.snr:.0f}). The subject is in the real-anatomy test split and the center in no training "
        + "set, so every reconstruction is zero-shot. Reconstructed grid: "
        + f"{sp[1]:.2f} x {sp[2]:.2f} mm pixels, oversampling cropped. Each volume (the RSS of the fully "
        + "sampled k-space, every reconstruction, and the original DICOM images) was segmented by the "
        + f"`{ctx['segmenter']}` segmenter and measured by `compute_phenotypes` with the true slice spacing "
        + "and frame time; ED / ES are the frames of largest / smallest LV volume of each volume. PSNR / "
        + "SSIM: the protocol metrics (99.5th-percentile normalisation per frame) on the cropped grid.",
        "",
        f"## Acceptance at {ACCEPT_AF}x: {verdict}",
        "",
        f"CardioMM phenotypes at {ACCEPT_AF}x within {ACCEPTANCE['LVEDV']:g} mL (LV EDV) and "
        + f"{ACCEPTANCE['LVEF']:g} points (LVEF) of the fully sampled ones, for every {ACCEPT_AF}x mask run:",
        "",
        *[f"- {line}" for line in lines],
    ]
    if ctx["subset"]:
        out += ["", "This run used a subset of the cine: it is a check of the script, not the acceptance."]
    heads = [f"{k} ({PHENOTYPE_UNITS[k]})" for k in SHOWN]
    out += [
        "",
        "## Phenotypes",
        "",
        "Value (difference to fully sampled). The manual row is Simpson's rule over the manual LV contours "
        + f"of the whole stack (ED phase {ctx['manual'][0]}, ES phase {ctx['manual'][1]}, "
        + f"{ctx['manual'][2]} slices); the DICOM row segments the original images without k-space.",
        "",
        "| Method | Mask | AF | " + " | ".join(heads) + " | PSNR (dB) | SSIM | s/frame | QC |",
        "|---|---|---:|" + "---:|" * len(heads) + "---:|---:|---:|---|",
    ]
    for r in rows:
        cells = [r.method, r.mask, "" if r.af is None else str(r.af), *(_cell(r, k) for k in SHOWN)]
        cells += [_fmt(r.psnr, 2) or "-", _fmt(r.ssim, 4) or "-", _fmt(r.seconds_per_frame, 3) or "-"]
        cells.append(r.qc.replace(";", ", ") or ("-" if r.method == MANUAL else "passed"))
        out.append("| " + " | ".join(cells) + " |")
    out += ["", f"All 11 phenotypes and their differences: `{_display(csv_path)}`."]
    if figure is not None:
        rel = os.path.relpath(figure.resolve(), path.resolve().parent)
        out += [
            "",
            f"![ED, slice {ctx['figure_slice']}]({rel})",
            "",
            f"Mid-ventricular slice {ctx['figure_slice']}, ED frame {ctx['figure_frame']} (the manual "
            + "contours' ED phase when selected, else the fully sampled ED frame): contours of the "
            + f"`{ctx['segmenter']}` segmentation of each volume "
            + "(red LV, green myocardium, blue RV); on the DICOM image the manual contours are dashed white.",
        ]
    out += ["", f"Run time: {ctx['elapsed_s'] / 60:.1f} min.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))


def write_figure(
    path: Path, panels: dict[str, Panel], methods: Sequence[str], masks: Sequence[str], ctx: dict[str, Any]
) -> None:
    """Grid: first column the DICOM image (manual contours) and the fully sampled one, then one row per
    method and one column per mask; labels drawn as contours; every panel the same physical crop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cardiomm.analysis.labels import LV, MYO, RV

    n_rows, n_cols = max(2, len(methods)), 1 + len(masks)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.2 * n_cols, 2.3 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    box_mm = 140.0

    full = panels[FULL]
    heart = np.argwhere(full.labels > 0)
    centre_mm = (heart.mean(0) + 0.5 if heart.size else np.array(full.image.shape) / 2) * ctx["spacing"][1]

    def draw(ax: Any, panel: Panel, title: str, spacing: float) -> None:
        centre = centre_mm / spacing - 0.5  # the same field of view on both grids
        side = [min(n, int(round(box_mm / spacing))) for n in panel.image.shape]
        y0, x0 = (
            int(np.clip(round(c - n / 2), 0, size - n))
            for c, n, size in zip(centre, side, panel.image.shape, strict=True)
        )
        y1, x1 = y0 + side[0], x0 + side[1]
        img, lab = panel.image[y0:y1, x0:x1], panel.labels[y0:y1, x0:x1]
        ax.imshow(img, cmap="gray", vmin=0, vmax=float(np.percentile(img, 99.5)) or 1.0)
        for value, colour in ((LV, "red"), (MYO, "lime"), (RV, "deepskyblue")):
            region = np.isin(lab, (LV, MYO)) if value == MYO else lab == value
            if region.any():
                ax.contour(region.astype(float), levels=[0.5], colors=colour, linewidths=0.8)
        for poly in panel.polygons:
            ax.plot(poly[:, 0] - x0, poly[:, 1] - y0, "w--", linewidth=0.7)
        ax.set_title(title, fontsize=8)

    draw(axes[0, 0], panels[DICOM], "DICOM (manual dashed)", ctx["dicom_spacing"][1])
    draw(axes[1, 0], panels[FULL], FULL, ctx["spacing"][1])
    for i, method in enumerate(methods):
        for j, tok in enumerate(masks):
            key = f"{method} {tok}"
            if key in panels:
                draw(axes[i, 1 + j], panels[key], key, ctx["spacing"][1])
    fig.suptitle(f"SCD0000101, ED frame {ctx['figure_frame']}, slice {ctx['figure_slice']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
