"""Extracellular volume (ECV) from a native and a post-contrast T1 map of the same slices.

Blood T1 is the median over the LV blood pool (label LV) eroded by ``blood_erosion`` pixels in-plane, so
that partial volume with the myocardium and papillary muscles does not bias it. Two ECV values come out:

- the **ROI ECV** from the mean myocardial T1 before and after contrast (each over its own
  segmentation), the value most clinical reports quote;
- a **pixel-wise ECV map** on the pixels that are myocardium in both segmentations (the maps must be
  co-registered: same slices, same geometry), summarised globally and per AHA segment.

The pre- and post-contrast segmentations may differ (``labels_post``); the AHA segments come from the
native one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from cardiomm.analysis.aha import aha_segments
from cardiomm.analysis.labels import LV, MYO
from cardiomm.analysis.mapping.signal_models import ecv
from cardiomm.analysis.mapping.stats import MyocardialStats, myocardial_stats
from cardiomm.errors import DataValueError, ShapeError

__all__ = ["EcvResult", "blood_pool_t1", "ecv_from_maps"]


@dataclass(frozen=True)
class EcvResult:
    """ECV of one stack (fractions; T1 in the unit of the input maps).

    Attributes
    ----------
    ecv_map
        ``(z, y, x)`` pixel-wise ECV, NaN outside the myocardium common to both segmentations.
    roi_ecv
        ECV from the mean myocardial T1 before and after contrast.
    stats
        Global and AHA-segment statistics of ``ecv_map``.
    myo_pre, myo_post, blood_pre, blood_post
        The mean myocardial and median blood-pool T1 that entered :attr:`roi_ecv`.
    """

    ecv_map: NDArray[np.float64]
    roi_ecv: float
    stats: MyocardialStats
    myo_pre: float
    myo_post: float
    blood_pre: float
    blood_post: float


def blood_pool_t1(t1_map: ArrayLike, labels: ArrayLike, *, erosion: int = 1) -> float:
    """Median T1 of the LV blood pool eroded in-plane by ``erosion`` pixels (falls back to the whole pool
    on slices where erosion leaves nothing)."""
    values, lab = np.asarray(t1_map, dtype=np.float64), np.asarray(labels)
    pool = lab == LV
    if erosion > 0:
        struct = np.zeros((1, 3, 3), bool) if pool.ndim == 3 else np.zeros((3, 3), bool)
        struct[..., 1, :] = struct[..., :, 1] = True
        eroded = ndimage.binary_erosion(pool, structure=struct, iterations=erosion)
        pool = eroded if (eroded & np.isfinite(values)).any() else pool
    sel = pool & np.isfinite(values)
    if not sel.any():
        raise DataValueError(f"no LV blood-pool pixels (label {LV}) with a finite T1: cannot compute ECV")
    return float(np.median(values[sel]))


def ecv_from_maps(
    t1_pre: ArrayLike,
    t1_post: ArrayLike,
    labels_pre: ArrayLike,
    hematocrit: float,
    *,
    labels_post: ArrayLike | None = None,
    levels: ArrayLike | None = None,
    blood_erosion: int = 1,
) -> EcvResult:
    """ECV map and ROI ECV from native and post-contrast T1 maps ``(z, y, x)`` or ``(y, x)``.

    Parameters
    ----------
    t1_pre, t1_post
        T1 maps in one unit (s or ms), NaN where unknown.
    labels_pre
        Segmentation of the native map (cardiomm labels: LV = 1, MYO = 2, RV = 3).
    hematocrit
        Fraction in (0, 1).
    labels_post
        Segmentation of the post-contrast map (default: ``labels_pre``).
    levels
        Per-slice AHA level for the segments (see :func:`~cardiomm.analysis.aha.aha_segments`).
    blood_erosion
        In-plane erosion of the blood pool [pixels] before its median.
    """
    pre, post = np.asarray(t1_pre, dtype=np.float64), np.asarray(t1_post, dtype=np.float64)
    lab_pre = np.asarray(labels_pre)
    lab_post = lab_pre if labels_post is None else np.asarray(labels_post)
    if pre.ndim == 2:
        pre, post, lab_pre, lab_post = pre[None], post[None], lab_pre[None], lab_post[None]
    if not pre.shape == post.shape == lab_pre.shape == lab_post.shape:
        shapes = (pre.shape, post.shape, lab_pre.shape, lab_post.shape)
        raise ShapeError(f"pre map, post map and labels must share one shape, got {shapes}")
    blood_pre = blood_pool_t1(pre, lab_pre, erosion=blood_erosion)
    blood_post = blood_pool_t1(post, lab_post, erosion=blood_erosion)
    myo_pre_mask, myo_post_mask = lab_pre == MYO, lab_post == MYO
    pre_ok = myo_pre_mask & np.isfinite(pre) & (pre > 0)
    post_ok = myo_post_mask & np.isfinite(post) & (post > 0)
    if not pre_ok.any() or not post_ok.any():
        raise DataValueError(f"no myocardial pixels (label {MYO}) with a finite T1 in one of the maps")
    myo_pre, myo_post = float(pre[pre_ok].mean()), float(post[post_ok].mean())
    roi = float(ecv(myo_pre, myo_post, blood_pre, blood_post, hematocrit))
    both = pre_ok & post_ok
    ecv_map = np.full(pre.shape, np.nan)
    if both.any():
        ecv_map[both] = ecv(pre[both], post[both], blood_pre, blood_post, hematocrit)
    segments = aha_segments(lab_pre, levels=levels)
    stats = myocardial_stats(ecv_map, lab_pre, segments=segments)
    return EcvResult(
        ecv_map=ecv_map,
        roi_ecv=roi,
        stats=stats,
        myo_pre=myo_pre,
        myo_post=myo_post,
        blood_pre=blood_pre,
        blood_post=blood_post,
    )
