"""Voxel spacing and frame time of a cine volume for the phenotypes, from the best source available.

Precedence, per quantity: the caller's value (command-line options), then the volume's own file (NIfTI
header, DICOM tags, simulate sidecar; see :mod:`cardiomm.analysis.volumes`), then the scan-parameter
``<name>_info.csv`` (given, or found next to the volume): slice spacing, pixel spacing and TR as frame time.

A DICOM stack whose slice positions are not evenly spaced (a slice missing from the folder, or slices of
two stacks) is refused unless the caller gives the spacing: Simpson's rule with the median gap would
silently leave the hole out of every volume and the mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cardiomm.analysis.volumes import AnalysisVolume
from cardiomm.errors import ConfigError, DataValueError, InputFileError
from cardiomm.io import find_scan_csv, read_scan_csv

__all__ = ["GAP_TOLERANCE", "CineGeometry", "scan_csv_geometry", "check_even_slices", "cine_geometry"]

#: A slice gap may differ from the median gap by this fraction of it (a missing slice doubles a gap).
GAP_TOLERANCE = 0.25


@dataclass(frozen=True)
class CineGeometry:
    """Geometry of a cine volume ``(t, z, y, x)``.

    Attributes
    ----------
    spacing_mm
        ``(dz, dy, dx)`` [mm], ``dz`` the centre-to-centre slice distance.
    frame_dt_s
        Time between frames [s], ``None`` when unknown (then no cardiac output / heart rate).
    """

    spacing_mm: tuple[float, float, float]
    frame_dt_s: float | None


def scan_csv_geometry(
    source: Path, info: Path | None = None
) -> tuple[tuple[float, float, float] | None, float | None]:
    """Spacing ``(dz, dy, dx)`` [mm] and frame time (TR) [s] of the scan-parameter CSV of ``source``.

    Parameters
    ----------
    source
        The volume; its ``<name>_info.csv`` is looked up next to it when ``info`` is not given.
    info
        An explicit ``_info.csv``; :class:`~cardiomm.errors.InputFileError` when it does not exist.

    Returns
    -------
    tuple
        ``(spacing_mm, frame_dt_s)``, each ``None`` without a CSV (and the frame time without a TR).
    """
    csv = info or find_scan_csv(source)
    if info is not None and not info.is_file():
        raise InputFileError("scan-parameter CSV not found", path=info)
    if csv is None:
        return None, None
    params = read_scan_csv(csv)
    spacing = (params.slice_spacing_mm, params.pixel_spacing_y_mm, params.pixel_spacing_x_mm)
    return spacing, params.tr_s or None


def cine_geometry(
    volume: AnalysisVolume,
    csv_geometry: tuple[tuple[float, float, float] | None, float | None] = (None, None),
    *,
    spacing_mm: tuple[float, float, float] | None = None,
    frame_dt_s: float | None = None,
) -> CineGeometry:
    """Combine the geometry sources: ``spacing_mm`` / ``frame_dt_s`` (when not ``None``), else the
    volume's file, else ``csv_geometry`` (from :func:`scan_csv_geometry`).

    Raises :class:`~cardiomm.errors.ConfigError` when no source gives the voxel spacing, and
    :class:`~cardiomm.errors.DataValueError` for unevenly spaced DICOM slices without ``spacing_mm``
    (:func:`check_even_slices`).
    """
    if spacing_mm is None and volume.slice_positions_mm is not None:
        check_even_slices(volume.slice_positions_mm, volume.source)
    csv_spacing, csv_frame_dt = csv_geometry
    spacing = spacing_mm or volume.spacing_mm or csv_spacing
    if spacing is None:
        raise ConfigError("voxel spacing unknown: give --spacing dz,dy,dx or an _info.csv")
    if frame_dt_s is None:
        frame_dt_s = volume.frame_dt_s if volume.frame_dt_s is not None else csv_frame_dt
    return CineGeometry(spacing, frame_dt_s)


def check_even_slices(positions_mm: np.ndarray, source: Path | None = None) -> None:
    """Raise :class:`~cardiomm.errors.DataValueError` when the gaps between the ``(z,)`` slice positions
    [mm] differ from their median by more than :data:`GAP_TOLERANCE` of it (three or more slices)."""
    gaps = np.abs(np.diff(np.asarray(positions_mm, dtype=np.float64)))
    if gaps.size < 2:
        return
    med = float(np.median(gaps))
    bad = np.flatnonzero(np.abs(gaps - med) > GAP_TOLERANCE * med)
    if bad.size:
        z = int(bad[0])
        raise DataValueError(
            f"slice positions are not evenly spaced: {gaps[z]:.2f} mm between slices {z} and {z + 1}, "
            f"{med:.2f} mm elsewhere (a slice missing, or two stacks in one folder); volumes need a "
            "complete stack (--spacing overrides the header geometry)",
            path=source,
        )
