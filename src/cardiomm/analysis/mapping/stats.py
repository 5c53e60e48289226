"""Myocardial statistics of a parametric map: global and per AHA segment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cardiomm.analysis.aha import aha_segments
from cardiomm.analysis.labels import MYO
from cardiomm.errors import ShapeError

__all__ = ["MyocardialStats", "myocardial_stats"]

N_SEGMENTS = 16


@dataclass(frozen=True)
class MyocardialStats:
    """Myocardial summary of a map (units of the map, e.g. seconds for T1).

    Attributes
    ----------
    mean, sd, median
        Over all finite myocardial pixels.
    n_pixels
        Number of finite myocardial pixels.
    segment_mean
        16 per-AHA-segment means (NaN for segments without pixels or without AHA geometry).
    segment_n
        16 per-segment pixel counts.
    """

    mean: float
    sd: float
    median: float
    n_pixels: int
    segment_mean: tuple[float, ...]
    segment_n: tuple[int, ...]

    def as_dict(self, *, scale: float = 1.0, prefix: str = "Mapping") -> dict[str, float]:
        """Flat dict ``{prefix}_Global``, ``{prefix}_SD``, ``{prefix}_AHA_1..16`` (values times ``scale``)."""
        out = {f"{prefix}_Global": self.mean * scale, f"{prefix}_SD": self.sd * scale}
        out.update({f"{prefix}_AHA_{i + 1}": v * scale for i, v in enumerate(self.segment_mean)})
        return out


def myocardial_stats(
    param_map: ArrayLike,
    labels: ArrayLike,
    *,
    levels: ArrayLike | None = None,
    base_first: bool | None = None,
    counterclockwise: bool = True,
    segments: ArrayLike | None = None,
) -> MyocardialStats:
    """Global and AHA-segment statistics of ``param_map`` over the myocardium.

    Parameters
    ----------
    param_map
        ``(z, y, x)`` or ``(y, x)`` map (e.g. T1 [s]); NaN pixels are ignored.
    labels
        Segmentation of the same shape in the cardiomm convention (LV = 1, MYO = 2, RV = 3), or a boolean
        myocardium mask (then only global statistics; segment values are NaN).
    levels
        Per-slice AHA level (see :func:`cardiomm.analysis.aha.aha_segments`); for a single
        mid-ventricular slice pass ``[2]``.
    base_first, counterclockwise
        Passed to :func:`~cardiomm.analysis.aha.aha_segments`.
    segments
        Precomputed AHA segment map (same shape, 1-16, 0 elsewhere), e.g. from the whole stack when
        summarising one slice; overrides ``levels``, ``base_first`` and ``counterclockwise``.
    """
    values = np.asarray(param_map, dtype=np.float64)
    lab = np.asarray(labels)
    if values.shape != lab.shape:
        raise ShapeError(f"map shape {values.shape} and label shape {lab.shape} differ")
    if lab.dtype == bool:
        myo = lab
        seg = np.zeros(lab.shape, dtype=np.uint8)
    else:
        myo = lab == MYO
        seg = aha_segments(lab, levels=levels, base_first=base_first, counterclockwise=counterclockwise)
    if segments is not None:
        seg = np.asarray(segments)
        if seg.shape != lab.shape:
            raise ShapeError(f"segment map shape {seg.shape} and label shape {lab.shape} differ")
    ok = myo & np.isfinite(values)
    v = values[ok]
    means, counts = [], []
    for s in range(1, N_SEGMENTS + 1):
        sel = ok & (seg == s)
        counts.append(int(sel.sum()))
        means.append(float(values[sel].mean()) if sel.any() else float("nan"))
    nan = float("nan")
    return MyocardialStats(
        mean=float(v.mean()) if v.size else nan,
        sd=float(v.std(ddof=1)) if v.size > 1 else nan,
        median=float(np.median(v)) if v.size else nan,
        n_pixels=int(v.size),
        segment_mean=tuple(means),
        segment_n=tuple(counts),
    )
