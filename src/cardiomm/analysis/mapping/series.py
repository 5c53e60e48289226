"""A parametric-mapping series ``(t, z, y, x)`` (``t`` = contrasts) to a map: its times and the fit.

Map kinds (:data:`MAP_KINDS`): ``t1`` (MOLLI, :func:`~cardiomm.analysis.mapping.fit_molli_t1`), ``t2`` and
``t1rho`` (mono-exponential decay), ``t2-offset`` (decay plus a constant), ``t2star``
(:func:`~cardiomm.analysis.mapping.fit_t2star`).

Times [s] come from, in order: the caller, a ``cardiomm simulate`` sidecar's metadata, the DICOM headers
(TI for T1, TE for T2* / multi-echo T2; T2-prep times are not in the standard tags) or the series'
``<name>_info.csv``. A multi-slice series whose slices were prepared at different times is fitted slice
by slice, each with its own times.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardiomm.analysis.mapping.fitting import fit_exponential_decay, fit_molli_t1, fit_t2star
from cardiomm.analysis.volumes import AnalysisVolume
from cardiomm.errors import ConfigError
from cardiomm.io import find_scan_csv, read_scan_csv
from cardiomm.types import MapKind

__all__ = [
    "MAP_KINDS",
    "kind_for_modality",
    "per_slice_times",
    "series_times",
    "fit_series_map",
    "true_map",
]

#: Map kinds of :func:`fit_series_map` (the values of :class:`cardiomm.types.MapKind`).
MAP_KINDS: tuple[str, ...] = tuple(kind.value for kind in MapKind)
#: Modality key -> (map kind, metadata key of its times).
_MODALITY_KIND = {
    "T1map": ("t1", "ti_s"),
    "T2map": ("t2", "prep_times_s"),
    "T1rho": ("t1rho", "prep_times_s"),
}
#: Map kind -> name of the true map in a simulate sidecar (where they differ).
_TRUTH_MAP = {"t2-offset": "t2", "t2star": "t2s"}
#: Slices share their times when these agree within this many seconds.
_SHARED_TIME_TOL_S = 5e-4


def kind_for_modality(modality: str) -> tuple[str, str]:
    """Map kind and metadata key of its times for a modality key (``T1map``, ``T2map``, ``T1rho``);
    ``("t1", "ti_s")`` for any other."""
    return _MODALITY_KIND.get(modality, ("t1", "ti_s"))


def per_slice_times(times: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(t, z)`` per-image times -> ``(t,)`` when all slices share them (within 0.5 ms), else ``(t, z)``
    (multi-slice series whose slices were prepared at different times: fitted slice by slice)."""
    return times[:, 0] if np.ptp(times, axis=1).max() <= _SHARED_TIME_TOL_S else times


def series_times(
    path: Path, volume: AnalysisVolume, kind: str, truth_metadata: Mapping[str, Any] | None = None
) -> NDArray[np.float64]:
    """Times [s] of a mapping series that the caller did not give.

    Parameters
    ----------
    path
        The series file (its ``<name>_info.csv`` is looked up next to it).
    volume
        The series as read by :func:`~cardiomm.analysis.volumes.load_volume`.
    kind
        Map kind (:data:`MAP_KINDS`): T1 takes inversion times, the others preparation / echo times.
    truth_metadata
        Metadata of a simulate ``_gt.h5`` sidecar: when given, the times come from it.

    Returns
    -------
    numpy.ndarray
        ``(t,)``, or ``(t, z)`` for a DICOM series whose slices have their own times; empty when no
        source has them.

    Raises
    ------
    ConfigError
        A DICOM series without the times ``kind`` needs.
    """
    if truth_metadata is not None:
        md = truth_metadata
        _, time_key = kind_for_modality(md.get("modality", ""))
        return np.asarray(md.get(time_key) or md.get("ti_s") or md.get("prep_times_s") or [], dtype=float)
    if volume.from_dicom:
        found = volume.inversion_times_s if kind == "t1" else volume.echo_times_s
        if found is None:
            what = "inversion times" if kind == "t1" else "echo times that vary over the series"
            raise ConfigError(f"the DICOM series has no {what}: give --times (and --kind)", path=path)
        return per_slice_times(found)
    csv = find_scan_csv(path)
    params = read_scan_csv(csv) if csv else None
    times = (params.ti_list_s if kind == "t1" else params.prep_times_s) if params else ()
    return np.asarray(times, dtype=float)


def _fit(
    series: NDArray[Any], times_s: NDArray[np.float64], kind: str, magnitude: bool, ti_scale: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if kind == "t1":
        fit = fit_molli_t1(series, times_s, magnitude=magnitude, ti_scale=ti_scale)
        return fit.t1, fit.r2
    fitter = fit_t2star if kind == "t2star" else fit_exponential_decay
    dfit = fitter(series, times_s, offset=kind == "t2-offset")
    return dfit.t2, dfit.r2


def fit_series_map(
    series: NDArray[Any],
    times_s: NDArray[np.float64],
    kind: str,
    *,
    magnitude: bool = True,
    ti_scale: float = 1.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fit a map of ``kind`` to a series, slice by slice when the slices have their own times.

    Parameters
    ----------
    series
        ``(t, z, y, x)`` signal, ``t`` = contrasts.
    times_s
        ``(t,)`` times [s] of all slices, or ``(t, z)`` per slice.
    kind
        Map kind (:data:`MAP_KINDS`).
    magnitude, ti_scale
        T1 only: magnitude (polarity-restored) or signed data; factor on the inversion times (see
        :func:`~cardiomm.analysis.mapping.fit_molli_t1`).

    Returns
    -------
    tuple
        The map ``(z, y, x)`` [s] and the fit's R^2 ``(z, y, x)``.

    Raises
    ------
    ConfigError
        The number of times does not match the number of contrasts.
    """
    if times_s.shape[0] != series.shape[0]:
        msg = f"{times_s.shape[0]} times for a series of {series.shape[0]} contrasts (give --times or --gt)"
        raise ConfigError(msg)
    if times_s.ndim == 1:
        return _fit(series, times_s, kind, magnitude, ti_scale)
    fits = [
        _fit(series[:, z : z + 1], times_s[:, z], kind, magnitude, ti_scale) for z in range(series.shape[1])
    ]
    param_map, r2 = (np.concatenate(parts) for parts in zip(*fits, strict=True))
    return param_map, r2


def true_map(truth: Mapping[str, Any], kind: str) -> NDArray[Any] | None:
    """The true map ``(z, y, x)`` [s] of ``kind`` in a simulate sidecar (first frame); ``None`` if absent."""
    maps = truth["maps"].get(_TRUTH_MAP.get(kind, kind))
    return None if maps is None else maps[0]
