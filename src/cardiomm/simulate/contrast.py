"""Closed-form signal equations of the simulated sequences (vectorised over pixels).

All functions take per-pixel arrays (any broadcastable shape) of proton density ``pd`` (relative) and
relaxation times in **seconds**, flip angles in **degrees**, and return real, *signed* magnetisation
(the sign of inversion-recovery signals is kept; the complex image carries it, and the coil RSS of the
k-space is its magnitude).

MOLLI (Look-Locker) model
-------------------------
``S(TI) = A - B exp(-TI / T1*)`` with ``A = pd sin(a) T1*/T1`` and ``B = pd sin(a) (1 + T1*/T1)``, so
``S(0) = -pd sin(a)`` (perfect inversion) and the Look-Locker correction ``T1 = T1* (B/A - 1)`` is exact.
The apparent ``T1*`` follows a readout-duty-cycle model of the bSSFP perturbation,
``1/T1* = 1/T1 + d sin^2(a/2) (1/T2 - 1/T1)`` (d = readout duty cycle), which reproduces MOLLI's known
T2 dependence of ``T1*``. Full recovery between the two inversions is assumed (no heart-rate bias).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "bssfp",
    "spoiled_gre",
    "molli_t1_star",
    "molli",
    "molli_inversion_times",
    "t2_prep",
    "spin_lock",
    "inversion_recovery",
    "null_inversion_time",
    "saturation_recovery",
    "spin_echo",
    "gamma_variate",
    "spamm_modulation",
]

F64 = NDArray[np.float64]


def _a(x: ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


def _safe(t: ArrayLike) -> F64:
    """Relaxation times with zeros (air) replaced by a large value, so exponentials stay finite."""
    t = _a(t)
    return np.where(t > 0, t, 1e6)


def bssfp(pd: ArrayLike, t1: ArrayLike, t2: ArrayLike, flip_deg: float, te: float = 0.0) -> F64:
    """On-resonance balanced SSFP steady state ``pd sin a / ((T1/T2 + 1) - cos a (T1/T2 - 1)) e^(-TE/T2)``.

    At the optimal flip angle this is about ``pd / 2 sqrt(T2/T1)``.
    """
    a = np.deg2rad(flip_deg)
    ratio = _safe(t1) / _safe(t2)
    return _a(pd) * np.sin(a) / ((ratio + 1.0) - np.cos(a) * (ratio - 1.0)) * np.exp(-te / _safe(t2))


def spoiled_gre(pd: ArrayLike, t1: ArrayLike, t2s: ArrayLike, flip_deg: float, tr: float, te: float) -> F64:
    """Spoiled gradient echo (FLASH) steady state (Ernst equation) with ``T2*`` decay at ``TE``."""
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-tr / _safe(t1))
    return _a(pd) * np.sin(a) * (1.0 - e1) / (1.0 - np.cos(a) * e1) * np.exp(-te / _safe(t2s))


def molli_t1_star(t1: ArrayLike, t2: ArrayLike, flip_deg: float = 35.0, duty: float = 0.2) -> F64:
    """Apparent Look-Locker relaxation time ``T1*`` [s] of a MOLLI bSSFP readout (see module docs)."""
    s2 = np.sin(np.deg2rad(flip_deg) / 2.0) ** 2
    r1 = 1.0 / _safe(t1)
    return 1.0 / (r1 + duty * s2 * np.maximum(1.0 / _safe(t2) - r1, 0.0))


def molli(
    pd: ArrayLike, t1: ArrayLike, t2: ArrayLike, ti: ArrayLike, flip_deg: float = 35.0, duty: float = 0.2
) -> F64:
    """MOLLI signal at inversion times ``ti`` [s] (new last axis): ``A - B exp(-TI/T1*)``, signed.

    Returns
    -------
    numpy.ndarray
        Shape ``pd.shape + (len(ti),)``.
    """
    t1 = _safe(t1)
    t1s = molli_t1_star(t1, t2, flip_deg, duty)
    sa = np.sin(np.deg2rad(flip_deg))
    amp_a = _a(pd) * sa * t1s / t1
    amp_b = _a(pd) * sa * (1.0 + t1s / t1)
    return amp_a[..., None] - amp_b[..., None] * np.exp(-_a(ti) / t1s[..., None])


def molli_inversion_times(
    rr: float, scheme: tuple[int, ...] = (5, 3), ti0: tuple[float, ...] = (0.10, 0.18)
) -> F64:
    """Inversion times [s] of a MOLLI ``5(3)3`` scheme in **acquisition order** (not sorted).

    Inversion ``k`` yields ``scheme[k]`` images at ``ti0[k] + j * rr``, j = 0, 1, ...
    """
    return np.concatenate([t0 + rr * np.arange(n) for n, t0 in zip(scheme, ti0, strict=True)])


def t2_prep(pd: ArrayLike, t2: ArrayLike, prep: ArrayLike, m0: ArrayLike = 1.0) -> F64:
    """T2-prepared signal ``pd m0 exp(-TE_prep / T2)``; ``prep`` [s] becomes a new last axis."""
    return (_a(pd) * _a(m0))[..., None] * np.exp(-_a(prep) / _safe(t2)[..., None])


def spin_lock(pd: ArrayLike, t1rho: ArrayLike, tsl: ArrayLike, m0: ArrayLike = 1.0) -> F64:
    """Spin-lock prepared signal ``pd m0 exp(-TSL / T1rho)``; ``tsl`` [s] becomes a new last axis."""
    return t2_prep(pd, t1rho, tsl, m0)


def inversion_recovery(pd: ArrayLike, t1: ArrayLike, ti: float, trec: float = np.inf) -> F64:
    """Inversion recovery ``pd (1 - 2 e^(-TI/T1) + e^(-Trec/T1))`` (signed); ``trec`` = recovery time [s]."""
    t1 = _safe(t1)
    return _a(pd) * (1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-trec / t1))


def null_inversion_time(t1: float, trec: float = np.inf) -> float:
    """Inversion time [s] nulling a tissue of longitudinal relaxation ``t1`` (:func:`inversion_recovery`)."""
    return float(t1 * np.log(2.0 / (1.0 + np.exp(-trec / t1))))


def saturation_recovery(pd: ArrayLike, t1: ArrayLike, ts: float) -> F64:
    """Saturation recovery ``pd (1 - e^(-TS/T1))`` with saturation delay ``ts`` [s]."""
    return _a(pd) * (1.0 - np.exp(-ts / _safe(t1)))


def spin_echo(pd: ArrayLike, t1: ArrayLike, t2: ArrayLike, tr: float, te: float) -> F64:
    """(Turbo) spin echo ``pd (1 - e^(-TR/T1)) e^(-TE/T2)``."""
    return _a(pd) * (1.0 - np.exp(-tr / _safe(t1))) * np.exp(-te / _safe(t2))


def gamma_variate(t: ArrayLike, t0: float, alpha: float, beta: float, peak: float) -> F64:
    """Gamma-variate bolus ``C(t) = k (t - t0)^alpha exp(-(t - t0)/beta)`` scaled so that max C = ``peak``.

    ``t``, ``t0``, ``beta`` in seconds; zero before ``t0``. The peak is at ``t0 + alpha beta``.
    """
    t = _a(t)
    dt = np.maximum(t - t0, 0.0)
    tp = alpha * beta
    shape = (dt / tp) ** alpha * np.exp(alpha - dt / beta)
    return peak * np.where(t > t0, shape, 0.0)


def spamm_modulation(x0: ArrayLike, y0: ArrayLike, spacing: float) -> F64:
    """1-1 SPAMM grid modulation ``(1 + cos(2 pi x0/s)) (1 + cos(2 pi y0/s)) / 4`` in [0, 1].

    ``x0, y0`` are material (tagging-time) coordinates [mm]; ``spacing`` [mm].
    """
    k = 2.0 * np.pi / spacing
    return (1.0 + np.cos(k * _a(x0))) * (1.0 + np.cos(k * _a(y0))) / 4.0
