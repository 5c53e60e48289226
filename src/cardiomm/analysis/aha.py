"""AHA 16-segment model from a short-axis segmentation (labels LV = 1, MYO = 2, RV = 3).

Geometry
--------
- **Levels.** The slices holding LV myocardium are split into thirds along z: base, mid, apex
  (``floor(3 i / n)`` for the i-th of n LV slices counted from the base). Base and mid slices get 6
  segments (1-6, 7-12), apical slices 4 (13-16); the apical cap (segment 17) is not used.
  Which end of the stack is the base is inferred (the base has the larger LV + MYO area) unless
  ``base_first`` is given.
- **Septum.** The RV insertion points are the two ends of the arc where the RV touches the LV
  epicardium: epicardial-border pixels whose distance to the RV is within ``contact_tol_px`` of the
  smallest such distance (the RV "dilated until it touches the epicardium"). The septum centre is the
  angular midpoint of that arc, seen from the LV centroid. Slices without RV contact (typically apical)
  take the circular mean of the other slices' septum angles.
- **Sectors.** Equal sectors around the LV centroid: 60 deg (base, mid) with the anteroseptal /
  inferoseptal boundary at the septum centre; 90 deg (apex) with segment 14 (septal) centred on it.
- **Orientation.** AHA numbering runs anterior -> septal -> inferior -> lateral. With
  ``counterclockwise=True`` (default) that is counter-clockwise as the array is displayed (row 0 at the
  top, i.e. ``y`` down, ``x`` right), which holds for standard radiological short-axis views (RV on
  the image left, anterior wall at the top). Pass ``counterclockwise=False`` for mirrored stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from cardiomm.analysis.basal import base_is_first
from cardiomm.analysis.labels import LV, MYO, RV
from cardiomm.errors import ShapeError

__all__ = [
    "LEVEL_NONE",
    "LEVEL_BASE",
    "LEVEL_MID",
    "LEVEL_APEX",
    "LEVEL_NAMES",
    "SeptumGeometry",
    "slice_levels",
    "septum_geometry",
    "segment_ids",
    "aha_segments",
]

LEVEL_NONE, LEVEL_BASE, LEVEL_MID, LEVEL_APEX = 0, 1, 2, 3
#: Level name -> level, for slices whose level is given by name.
LEVEL_NAMES: dict[str, int] = {"base": LEVEL_BASE, "mid": LEVEL_MID, "apex": LEVEL_APEX}


@dataclass(frozen=True)
class SeptumGeometry:
    """Per-slice LV centre and septum direction of a ``(z, y, x)`` segmentation.

    Attributes
    ----------
    centre
        ``(z, 2)`` LV centroid ``(y, x)`` in pixels; NaN where the slice has no LV / MYO.
    septum_angle
        ``(z,)`` display angle [rad] of the septum centre (``atan2(-(y - yc), x - xc)``), filled from
        other slices where the slice has no RV contact; NaN if no slice has one.
    insertion_points
        ``(z, 2, 2)`` the two RV insertion points ``(y, x)`` per slice; NaN where not found.
    measured
        ``(z,)`` True where the angle comes from this slice's own RV contact.
    """

    centre: NDArray[np.float64]
    septum_angle: NDArray[np.float64]
    insertion_points: NDArray[np.float64]
    measured: NDArray[np.bool_]


def _as_stack(labels: ArrayLike) -> NDArray[np.uint8]:
    arr = np.asarray(labels)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ShapeError(f"expected a (z, y, x) or (y, x) label array, got shape {arr.shape}")
    return arr


def slice_levels(labels: ArrayLike, *, base_first: bool | None = None) -> NDArray[np.int8]:
    """AHA level per slice of a ``(z, y, x)`` segmentation: 0 none, 1 base, 2 mid, 3 apex.

    Parameters
    ----------
    labels
        ``(z, y, x)`` labels (cardiomm convention); slices with MYO pixels are LV slices.
    base_first
        True if slice 0 is basal, False if apical; None infers it from the LV + MYO areas.
    """
    lab = _as_stack(labels)
    idx = np.flatnonzero((lab == MYO).any(axis=(1, 2)))
    levels = np.zeros(lab.shape[0], dtype=np.int8)
    if idx.size == 0:
        return levels
    if base_first is None:
        base_first = base_is_first(lab)
    order = idx if base_first else idx[::-1]
    for i, z in enumerate(order):
        levels[z] = LEVEL_BASE + (3 * i) // idx.size
    return levels


def _display_angle(
    y: NDArray[np.float64], x: NDArray[np.float64], centre: NDArray[np.float64]
) -> NDArray[np.float64]:
    return np.arctan2(-(y - centre[0]), x - centre[1])


def _contact_arc(angles: NDArray[np.float64]) -> tuple[float, float, float]:
    """(start, end, middle) angles of the shortest arc covering ``angles`` (complement of the largest gap)."""
    a = np.sort(np.mod(angles, 2 * np.pi))
    gaps = np.diff(np.concatenate([a, a[:1] + 2 * np.pi]))
    g = int(np.argmax(gaps))
    start, end = a[(g + 1) % a.size], a[g]
    width = np.mod(end - start, 2 * np.pi)
    return float(start), float(end), float(start + width / 2)


def septum_geometry(labels: ArrayLike, *, contact_tol_px: float = 2.0) -> SeptumGeometry:
    """LV centre, RV insertion points and septum angle for every slice of a ``(z, y, x)`` segmentation."""
    lab = _as_stack(labels)
    nz = lab.shape[0]
    centre = np.full((nz, 2), np.nan)
    angle = np.full(nz, np.nan)
    ins = np.full((nz, 2, 2), np.nan)
    for z in range(nz):
        epi = (lab[z] == LV) | (lab[z] == MYO)
        if not (lab[z] == MYO).any():
            continue
        centre[z] = ndimage.center_of_mass(epi)
        rv = lab[z] == RV
        if not rv.any():
            continue
        border = epi & ~ndimage.binary_erosion(epi)
        dist = ndimage.distance_transform_edt(~rv)
        d_border = dist[border]
        contact = border & (dist <= d_border.min() + contact_tol_px)
        yy, xx = np.nonzero(contact)
        ang = _display_angle(yy.astype(float), xx.astype(float), centre[z])
        start, end, mid = _contact_arc(ang)
        angle[z] = mid
        for j, a in enumerate((start, end)):
            k = int(np.argmin(np.abs(np.angle(np.exp(1j * (ang - a))))))
            ins[z, j] = (yy[k], xx[k])
    measured = np.isfinite(angle)
    if measured.any():
        mean = float(np.angle(np.exp(1j * angle[measured]).mean()))
        angle = np.where(measured | np.isnan(centre[:, 0]), angle, mean)
    return SeptumGeometry(centre=centre, septum_angle=angle, insertion_points=ins, measured=measured)


def segment_ids(
    y: ArrayLike,
    x: ArrayLike,
    centre: ArrayLike,
    septum_angle: float,
    level: int,
    *,
    counterclockwise: bool = True,
) -> NDArray[np.uint8]:
    """AHA segment (1-16) of points ``(y, x)`` [px] of one slice; 0 for ``level`` 0 or a NaN septum angle."""
    yy, xx = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    if level == LEVEL_NONE or not np.isfinite(septum_angle):
        return np.zeros(yy.shape, dtype=np.uint8)
    rel = _display_angle(yy, xx, np.asarray(centre, dtype=float)) - septum_angle
    if not counterclockwise:
        rel = -rel
    if level == LEVEL_APEX:
        sector = np.floor(np.mod(rel + np.deg2rad(135.0), 2 * np.pi) / (np.pi / 2)).astype(int) % 4
        return (13 + sector).astype(np.uint8)
    sector = np.floor(np.mod(rel + np.deg2rad(120.0), 2 * np.pi) / (np.pi / 3)).astype(int) % 6
    first = 1 if level == LEVEL_BASE else 7
    return (first + sector).astype(np.uint8)


def aha_segments(
    labels: ArrayLike,
    *,
    levels: ArrayLike | None = None,
    base_first: bool | None = None,
    counterclockwise: bool = True,
    contact_tol_px: float = 2.0,
) -> NDArray[np.uint8]:
    """AHA segment map (1-16 on MYO pixels, 0 elsewhere) of a ``(z, y, x)`` or ``(y, x)`` segmentation.

    Parameters
    ----------
    labels
        Labels in the cardiomm convention (LV = 1, MYO = 2, RV = 3).
    levels
        Optional per-slice level ``(z,)`` (0 none, 1 base, 2 mid, 3 apex), e.g. ``[2]`` for a single
        mid-ventricular mapping slice; default from :func:`slice_levels`.
    base_first, counterclockwise, contact_tol_px
        See the module docstring.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array with the shape of ``labels``.
    """
    arr = np.asarray(labels)
    lab = _as_stack(arr)
    lev = slice_levels(lab, base_first=base_first) if levels is None else np.asarray(levels, dtype=np.int8)
    if lev.shape != (lab.shape[0],):
        raise ShapeError(f"levels must have shape ({lab.shape[0]},), got {lev.shape}")
    geo = septum_geometry(lab, contact_tol_px=contact_tol_px)
    out = np.zeros(lab.shape, dtype=np.uint8)
    for z in range(lab.shape[0]):
        yy, xx = np.nonzero(lab[z] == MYO)
        if yy.size and np.isfinite(geo.centre[z, 0]):
            out[z, yy, xx] = segment_ids(
                yy, xx, geo.centre[z], geo.septum_angle[z], int(lev[z]), counterclockwise=counterclockwise
            )
    return out.reshape(arr.shape)
