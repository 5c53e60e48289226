"""Closed-form signal models of parametric mapping, the Look-Locker correction and ECV.

Units: every time (TI, TE, spin-lock time, T1, T1*, T2, T1rho, T2*) is in **seconds**; signal amplitudes
are in arbitrary signal units. Functions broadcast over numpy arrays.

Models
------
- MOLLI (3-parameter, apparent relaxation): ``S(TI) = A - B exp(-TI / T1*)``; the Look-Locker corrected
  ``T1 = T1* (B / A - 1)`` (Deichmann & Haase 1992; Messroghli et al. 2004).
- Mono-exponential decay (T2 with TE, T1rho with spin-lock time TSL, T2* with TE):
  ``S(t) = M0 exp(-t / T) [+ C]``.
- Extracellular volume: ``ECV = (1 - Hct) (dR1_myo / dR1_blood)`` with ``dR1 = 1/T1_post - 1/T1_pre``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.errors import DataValueError

__all__ = [
    "TimeUnit",
    "to_seconds",
    "molli_signal",
    "look_locker_correction",
    "exponential_decay_signal",
    "ecv",
]

TimeUnit = Literal["s", "ms"]


def to_seconds(times: ArrayLike, unit: TimeUnit) -> NDArray[np.float64]:
    """Convert times given in ``unit`` (``"s"`` or ``"ms"``) to seconds (float64)."""
    arr = np.asarray(times, dtype=np.float64)
    if unit == "s":
        return arr
    if unit == "ms":
        return arr * 1e-3
    raise DataValueError(f"unknown time unit {unit!r} (use 's' or 'ms')")


def molli_signal(ti_s: ArrayLike, a: ArrayLike, b: ArrayLike, t1_star_s: ArrayLike) -> NDArray[np.float64]:
    """Signed MOLLI / Look-Locker recovery ``A - B exp(-TI / T1*)``.

    Parameters
    ----------
    ti_s
        Inversion times [s]; broadcast against the parameters (e.g. shape ``(n, 1, 1)`` with parameter
        maps ``(y, x)`` gives ``(n, y, x)``).
    a, b
        Amplitudes [signal units]; for an ideal inversion ``B ~ 2 A``.
    t1_star_s
        Apparent relaxation time T1* [s].

    Returns
    -------
    numpy.ndarray
        Signed signal (take ``abs`` for magnitude data).
    """
    ti = np.asarray(ti_s, dtype=np.float64)
    return np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64) * np.exp(
        -ti / np.asarray(t1_star_s, dtype=np.float64)
    )


def look_locker_correction(t1_star_s: ArrayLike, a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Look-Locker corrected T1 [s]: ``T1 = T1* (B / A - 1)``; NaN where the result is not positive."""
    t1s = np.asarray(t1_star_s, dtype=np.float64)
    a_ = np.asarray(a, dtype=np.float64)
    b_ = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = t1s * (b_ / a_ - 1.0)
    return np.where(np.isfinite(t1) & (t1 > 0), t1, np.nan)


def exponential_decay_signal(
    t_s: ArrayLike, m0: ArrayLike, t2_s: ArrayLike, offset: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """Mono-exponential decay ``M0 exp(-t / T) + C`` (T2 / T1rho / T2*), times in seconds."""
    t = np.asarray(t_s, dtype=np.float64)
    return np.asarray(m0, dtype=np.float64) * np.exp(-t / np.asarray(t2_s, dtype=np.float64)) + np.asarray(
        offset, dtype=np.float64
    )


def ecv(
    t1_myo_pre: ArrayLike,
    t1_myo_post: ArrayLike,
    t1_blood_pre: ArrayLike,
    t1_blood_post: ArrayLike,
    hematocrit: float | ArrayLike,
) -> NDArray[np.float64]:
    """Extracellular volume fraction from native and post-contrast T1.

    ``ECV = (1 - Hct) * (1/T1_myo_post - 1/T1_myo_pre) / (1/T1_blood_post - 1/T1_blood_pre)``.

    Parameters
    ----------
    t1_myo_pre, t1_myo_post
        Myocardial T1 before and after contrast (scalars or maps, same unit as the blood values; seconds
        by convention). Pass maps to get a pixel-wise ECV map.
    t1_blood_pre, t1_blood_post
        Blood-pool T1 before and after contrast (usually scalars: the LV blood-pool mean).
    hematocrit
        Haematocrit as a fraction in (0, 1) (e.g. 0.42, not 42).

    Returns
    -------
    numpy.ndarray
        ECV as a fraction (multiply by 100 for %); 0-D for scalar input.
    """
    hct = np.asarray(hematocrit, dtype=np.float64)
    if np.any((hct <= 0) | (hct >= 1)):
        raise DataValueError(f"haematocrit must be a fraction in (0, 1), got {hematocrit!r}")
    arrays = [np.asarray(v, dtype=np.float64) for v in (t1_myo_pre, t1_myo_post, t1_blood_pre, t1_blood_post)]
    if any(np.any(v <= 0) for v in arrays):
        raise DataValueError("T1 values for ECV must be positive")
    myo_pre, myo_post, blood_pre, blood_post = arrays
    d_r1_blood = 1.0 / blood_post - 1.0 / blood_pre
    if np.any(d_r1_blood == 0):
        raise DataValueError("blood T1 does not change with contrast (dR1_blood = 0); cannot compute ECV")
    return (1.0 - hct) * (1.0 / myo_post - 1.0 / myo_pre) / d_r1_blood
