"""Cardiac phenotypes from a cine short-axis segmentation (CardioMM / UK Biobank pipeline).

Input: labels ``(t, z, y, x)`` uint8 in the cardiomm convention (LV blood pool = 1, MYO = 2, RV = 3),
voxel spacing ``(dz, dy, dx)`` [mm] (slice spacing first) and the frame interval [s].

- ED / ES: frames of maximal / minimal LV-cavity volume (RV values are read at the same frames).
- Volumes: voxel count x voxel volume (mL); SV = EDV - ESV; EF = SV / EDV x 100 (%).
- LVM: MYO volume at ED x 1.05 g/mL.
- LVCO = LVSV x HR / 1000 (L/min) with HR = 60 / (n_frames x frame_dt) (one frame series = one beat).
- Global wall thickness at ED (:mod:`cardiomm.analysis.wall_thickness`), plus its 16 AHA segments.

These are the 11 phenotypes (:data:`PHENOTYPES`). QC flags follow the UK Biobank pipeline's checks
(:func:`qc_flags`) plus physiological plausibility and label-geometry checks
(:mod:`cardiomm.analysis.plausibility`); every flag comes with a :class:`QcFailure` that gives the value
and the expected range.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.analysis.basal import apply_basal_rule
from cardiomm.analysis.labels import LABEL_NAMES, LV, MYO, RV
from cardiomm.analysis.plausibility import QcFailure, check_label_geometry, check_phenotypes
from cardiomm.analysis.wall_thickness import WallThickness, wall_thickness
from cardiomm.errors import DataValueError, ShapeError

__all__ = [
    "MYOCARDIAL_DENSITY_G_PER_ML",
    "PHENOTYPE_UNITS",
    "PHENOTYPES",
    "CardiacPhenotypes",
    "QcFailure",
    "label_volumes_ml",
    "qc_failures",
    "qc_flags",
    "compute_phenotypes",
]

#: Myocardial density used for LV mass [g/mL].
MYOCARDIAL_DENSITY_G_PER_ML = 1.05

#: The 11 phenotypes and their units (CSV column = f"{name} ({unit})").
PHENOTYPE_UNITS: dict[str, str] = {
    "LVEDV": "mL",
    "LVESV": "mL",
    "LVSV": "mL",
    "LVEF": "%",
    "LVCO": "L/min",
    "LVM": "g",
    "RVEDV": "mL",
    "RVESV": "mL",
    "RVSV": "mL",
    "RVEF": "%",
    "WT_Global": "mm",
}
PHENOTYPES: tuple[str, ...] = tuple(PHENOTYPE_UNITS)

MIN_LABEL_PIXELS = 10
MIN_CONTIGUOUS_LV_SLICES = 6
#: ``irregular_lv_curve`` when the cyclic total variation of the LV-cavity volume curve exceeds this many
#: times its range (one emptying and one filling give exactly 2; smooth curves of simulated cine stay at
#: 2.0-2.5, a segmenter failing frame by frame gives 3.5 and more), for stacks of at least
#: :data:`MIN_FRAMES_FOR_CURVE_QC` frames.
IRREGULAR_CURVE_RATIO = 3.0
MIN_FRAMES_FOR_CURVE_QC = 8


@dataclass(frozen=True)
class CardiacPhenotypes:
    """The 11 phenotypes of one cine stack, with units in the field names, and QC.

    Attributes
    ----------
    lvedv_ml, lvesv_ml, lvsv_ml, lvef_pct, lvco_l_min, lvm_g
        LV phenotypes (NaN where undefined, e.g. EF with EDV = 0 or LVCO without a frame time).
    rvedv_ml, rvesv_ml, rvsv_ml, rvef_pct, wt_global_mm
        RV phenotypes and the global ED wall thickness.
    ed_frame, es_frame
        Indices of end-diastole and end-systole.
    heart_rate_bpm
        ``60 / (n_frames * frame_dt)`` (NaN without a frame time).
    lv_volume_curve_ml
        LV-cavity volume of every frame [mL].
    qc_flags
        Problems found (empty when the segmentation passes every check): :func:`qc_flags` and
        :mod:`cardiomm.analysis.plausibility`.
    wall
        Full wall-thickness result at ED (per AHA segment), or None when not computed.
    qc_failures
        One :class:`QcFailure` (value and expected range) per flag.
    """

    lvedv_ml: float
    lvesv_ml: float
    lvsv_ml: float
    lvef_pct: float
    lvco_l_min: float
    lvm_g: float
    rvedv_ml: float
    rvesv_ml: float
    rvsv_ml: float
    rvef_pct: float
    wt_global_mm: float
    ed_frame: int
    es_frame: int
    heart_rate_bpm: float
    lv_volume_curve_ml: tuple[float, ...]
    qc_flags: tuple[str, ...] = ()
    wall: WallThickness | None = field(default=None, repr=False)
    qc_failures: tuple[QcFailure, ...] = field(default=(), repr=False)
    basal_removed: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @property
    def passed_qc(self) -> bool:
        """True when no QC flag was raised."""
        return not self.qc_flags

    def qc_lines(self) -> list[str]:
        """One line per QC flag, ``"implausible_LVM: LVM 612 g, expected 30-500 g"`` (the bare flag when
        no :class:`QcFailure` describes it); empty when QC passed."""
        described = {f.flag: f.describe() for f in self.qc_failures}
        return [described.get(flag, flag) for flag in self.qc_flags]

    def basal_summary(self) -> str:
        """Which basal slices the SCMR rule did not count as LV at end-diastole and end-systole, e.g.
        ``"SCMR basal rule: not LV at ED: slice 11; at ES: slices 10, 11"``; empty when none was removed
        at either (slices counted from 0 in stack order)."""

        def at(frame: int) -> str:
            zs = sorted(z for t, z in self.basal_removed if t == frame)
            if not zs:
                return "none"
            return f"slice{'s' if len(zs) > 1 else ''} {', '.join(map(str, zs))}"

        ed, es = at(self.ed_frame), at(self.es_frame)
        if ed == es == "none":
            return ""
        return f"SCMR basal rule: not LV at ED: {ed}; at ES: {es}"

    def values(self) -> dict[str, float]:
        """Phenotype name (:data:`PHENOTYPES`) -> value."""
        return {
            "LVEDV": self.lvedv_ml,
            "LVESV": self.lvesv_ml,
            "LVSV": self.lvsv_ml,
            "LVEF": self.lvef_pct,
            "LVCO": self.lvco_l_min,
            "LVM": self.lvm_g,
            "RVEDV": self.rvedv_ml,
            "RVESV": self.rvesv_ml,
            "RVSV": self.rvsv_ml,
            "RVEF": self.rvef_pct,
            "WT_Global": self.wt_global_mm,
        }

    def as_dict(self, *, with_segments: bool = False) -> dict[str, float | int | str]:
        """CSV row: ``"LVEDV (mL)"`` ... columns, ED/ES frames, HR, QC flags (``;``-joined)."""
        row: dict[str, float | int | str] = {
            f"{k} ({PHENOTYPE_UNITS[k]})": v for k, v in self.values().items()
        }
        row.update({"ED frame": self.ed_frame, "ES frame": self.es_frame, "HR (bpm)": self.heart_rate_bpm})
        if with_segments and self.wall is not None:
            row.update({k: v for k, v in self.wall.as_dict().items() if k != "WT_Global (mm)"})
        row["QC"] = ";".join(self.qc_flags)
        return row


def _check(labels: ArrayLike, spacing_mm: tuple[float, float, float]) -> tuple[NDArray[np.uint8], float]:
    lab = np.asarray(labels)
    if lab.ndim == 3:
        lab = lab[None]
    if lab.ndim != 4:
        raise ShapeError(f"expected labels (t, z, y, x) or (z, y, x), got shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        raise DataValueError(f"labels must be integers, got {lab.dtype}")
    if len(spacing_mm) != 3 or any(not np.isfinite(s) or s <= 0 for s in spacing_mm):
        raise DataValueError(f"spacing_mm must be three positive values (dz, dy, dx) [mm], got {spacing_mm}")
    return lab, float(np.prod(spacing_mm)) * 1e-3


def label_volumes_ml(
    labels: ArrayLike, spacing_mm: tuple[float, float, float]
) -> dict[int, NDArray[np.float64]]:
    """Per-frame volume [mL] of LV, MYO and RV: ``{label: (t,) array}``."""
    lab, voxel_ml = _check(labels, spacing_mm)
    return {k: (lab == k).sum(axis=(1, 2, 3)) * voxel_ml for k in (LV, MYO, RV)}


def _longest_run(flags: NDArray[np.bool_]) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def qc_failures(labels: ArrayLike, ed_frame: int, es_frame: int) -> list[QcFailure]:
    """UK Biobank-style QC of a ``(t, z, y, x)`` segmentation at ED and ES, with values (:func:`qc_flags`)."""
    lab = np.asarray(labels)
    if lab.ndim == 3:
        lab = lab[None]
    out: list[QcFailure] = []
    for phase, t in (("ED", ed_frame), ("ES", es_frame)):
        for k in (LV, MYO, RV):
            n = int((lab[t] == k).sum())
            name = LABEL_NAMES[k]
            if n == 0:
                out.append(QcFailure(f"missing_{name}_{phase}", f"{name} pixels", 0, "px", 1, where=phase))
            elif n < MIN_LABEL_PIXELS:
                out.append(
                    QcFailure(
                        f"small_{name}_{phase}", f"{name} pixels", n, "px", MIN_LABEL_PIXELS, where=phase
                    )
                )
    run = _longest_run((lab[ed_frame] == LV).any(axis=(1, 2)))
    if run < MIN_CONTIGUOUS_LV_SLICES:
        out.append(
            QcFailure("few_slices", "contiguous LV slices", run, "", MIN_CONTIGUOUS_LV_SLICES, where="ED")
        )
    if lab.shape[0] == 1:
        out.append(QcFailure("single_frame", "frames", 1, "", 2))
    if lab.shape[0] >= MIN_FRAMES_FOR_CURVE_QC:
        curve = (lab == LV).sum(axis=(1, 2, 3)).astype(np.float64)
        span = curve.max() - curve.min()
        ratio = np.abs(np.diff(np.append(curve, curve[0]))).sum() / span if span > 0 else 0.0
        if ratio > IRREGULAR_CURVE_RATIO:
            out.append(
                QcFailure(
                    "irregular_lv_curve", "LV curve variation / range", ratio, high=IRREGULAR_CURVE_RATIO
                )
            )
    return out


def qc_flags(labels: ArrayLike, ed_frame: int, es_frame: int) -> tuple[str, ...]:
    """QC of a ``(t, z, y, x)`` segmentation at ED and ES.

    Flags: ``missing_<LABEL>_<ED|ES>`` (label absent), ``small_<LABEL>_<ED|ES>`` (fewer than 10
    pixels), ``few_slices`` (fewer than 6 contiguous slices with LV blood pool at ED),
    ``single_frame`` (no cardiac cycle: ED = ES), ``irregular_lv_curve`` (the LV volume jumps from frame
    to frame, see :data:`IRREGULAR_CURVE_RATIO`). :func:`compute_phenotypes` adds the plausibility and
    label-geometry flags of :mod:`cardiomm.analysis.plausibility`.
    """
    return tuple(f.flag for f in qc_failures(labels, ed_frame, es_frame))


def _ef(edv: float, esv: float) -> float:
    return (edv - esv) / edv * 100.0 if edv > 0 else float("nan")


def compute_phenotypes(
    labels: ArrayLike,
    spacing_mm: tuple[float, float, float],
    frame_dt_s: float | None = None,
    *,
    base_first: bool | None = None,
    counterclockwise: bool = True,
    with_wall_thickness: bool = True,
    lifespan: str = "Adult",
    basal_rule: bool = True,
) -> CardiacPhenotypes:
    """Compute the 11 phenotypes of a cine segmentation.

    Parameters
    ----------
    labels
        ``(t, z, y, x)`` integer labels (LV = 1, MYO = 2, RV = 3); a ``(z, y, x)`` volume counts as one frame.
    spacing_mm
        Voxel spacing ``(dz, dy, dx)`` [mm]; ``dz`` is the slice spacing (centre to centre).
    frame_dt_s
        Time between frames [s]; None leaves heart rate and LVCO as NaN.
    base_first, counterclockwise
        AHA geometry for the per-segment wall thickness (see :mod:`cardiomm.analysis.aha`).
    with_wall_thickness
        Set False to skip the (slower) wall-thickness computation (``wt_global_mm`` is then NaN, and
        the maximal wall thickness is not checked).
    lifespan
        ``Adult``, ``Pediatric`` or ``Fetal``: the plausible ranges of the QC
        (:func:`cardiomm.analysis.plausibility.plausible_ranges`).
    basal_rule
        Apply the SCMR basal-slice rule first (:func:`cardiomm.analysis.basal.apply_basal_rule`: basal
        slices whose blood pool is less than half surrounded by myocardium are not LV); the slices it
        removed are in ``basal_removed``.

    Returns
    -------
    CardiacPhenotypes
    """
    lab, _ = _check(labels, spacing_mm)
    removed: tuple[tuple[int, int], ...] = ()
    if basal_rule:
        lab, removed = apply_basal_rule(lab, base_first=base_first)
    vols = label_volumes_ml(lab, spacing_mm)
    lv = vols[LV]
    ed, es = int(np.argmax(lv)), int(np.argmin(lv))
    n_frames = lab.shape[0]
    if frame_dt_s is not None and not (np.isfinite(frame_dt_s) and frame_dt_s > 0):
        raise DataValueError(f"frame_dt_s must be a positive number of seconds, got {frame_dt_s}")
    hr = 60.0 / (n_frames * frame_dt_s) if frame_dt_s else float("nan")
    lvedv, lvesv = float(lv[ed]), float(lv[es])
    rvedv, rvesv = float(vols[RV][ed]), float(vols[RV][es])
    wall = None
    if with_wall_thickness:
        wall = wall_thickness(
            lab[ed],
            spacing_mm[1:],
            base_first=base_first,
            counterclockwise=counterclockwise,
            min_pixels=MIN_LABEL_PIXELS,
        )
    res = CardiacPhenotypes(
        lvedv_ml=lvedv,
        lvesv_ml=lvesv,
        lvsv_ml=lvedv - lvesv,
        lvef_pct=_ef(lvedv, lvesv),
        lvco_l_min=(lvedv - lvesv) * hr * 1e-3,
        lvm_g=float(vols[MYO][ed]) * MYOCARDIAL_DENSITY_G_PER_ML,
        rvedv_ml=rvedv,
        rvesv_ml=rvesv,
        rvsv_ml=rvedv - rvesv,
        rvef_pct=_ef(rvedv, rvesv),
        wt_global_mm=wall.global_mm if wall is not None else float("nan"),
        ed_frame=ed,
        es_frame=es,
        heart_rate_bpm=hr,
        lv_volume_curve_ml=tuple(float(v) for v in lv),
        wall=wall,
        basal_removed=removed,
    )
    failures = qc_failures(lab, ed, es)
    wt_max = [v for v in wall.segment_max_mm if np.isfinite(v)] if wall is not None else []
    values = {**res.values(), "WT_Max": max(wt_max, default=float("nan")), "HR": hr}
    failures += check_phenotypes(values, lifespan=lifespan, single_frame=n_frames == 1)
    failures += check_label_geometry(lab, {"ED": ed, "ES": es}, spacing_mm, min_pixels=MIN_LABEL_PIXELS)
    return replace(res, qc_flags=tuple(f.flag for f in failures), qc_failures=tuple(failures))
