"""Parametric mapping: vectorised T1 (MOLLI), T2, T1rho and T2* fits, ECV and myocardial statistics.

Times are in seconds inside the package; fits accept ``time_unit="ms"`` for millisecond inputs.

Not re-exported here: :mod:`.series` (a series' times and its slice-by-slice fit) and :mod:`.ecv_inputs`
(T1 maps with labels, map unit) read files and load the I/O stack; :mod:`.tables` (per-slice CSV rows) and
:mod:`.outputs` (CSV, ``.npy`` and PNG files of a map) write the results of ``cardiomm analyse``.
"""

from cardiomm.analysis.mapping.ecv_maps import EcvResult, blood_pool_t1, ecv_from_maps
from cardiomm.analysis.mapping.fitting import (
    DecayFit,
    T1Fit,
    fit_exponential_decay,
    fit_molli_t1,
    fit_t1rho,
    fit_t2,
    fit_t2star,
)
from cardiomm.analysis.mapping.signal_models import (
    ecv,
    exponential_decay_signal,
    look_locker_correction,
    molli_signal,
    to_seconds,
)
from cardiomm.analysis.mapping.stats import MyocardialStats, myocardial_stats

__all__ = [
    "T1Fit",
    "DecayFit",
    "fit_molli_t1",
    "fit_exponential_decay",
    "fit_t2",
    "fit_t1rho",
    "fit_t2star",
    "molli_signal",
    "look_locker_correction",
    "exponential_decay_signal",
    "ecv",
    "EcvResult",
    "ecv_from_maps",
    "blood_pool_t1",
    "to_seconds",
    "MyocardialStats",
    "myocardial_stats",
]
