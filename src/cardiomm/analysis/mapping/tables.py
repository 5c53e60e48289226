"""Per-slice tables of a fitted map and of an ECV map: one row per slice, then a global ``"all"`` row.

Rows are plain dicts ready for a CSV (``pandas.DataFrame(rows)``): T1 / T2 in ms, ECV in %, AHA segment
columns ``Mapping_AHA_1..16`` / ``ECV_AHA_1..16`` where a segmentation gives the segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardiomm.analysis.aha import aha_segments
from cardiomm.analysis.labels import MYO
from cardiomm.analysis.mapping.ecv_maps import EcvResult
from cardiomm.analysis.mapping.stats import myocardial_stats

__all__ = ["mapping_table", "ecv_table"]


def mapping_table(
    param_map: NDArray[np.float64],
    r2: NDArray[np.float64],
    labels: NDArray[np.uint8] | None = None,
    *,
    levels: Sequence[int] | None = None,
    true_map: NDArray[Any] | None = None,
) -> list[dict[str, Any]]:
    """Myocardial statistics of a fitted map per slice and over all slices.

    Parameters
    ----------
    param_map
        ``(z, y, x)`` map [s].
    r2
        ``(z, y, x)`` R^2 of the fit.
    labels
        ``(z, y, x)`` segmentation (cardiomm labels); ``None`` summarises every finite pixel instead of
        the myocardium (no AHA columns).
    levels
        AHA level of each slice (1 base, 2 mid, 3 apex); default from the segmentation.
    true_map
        ``(z, y, x)`` true map [s] (simulated data): adds ``true_mean_ms`` when ``labels`` is given.

    Returns
    -------
    list of dict
        ``slice``, ``n_pixels``, ``mean_ms``, ``sd_ms``, ``median_ms``, ``r2_median`` (and
        ``true_mean_ms``, ``Mapping_AHA_1..16``); the last row is ``slice = "all"``.
    """
    segs = aha_segments(labels, levels=levels) if labels is not None else None
    rows = []
    for z in [*range(param_map.shape[0]), None]:
        sl = slice(None) if z is None else slice(z, z + 1)
        myo = labels[sl] == MYO if labels is not None else np.isfinite(param_map[sl])
        region = myo if labels is None else labels[sl]
        st = myocardial_stats(param_map[sl], region, segments=None if segs is None else segs[sl])
        row: dict[str, Any] = {
            "slice": "all" if z is None else z,
            "n_pixels": st.n_pixels,
            "mean_ms": st.mean * 1e3,
            "sd_ms": st.sd * 1e3,
            "median_ms": st.median * 1e3,
            "r2_median": float(np.nanmedian(r2[sl][myo])) if myo.any() else float("nan"),
        }
        if true_map is not None and labels is not None:
            row["true_mean_ms"] = float(true_map[sl][myo].mean()) * 1e3 if myo.any() else float("nan")
        if labels is not None:
            row.update({k: v for k, v in st.as_dict(scale=1e3, prefix="Mapping").items() if "AHA" in k})
        rows.append(row)
    return rows


def ecv_table(res: EcvResult, labels: NDArray[np.uint8], hct: float) -> list[dict[str, Any]]:
    """ECV per slice over the native segmentation's myocardium, then the global row with the ROI ECV, the
    haematocrit, the myocardial and blood T1 [ms] and the AHA segments.

    Parameters
    ----------
    res
        Result of :func:`~cardiomm.analysis.mapping.ecv_from_maps` (T1 in seconds).
    labels
        ``(z, y, x)`` segmentation of the native map.
    hct
        Haematocrit (fraction) that entered ``res``.
    """
    rows: list[dict[str, Any]] = []
    for z in range(res.ecv_map.shape[0]):
        st = myocardial_stats(res.ecv_map[z], labels[z] == MYO)
        rows.append(
            {
                "slice": z,
                "n_pixels": st.n_pixels,
                "ecv_pct": 100 * st.mean,
                "sd_pct": 100 * st.sd,
                "median_pct": 100 * st.median,
            }
        )
    glob = res.stats
    rows.append(
        {
            "slice": "all",
            "n_pixels": glob.n_pixels,
            "ecv_pct": 100 * glob.mean,
            "sd_pct": 100 * glob.sd,
            "median_pct": 100 * glob.median,
            "roi_ecv_pct": 100 * res.roi_ecv,
            "hct": hct,
            "myo_t1_pre_ms": 1e3 * res.myo_pre,
            "myo_t1_post_ms": 1e3 * res.myo_post,
            "blood_t1_pre_ms": 1e3 * res.blood_pre,
            "blood_t1_post_ms": 1e3 * res.blood_post,
            **{k: v for k, v in glob.as_dict(scale=100.0, prefix="ECV").items() if "AHA" in k},
        }
    )
    return rows
