"""Ventricular volumes and mass from manual contour polygons (Simpson's disc summation).

Polygons are ``(k, 2)`` arrays of ``(x, y)`` pixel coordinates (column, row), the Sunnybrook Cardiac
Data convention. Volumes: ``sum(polygon area) x slice spacing``; LV mass:
``(sum(epicardial area) - sum(endocardial area at ED)) x slice spacing x 1.05 g/mL``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, ShapeError

__all__ = [
    "ContourVolumes",
    "polygon_area_mm2",
    "rasterise_polygon",
    "read_contour_file",
    "slice_spacing_from_positions",
    "volumes_from_contours",
]

MYOCARDIAL_DENSITY_G_PER_ML = 1.05


@dataclass(frozen=True)
class ContourVolumes:
    """LV volumes from contours: EDV, ESV [mL], EF [%], LV mass [g] and the slice counts used."""

    edv_ml: float
    esv_ml: float
    ef_pct: float
    lvm_g: float
    n_slices_ed: int
    n_slices_es: int
    n_slices_epi: int


def _points(points: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 3:
        raise ShapeError(f"a polygon must be (k >= 3, 2) (x, y) points, got shape {p.shape}")
    return p


def polygon_area_mm2(points: ArrayLike, spacing_yx_mm: tuple[float, float] = (1.0, 1.0)) -> float:
    """Area of a closed polygon (shoelace formula) [mm^2]; ``points`` ``(k, 2)`` as ``(x, y)`` pixels."""
    p = _points(points)
    x, y = p[:, 0], p[:, 1]
    area_px = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
    return area_px * float(spacing_yx_mm[0]) * float(spacing_yx_mm[1])


def rasterise_polygon(points: ArrayLike, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Boolean ``(y, x)`` mask of the pixels inside a polygon of ``(x, y)`` points (skimage.draw.polygon)."""
    from skimage.draw import polygon  # noqa: PLC0415 - lazy: importing this module loads no skimage

    p = _points(points)
    mask = np.zeros(shape, dtype=bool)
    rr, cc = polygon(p[:, 1], p[:, 0], shape)
    mask[rr, cc] = True
    return mask


def read_contour_file(path: str | os.PathLike[str]) -> NDArray[np.float64]:
    """Read a whitespace-separated ``x y`` per line contour file into ``(k, 2)``."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError("contour file not found", path=p)
    try:
        pts = np.loadtxt(p, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise FileFormatError(f"not an 'x y' per line contour file ({err})", path=p) from None
    if pts.shape[1] != 2 or pts.shape[0] < 3:
        raise FileFormatError(f"expected >= 3 lines of 'x y', got array of shape {pts.shape}", path=p)
    return pts


def slice_spacing_from_positions(positions: ArrayLike, orientation: ArrayLike) -> float:
    """Slice spacing [mm] from DICOM ImagePositionPatient ``(n, 3)`` and ImageOrientationPatient ``(6,)``.

    The positions are projected on the slice normal (row x column direction cosines); the spacing is
    the median difference of the distinct sorted projections.
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    ori = np.asarray(orientation, dtype=np.float64).reshape(6)
    normal = np.cross(ori[:3], ori[3:])
    proj = np.unique(np.round(pos @ normal, 4))
    if proj.size < 2:
        raise DataValueError("need at least two distinct slice positions to compute the slice spacing")
    return float(np.median(np.diff(proj)))


def volumes_from_contours(
    endo_ed: Sequence[ArrayLike],
    endo_es: Sequence[ArrayLike],
    epi_ed: Sequence[ArrayLike],
    pixel_spacing_mm: tuple[float, float],
    slice_spacing_mm: float,
) -> ContourVolumes:
    """EDV, ESV, EF and LV mass by Simpson's summation of contour areas.

    Parameters
    ----------
    endo_ed, endo_es
        Endocardial polygons (one per slice) at end-diastole / end-systole, ``(k, 2)`` ``(x, y)`` pixels.
    epi_ed
        Epicardial polygons at end-diastole.
    pixel_spacing_mm
        In-plane spacing ``(dy, dx)`` [mm].
    slice_spacing_mm
        Distance between slice centres [mm].
    """
    if slice_spacing_mm <= 0:
        raise DataValueError(f"slice spacing must be positive, got {slice_spacing_mm} mm")

    def total(polys: Sequence[ArrayLike]) -> float:
        return sum(polygon_area_mm2(p, pixel_spacing_mm) for p in polys) * slice_spacing_mm * 1e-3

    edv, esv, epi = total(endo_ed), total(endo_es), total(epi_ed)
    return ContourVolumes(
        edv_ml=edv,
        esv_ml=esv,
        ef_pct=(edv - esv) / edv * 100.0 if edv > 0 else float("nan"),
        lvm_g=(epi - edv) * MYOCARDIAL_DENSITY_G_PER_ML if epi_ed else float("nan"),
        n_slices_ed=len(endo_ed),
        n_slices_es=len(endo_es),
        n_slices_epi=len(epi_ed),
    )
