"""Myocardial wall thickness from a short-axis segmentation, globally and per AHA segment.

Per slice holding both LV blood pool and myocardium (>= ``min_pixels`` each), the endocardial contour
(boundary of the LV blood pool) and the epicardial contour (boundary of LV + MYO) are extracted at the
0.5 iso-level with :func:`skimage.measure.find_contours`; the thickness at each endocardial point is the
distance to the nearest epicardial point in millimetres (anisotropic pixel spacing honoured). The
global value is the mean over all endocardial points of all slices; per-segment values group the
endocardial points by AHA segment (:mod:`cardiomm.analysis.aha`).

This follows the UK Biobank pipeline used by CardioMM (Bai et al.; nearest endo -> epi distance), without
its contour smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from cardiomm.analysis.aha import segment_ids, septum_geometry, slice_levels
from cardiomm.analysis.labels import LV, MYO
from cardiomm.errors import ShapeError

__all__ = ["WallThickness", "wall_thickness"]

N_SEGMENTS = 16


@dataclass(frozen=True)
class WallThickness:
    """Wall thickness [mm] of one frame.

    Attributes
    ----------
    global_mm
        Mean over every endocardial contour point of every measured slice (NaN if none).
    segment_mean_mm, segment_max_mm
        16 values per AHA segment (NaN where the segment has no point).
    slice_mean_mm
        ``(z,)`` per-slice mean (NaN for slices not measured).
    """

    global_mm: float
    segment_mean_mm: tuple[float, ...]
    segment_max_mm: tuple[float, ...]
    slice_mean_mm: tuple[float, ...]

    def as_dict(self) -> dict[str, float]:
        """``WT_Global (mm)``, ``WT_AHA_1..16 (mm)``, ``WT_Max_AHA_1..16 (mm)`` (CardioMM CSV names)."""
        out = {"WT_Global (mm)": self.global_mm}
        out.update({f"WT_AHA_{i + 1} (mm)": v for i, v in enumerate(self.segment_mean_mm)})
        out.update({f"WT_Max_AHA_{i + 1} (mm)": v for i, v in enumerate(self.segment_max_mm)})
        return out


def _longest_contour(mask: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    from skimage import measure  # noqa: PLC0415 - lazy: importing this module loads no skimage

    padded = np.pad(mask.astype(np.float64), 1)
    contours = measure.find_contours(padded, 0.5)
    if not contours:
        return None
    return max(contours, key=len) - 1.0  # undo the padding offset; (k, 2) as (y, x)


def wall_thickness(
    labels: ArrayLike,
    spacing_yx_mm: tuple[float, float],
    *,
    levels: ArrayLike | None = None,
    base_first: bool | None = None,
    counterclockwise: bool = True,
    min_pixels: int = 10,
) -> WallThickness:
    """Wall thickness of one ``(z, y, x)`` (or ``(y, x)``) segmentation frame, usually end-diastole.

    Parameters
    ----------
    labels
        Labels in the cardiomm convention (LV = 1, MYO = 2, RV = 3).
    spacing_yx_mm
        In-plane pixel spacing ``(dy, dx)`` [mm].
    levels, base_first, counterclockwise
        AHA geometry, see :func:`cardiomm.analysis.aha.aha_segments`.
    min_pixels
        Slices with fewer LV or MYO pixels are skipped.
    """
    lab = np.asarray(labels)
    if lab.ndim == 2:
        lab = lab[None]
    if lab.ndim != 3:
        raise ShapeError(f"expected a (z, y, x) label array, got shape {lab.shape}")
    dy, dx = (float(v) for v in spacing_yx_mm)
    scale = np.array([dy, dx])
    lev = slice_levels(lab, base_first=base_first) if levels is None else np.asarray(levels, dtype=np.int8)
    geo = septum_geometry(lab)
    per_seg: list[list[float]] = [[] for _ in range(N_SEGMENTS)]
    all_t: list[NDArray[np.float64]] = []
    slice_mean = np.full(lab.shape[0], np.nan)
    for z in range(lab.shape[0]):
        lv = lab[z] == LV
        myo = lab[z] == MYO
        if lv.sum() < min_pixels or myo.sum() < min_pixels:
            continue
        endo = _longest_contour(lv)
        epi = _longest_contour(lv | myo)
        if endo is None or epi is None:
            continue
        dist, _ = cKDTree(epi * scale).query(endo * scale)
        all_t.append(dist)
        slice_mean[z] = float(dist.mean())
        seg = segment_ids(
            endo[:, 0],
            endo[:, 1],
            geo.centre[z],
            geo.septum_angle[z],
            int(lev[z]),
            counterclockwise=counterclockwise,
        )
        for s in np.unique(seg[seg > 0]):
            per_seg[int(s) - 1].extend(dist[seg == s].tolist())
    nan = float("nan")
    return WallThickness(
        global_mm=float(np.concatenate(all_t).mean()) if all_t else nan,
        segment_mean_mm=tuple(float(np.mean(v)) if v else nan for v in per_seg),
        segment_max_mm=tuple(float(np.max(v)) if v else nan for v in per_seg),
        slice_mean_mm=tuple(float(v) for v in slice_mean),
    )
