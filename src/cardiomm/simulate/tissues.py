"""Tissue classes and field-strength-dependent relaxation parameters of the numerical phantom.

Values are rounded literature-typical numbers (approximations, not a fit to one study), tabulated at
the four field strengths of MMCMR-427K and interpolated linearly in field strength in between
(clamped outside 0.55-5 T):

- 0.55 T: Campbell-Washburn A.E. et al., Radiology 2019 (myocardium T1 ~ 700 ms, T2 ~ 58 ms; blood
  T1 ~ 1120 ms) and extrapolation of the 1.5 T tissue values with T1 ~ B0^0.3-0.4.
- 1.5 T and 3.0 T: Stanisz G.J. et al., MRM 2005 (muscle, liver, fat, blood); native MOLLI/T2-prep
  myocardial norms (T1 ~ 1000 / 1200 ms, T2 ~ 50 / 45 ms; Messroghli 2017 consensus, von
  Knobelsdorff-Brenkenhoff 2013).
- 5.0 T: extrapolated (T1 + ~20 %, T2 - ~15 % vs 3 T), consistent with the few uMR Jupiter reports.

T2* is modelled as ``1/T2* = 1/T2 + R2'`` with ``R2' = k_tissue * B0`` (``k`` in 1/(s T)), which gives
myocardial T2* ~ 35 ms at 1.5 T and ~ 25 ms at 3 T and a very short lung T2*. T1rho is modelled as a
tissue-specific multiple of T2 (myocardium 52 ms at 1.5 T: Witschey W.R. et al., JCMR 2012).
Infarct (chronic scar) has native T1 +20 % and T2 +25 % relative to myocardium.

Gadolinium: relaxivities r1 / r2 in 1/(mM s) follow Rohrer M. et al., Invest Radiol 2005 (gadobutrol
r1 ~ 5.2 / 5.0 / 4.5 / 4.0 at 0.47 / 1.5 / 3 / 4.7 T, rounded).

All times are in **seconds** (SI), field strength in tesla.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Tissue",
    "Relaxation",
    "FIELD_STRENGTHS_T",
    "relaxation_table",
    "tissue_parameter_arrays",
    "gd_relaxivity",
]


class Tissue(IntEnum):
    """Tissue classes of the phantom (values are the indices stored in the ``tissue`` maps)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    LUNG = 3
    LIVER = 4
    BONE = 5
    SOFT = 6
    BLOOD = 7
    MYOCARDIUM = 8
    INFARCT = 9
    VESSEL_WALL = 10


#: Field strengths (T) at which the tables are defined.
FIELD_STRENGTHS_T: tuple[float, ...] = (0.55, 1.5, 3.0, 5.0)


@dataclass(frozen=True)
class Relaxation:
    """Relaxation parameters of one tissue at one field strength.

    Attributes
    ----------
    pd
        Proton density, relative (water = 1).
    t1
        Longitudinal relaxation time [s].
    t2
        Transverse relaxation time [s].
    t2s
        Effective transverse relaxation time T2* [s].
    t1rho
        Spin-lock relaxation time T1rho [s].
    """

    pd: float
    t1: float
    t2: float
    t2s: float
    t1rho: float


# tissue -> (PD, T1 [ms] at the 4 fields, T2 [ms] at the 4 fields, k_R2' [1/(s T)], T1rho/T2 ratio)
_TABLE: dict[Tissue, tuple[float, tuple[float, ...], tuple[float, ...], float, float]] = {
    Tissue.AIR: (0.0, (1000, 1000, 1000, 1000), (1, 1, 1, 1), 0.0, 1.0),
    Tissue.FAT: (0.90, (200, 260, 380, 450), (85, 80, 70, 60), 10.0, 1.1),
    Tissue.MUSCLE: (0.75, (700, 1010, 1410, 1650), (45, 44, 50, 40), 6.0, 1.1),
    Tissue.LUNG: (0.15, (1000, 1200, 1300, 1400), (60, 50, 40, 35), 250.0, 1.0),
    Tissue.LIVER: (0.75, (400, 580, 810, 950), (50, 46, 34, 28), 12.0, 1.1),
    Tissue.BONE: (0.65, (400, 550, 600, 650), (60, 50, 45, 40), 40.0, 1.1),
    Tissue.SOFT: (0.70, (750, 1050, 1350, 1550), (55, 50, 45, 38), 6.0, 1.1),
    Tissue.BLOOD: (0.95, (1120, 1550, 1950, 2200), (263, 250, 200, 150), 1.0, 0.9),
    Tissue.MYOCARDIUM: (0.80, (700, 1000, 1200, 1450), (58, 50, 45, 38), 5.7, 1.05),
    Tissue.INFARCT: (0.85, (840, 1200, 1440, 1740), (72, 62, 56, 47), 5.7, 1.3),
    Tissue.VESSEL_WALL: (0.70, (700, 1000, 1300, 1500), (50, 45, 40, 35), 6.0, 1.1),
}


def _interp(values: tuple[float, ...], field_t: float) -> float:
    return float(np.interp(field_t, FIELD_STRENGTHS_T, values))


def relaxation_table(field_t: float) -> dict[Tissue, Relaxation]:
    """Return the relaxation parameters of every tissue at ``field_t``.

    Parameters
    ----------
    field_t
        Main field strength [T]; values between table points are interpolated linearly, values
        outside 0.55-5 T are clamped to the nearest table point (T2* still uses ``field_t``).

    Returns
    -------
    dict[Tissue, Relaxation]
        Times in seconds.
    """
    out: dict[Tissue, Relaxation] = {}
    for tissue, (pd, t1s, t2s, k_r2p, rho_ratio) in _TABLE.items():
        t1 = _interp(t1s, field_t) * 1e-3
        t2 = _interp(t2s, field_t) * 1e-3
        r2p = k_r2p * field_t
        t2star = 1.0 / (1.0 / t2 + r2p)
        out[tissue] = Relaxation(pd=pd, t1=t1, t2=t2, t2s=t2star, t1rho=t2 * rho_ratio)
    return out


def tissue_parameter_arrays(field_t: float) -> dict[str, NDArray[np.float64]]:
    """Return lookup arrays indexed by tissue value: ``pd``, ``t1``, ``t2``, ``t2s``, ``t1rho``.

    Each array has ``len(Tissue)`` entries (times in seconds), so ``arrays["t1"][tissue_map]`` turns a
    tissue-index map into a T1 map.
    """
    table = relaxation_table(field_t)
    n = len(Tissue)
    out = {k: np.zeros(n) for k in ("pd", "t1", "t2", "t2s", "t1rho")}
    for tissue, rel in table.items():
        for k in out:
            out[k][int(tissue)] = getattr(rel, k)
    return out


def gd_relaxivity(field_t: float) -> tuple[float, float]:
    """Return gadolinium relaxivities ``(r1, r2)`` [1/(mM s)] at ``field_t`` (gadobutrol-like)."""
    r1 = float(np.interp(field_t, (0.47, 1.5, 3.0, 4.7), (5.2, 5.0, 4.5, 4.0)))
    r2 = float(np.interp(field_t, (0.47, 1.5, 3.0, 4.7), (6.1, 7.1, 6.3, 5.8)))
    return r1, r2
