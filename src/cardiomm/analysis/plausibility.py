"""Physiological plausibility QC of cine phenotypes and of the segmentation geometry behind them.

The UK Biobank-style checks of :func:`cardiomm.analysis.phenotypes.qc_flags` (missing or tiny labels,
few slices, a jumpy LV curve) pass a segmentation that is smooth but wrong: on a real cine, a poor
segmentation gave LV mass 238 g (117 g manual), RVEF 0.8 % and a maximal wall thickness of 76 mm, and QC
said "passed". Two kinds of checks close that gap, each raising one short, stable flag.

**Phenotype ranges** (:data:`PLAUSIBLE_RANGES`, :func:`check_phenotypes`). Generous limits that flag
values no living heart has (or a segmentation got grossly wrong), not disease:

=================  ===========================  ==============  ===================================
quantity           flag                         adult range     normal (rough) / what lies inside
=================  ===========================  ==============  ===================================
LVEDV              ``implausible_LVEDV``        40-500 mL       80-240 mL; severe DCM, AR
LVM                ``implausible_LVM``          30-500 g        45-180 g; massive HCM, AS
WT_Max             ``implausible_WT_Max``       3-40 mm         < 12 mm; HCM >= 15 mm, massive 30+
LVEF               ``implausible_LVEF``         5-90 %          50-75 %; end-stage failure
RVEF               ``implausible_RVEF``         5-90 %          45-75 %; end-stage failure
RVEDV / LVEDV      ``implausible_RV_LV_ratio``  0.25-4          0.9-1.3; DCM, PAH, ToF, ARVC
LVSV / RVSV        ``implausible_SV_ratio``     0.2-5           1; shunts, regurgitation
HR                 ``implausible_HR``           25-250 bpm      frame time or frame count wrong
LVESV / LVEDV      ``esv_ge_edv_LV``            < 1             ED and ES swapped or misread
RVESV / RVEDV      ``esv_ge_edv_RV``            < 1             (RV read at the LV's ED / ES)
=================  ===========================  ==============  ===================================

``WT_Max`` is the largest wall thickness of any AHA segment at ED (nearest endo- to epicardium distance,
:mod:`cardiomm.analysis.wall_thickness`); volumes and mass are absolute (the package has no height or
weight, so nothing is indexed to body surface area). The "normal" column gives the rough span of the
adult normal ranges (mean +- 2 SD, men and women, SSFP) of the sources below; the limits lie far outside
them, so that dilated, hypertrophic and failing hearts pass. The ratio and mass / thickness limits are
wider than a first guess (0.5-2.5, 1/3-3, 400 g, 35 mm) because the 90 expert-labelled ACDC cases
(normal, DCM, HCM, infarction, abnormal RV) reach RV/LV 0.31-3.6 and LVSV/RVSV 0.36-4.4, and an HCM
case 38 mm and 500 g at a nominal 1.5 x 1.5 x 10 mm voxel (ACDC stores no spacing; ``docs/analysis.md``).
Extreme but real hearts can still be flagged: a flag asks a reader to look at the QC figure, it does not
reject the case.

Sources: Petersen SE et al., Reference ranges for cardiac structure and function using cardiovascular
magnetic resonance (CMR) in Caucasians from the UK Biobank population cohort, J Cardiovasc Magn Reson
2017;19:18. Kawel-Boehm N et al., Reference ranges ("normal values") for cardiovascular magnetic
resonance (CMR) in adults and children: 2020 update, J Cardiovasc Magn Reson 2020;22:87.

**Lifespan.** The ranges are for adults. Children and fetuses have smaller hearts: for ``Pediatric`` and
``Fetal`` (the lifespan groups of :class:`cardiomm.database.header.Lifespan`) the *lower* limits of the
size quantities scale with :data:`LIFESPAN_SIZE_SCALE` (volumes and mass by the factor, wall thickness by
its cube root) and the upper limits stay (an adolescent can have an adult heart). 0.1 is about the body
surface area of a newborn over an adult's (0.2 vs 1.9 m^2; paediatric volumes and mass scale with it,
Kawel-Boehm 2020), 0.01 about a mid-gestation fetal heart. EF, the ratios and ordering do not scale.

**Label geometry** (:func:`check_label_geometry`), at ED and ES:

- ``lv_fragmented``: a slice whose LV blood pool falls into more than one piece of >= ``min_pixels``
  (8-connected).
- ``lv_not_enclosed``: a slice whose LV blood pool borders myocardium along less than
  :data:`MIN_LV_BORDER_ON_MYO` of its edge (:data:`MIN_LV_BORDER_ON_MYO_END` in the most basal and most
  apical LV slice; 4-neighbour pixel edges, the rest touches RV or background).
- ``myo_ring_open``: a mid-ventricular slice (the middle third of the slices holding LV) where less than
  :data:`MIN_LV_IN_RING` of the LV blood pool lies inside the myocardial ring (gaps of up to
  :data:`MAX_RING_GAP_PX` pixels bridged).
- ``label_island``: a 3-D piece of labels (26-connected across the stack, >= ``min_pixels`` voxels) more
  than :data:`MAX_ISLAND_DISTANCE_MM` from the largest piece (the heart).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from cardiomm.analysis.basal import lv_border_on_myo
from cardiomm.analysis.labels import LV, MYO
from cardiomm.errors import UnknownChoiceError

__all__ = [
    "LIFESPAN_SIZE_SCALE",
    "MAX_ISLAND_DISTANCE_MM",
    "MAX_RING_GAP_PX",
    "MIN_LV_BORDER_ON_MYO",
    "MIN_LV_BORDER_ON_MYO_END",
    "MIN_LV_IN_RING",
    "PLAUSIBLE_RANGES",
    "SEGMENTATION_FLAGS",
    "PlausibleRange",
    "QcFailure",
    "check_label_geometry",
    "check_phenotypes",
    "plausible_ranges",
]


@dataclass(frozen=True)
class PlausibleRange:
    """Closed interval of plausible values of one quantity and the QC flag raised outside it.

    Attributes
    ----------
    flag
        QC flag.
    low, high
        Adult limits, in ``unit``.
    unit
        Unit of the value (``""`` for ratios).
    size_power
        The lower limit is ``low * scale ** size_power`` with the lifespan's :data:`LIFESPAN_SIZE_SCALE`:
        1 for volumes and mass, 1/3 for lengths, 0 for what does not scale with body size.
    """

    flag: str
    low: float
    high: float
    unit: str
    size_power: float = 0.0


#: Quantity -> plausible adult range (sources and reasons in the module docstring).
PLAUSIBLE_RANGES: dict[str, PlausibleRange] = {
    "LVEDV": PlausibleRange("implausible_LVEDV", 40.0, 500.0, "mL", 1.0),
    "LVM": PlausibleRange("implausible_LVM", 30.0, 500.0, "g", 1.0),
    "WT_Max": PlausibleRange("implausible_WT_Max", 3.0, 40.0, "mm", 1.0 / 3.0),
    "LVEF": PlausibleRange("implausible_LVEF", 5.0, 90.0, "%"),
    "RVEF": PlausibleRange("implausible_RVEF", 5.0, 90.0, "%"),
    "RVEDV/LVEDV": PlausibleRange("implausible_RV_LV_ratio", 0.25, 4.0, ""),
    "LVSV/RVSV": PlausibleRange("implausible_SV_ratio", 0.2, 5.0, ""),
    "HR": PlausibleRange("implausible_HR", 25.0, 250.0, "bpm"),
}

#: Lifespan group -> body-size factor of the lower size limits (see the module docstring).
LIFESPAN_SIZE_SCALE: dict[str, float] = {"Adult": 1.0, "Pediatric": 0.1, "Fetal": 0.01}

#: ``lv_not_enclosed`` below this fraction of the LV blood pool's edge on myocardium ...
MIN_LV_BORDER_ON_MYO = 0.5
#: ... or below this one in the two end slices of the LV stack (the valve plane cuts the basal ring open
#: at the outflow tract; a good segmenter gives 0.40-0.48 there on Sunnybrook SCD0000101).
MIN_LV_BORDER_ON_MYO_END = 0.25
#: ``myo_ring_open`` below this fraction of a mid slice's LV blood pool inside a closed myocardial ring ...
MIN_LV_IN_RING = 0.5
#: ... after bridging gaps in the ring of up to this many pixels (a one-pixel diagonal gap in a thin
#: septum is partial volume, not a missing wall).
MAX_RING_GAP_PX = 2
#: ``label_island`` beyond this distance [mm] from the heart (the largest 3-D piece of labels).
MAX_ISLAND_DISTANCE_MM = 30.0

#: Flags of this module that point at the segmentation (all but ``implausible_HR``, a header problem).
SEGMENTATION_FLAGS: tuple[str, ...] = (
    *(r.flag for r in PLAUSIBLE_RANGES.values() if r.flag != "implausible_HR"),
    "esv_ge_edv_LV",
    "esv_ge_edv_RV",
    "lv_fragmented",
    "lv_not_enclosed",
    "myo_ring_open",
    "label_island",
)


def _num(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _range_text(low: float, high: float, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if math.isinf(low):
        return f"<= {_num(high)}{u}"
    if math.isinf(high):
        return f">= {_num(low)}{u}"
    return f"{_num(low)}-{_num(high)}{u}"


@dataclass(frozen=True)
class QcFailure:
    """One failed QC check: the flag, the measured value and what was expected.

    Attributes
    ----------
    flag
        The QC flag (as in ``CardiacPhenotypes.qc_flags``).
    quantity
        What was measured (``"LVM"``, ``"LV pixels"``...).
    value
        Measured value, in ``unit``.
    unit
        Unit of ``value`` and of the limits (``""`` for ratios and counts).
    low, high
        Limits of the passing interval (``-inf`` / ``inf`` when open).
    expected
        The passing interval as text (``"30-500 g"``, ``"< 1"``); built from the limits when empty.
    where
        Slice and phase, when the check is local (``"slice 4, ED"``).
    """

    flag: str
    quantity: str
    value: float
    unit: str = ""
    low: float = -math.inf
    high: float = math.inf
    expected: str = ""
    where: str = ""

    def __post_init__(self) -> None:
        if not self.expected:
            object.__setattr__(self, "expected", _range_text(self.low, self.high, self.unit))

    def describe(self) -> str:
        """``"implausible_LVM: LVM 612 g, expected 30-500 g"`` (with ``(where)`` after the value)."""
        unit = f" {self.unit}" if self.unit else ""
        where = f" ({self.where})" if self.where else ""
        return f"{self.flag}: {self.quantity} {_num(self.value)}{unit}{where}, expected {self.expected}"


def plausible_ranges(lifespan: str = "Adult") -> dict[str, PlausibleRange]:
    """:data:`PLAUSIBLE_RANGES` with the lower size limits scaled for a lifespan group.

    Parameters
    ----------
    lifespan
        ``Adult``, ``Pediatric`` or ``Fetal`` (any case); ``unknown`` counts as ``Adult``.
    """
    key = lifespan.strip().capitalize()
    if key == "Unknown":
        key = "Adult"
    if key not in LIFESPAN_SIZE_SCALE:
        raise UnknownChoiceError(f"unknown lifespan {lifespan!r}; choose {', '.join(LIFESPAN_SIZE_SCALE)}")
    scale = LIFESPAN_SIZE_SCALE[key]
    return {k: replace(r, low=r.low * scale**r.size_power) for k, r in PLAUSIBLE_RANGES.items()}


def check_phenotypes(
    values: Mapping[str, float], *, lifespan: str = "Adult", single_frame: bool = False
) -> list[QcFailure]:
    """Range and consistency checks of cine phenotypes.

    Parameters
    ----------
    values
        Phenotype name -> value: ``LVEDV``, ``LVESV``, ``RVEDV``, ``RVESV`` [mL], ``LVSV``, ``RVSV`` [mL],
        ``LVEF``, ``RVEF`` [%], ``LVM`` [g], optionally ``WT_Max`` [mm] and ``HR`` [bpm]. Absent and NaN
        values are not judged; neither are zero volumes and mass (an absent label: the ``missing_*``
        flags say so).
    lifespan
        Lifespan group of the subject (:func:`plausible_ranges`).
    single_frame
        True for a stack without a cardiac cycle (ED = ES): EF, stroke volumes and the ESV / EDV order
        are then not judged (``single_frame`` is flagged instead).

    Returns
    -------
    list of QcFailure
        One per failed check, in :data:`PLAUSIBLE_RANGES` order, then the ESV / EDV checks.
    """
    ranges = plausible_ranges(lifespan)
    nan = float("nan")
    v = {k: float(x) for k, x in values.items()}
    lvedv, rvedv = v.get("LVEDV", nan), v.get("RVEDV", nan)
    lvsv, rvsv = v.get("LVSV", nan), v.get("RVSV", nan)
    measured = {
        "LVEDV": lvedv,
        "LVM": v.get("LVM", nan),
        "WT_Max": v.get("WT_Max", nan),
        "LVEF": nan if single_frame else v.get("LVEF", nan),
        "RVEF": nan if single_frame else v.get("RVEF", nan),
        "RVEDV/LVEDV": rvedv / lvedv if lvedv > 0 and rvedv > 0 else nan,
        "LVSV/RVSV": lvsv / rvsv if lvsv > 0 and rvsv > 0 and not single_frame else nan,
        "HR": v.get("HR", nan),
    }
    out = []
    for name, value in measured.items():
        r = ranges[name]
        if not math.isfinite(value) or (r.unit in ("mL", "g") and value == 0):
            continue
        if not r.low <= value <= r.high:
            out.append(QcFailure(r.flag, name, value, r.unit, r.low, r.high))
    if not single_frame:
        for side in ("LV", "RV"):
            edv, esv = v.get(f"{side}EDV", nan), v.get(f"{side}ESV", nan)
            if edv > 0 and esv >= edv:
                out.append(
                    QcFailure(
                        f"esv_ge_edv_{side}", f"{side}ESV/{side}EDV", esv / edv, high=1.0, expected="< 1"
                    )
                )
    return out


def _lv_in_ring(sl: NDArray[np.integer]) -> float:
    """Fraction of the LV blood pool inside the myocardial ring, gaps of up to :data:`MAX_RING_GAP_PX`
    bridged (the ring is dilated by half of it, then its holes filled)."""
    myo = ndimage.binary_dilation(
        sl == MYO, structure=np.ones((3, 3), dtype=bool), iterations=MAX_RING_GAP_PX // 2
    )
    lv = (sl == LV) & ~myo  # the LV under the widened ring is neither in nor out
    holes = ndimage.binary_fill_holes(myo) & ~myo
    return float((lv & holes).sum() / lv.sum()) if lv.any() else 1.0


def _worst(found: list[QcFailure], *, largest: bool) -> list[QcFailure]:
    if not found:
        return []
    return [max(found, key=lambda f: f.value) if largest else min(found, key=lambda f: f.value)]


def check_label_geometry(
    labels: NDArray[np.integer],
    frames: Mapping[str, int],
    spacing_mm: tuple[float, float, float],
    *,
    min_pixels: int = 10,
) -> list[QcFailure]:
    """Connectivity checks of a ``(t, z, y, x)`` segmentation at the given frames (module docstring).

    Parameters
    ----------
    labels
        ``(t, z, y, x)`` integer labels (LV 1, MYO 2, RV 3).
    frames
        Phase name -> frame index, e.g. ``{"ED": 0, "ES": 7}`` (a frame listed twice is checked once).
    spacing_mm
        Voxel spacing ``(dz, dy, dx)`` [mm], for the island distance.
    min_pixels
        Smaller LV pieces, slices with less LV and smaller 3-D islands are not judged.

    Returns
    -------
    list of QcFailure
        At most one per flag (the worst slice or island over all frames), in the order
        ``lv_fragmented``, ``lv_not_enclosed``, ``myo_ring_open``, ``label_island``.
    """
    pieces: list[QcFailure] = []
    border: list[QcFailure] = []
    ring: list[QcFailure] = []
    islands: list[QcFailure] = []
    seen: set[int] = set()
    for phase, t in frames.items():
        if t in seen:
            continue
        seen.add(t)
        vol = np.asarray(labels[t])
        lv_slices = [z for z in range(vol.shape[0]) if int((vol[z] == LV).sum()) >= min_pixels]
        third = len(lv_slices) // 3
        mid = set(lv_slices[third : len(lv_slices) - third])
        ends = {lv_slices[0], lv_slices[-1]} if lv_slices else set()
        for z in lv_slices:
            where = f"slice {z}, {phase}"
            comp, n = ndimage.label(vol[z] == LV, structure=np.ones((3, 3), dtype=bool))
            n_big = int((np.bincount(comp.ravel())[1:] >= min_pixels).sum()) if n else 0
            if n_big > 1:
                pieces.append(QcFailure("lv_fragmented", "LV pieces", n_big, "", high=1, where=where))
            on_myo = 100.0 * lv_border_on_myo(vol[z])
            low = 100.0 * (MIN_LV_BORDER_ON_MYO_END if z in ends else MIN_LV_BORDER_ON_MYO)
            if on_myo < low:
                border.append(QcFailure("lv_not_enclosed", "LV edge on MYO", on_myo, "%", low, where=where))
            if z in mid:
                inside = 100.0 * _lv_in_ring(vol[z])
                if inside < 100.0 * MIN_LV_IN_RING:
                    low = 100.0 * MIN_LV_IN_RING
                    ring.append(
                        QcFailure("myo_ring_open", "LV inside MYO ring", inside, "%", low, where=where)
                    )
        islands += _islands(vol, phase, spacing_mm, min_pixels)
    return [
        *_worst(pieces, largest=True),
        *_worst(border, largest=False),
        *_worst(ring, largest=False),
        *_worst(islands, largest=True),
    ]


def _islands(
    vol: NDArray[np.integer], phase: str, spacing_mm: tuple[float, float, float], min_pixels: int
) -> list[QcFailure]:
    """``label_island`` failures of one ``(z, y, x)`` frame: 3-D pieces far from the largest one."""
    comp, n = ndimage.label(vol > 0, structure=np.ones((3, 3, 3), dtype=bool))
    if n < 2:
        return []
    sizes = np.bincount(comp.ravel())
    sizes[0] = 0
    heart = int(np.argmax(sizes))
    others = [k for k in range(1, n + 1) if k != heart and sizes[k] >= min_pixels]
    if not others:
        return []
    dist = ndimage.distance_transform_edt(comp != heart, sampling=spacing_mm)
    out = []
    for k, d in zip(others, ndimage.minimum(dist, comp, index=others), strict=True):
        if d > MAX_ISLAND_DISTANCE_MM:
            z = int(np.flatnonzero((comp == k).any(axis=(1, 2)))[0])
            where = f"{int(sizes[k])} voxels from slice {z}, {phase}"
            out.append(
                QcFailure(
                    "label_island",
                    "distance to heart",
                    float(d),
                    "mm",
                    high=MAX_ISLAND_DISTANCE_MM,
                    where=where,
                )
            )
    return out
