"""Patient-coordinate geometry of DICOM images, and an image seen on another image's pixel grid.

DICOM places an image in the patient coordinate system (LPS, mm) by ``ImagePositionPatient`` (the
centre of the first pixel), ``ImageOrientationPatient`` (the unit directions in which the column index
and the row index grow) and ``PixelSpacing`` (the distance between rows, then between columns; DICOM
PS3.3 C.7.6.2). From these, :func:`regridded` samples an image at the pixel centres of another image's
grid (moved along that grid's normal to the image's own slice position), the operation a viewer does to
show two series side by side: slices of one stack re-planned between breath-holds with another matrix
or field of view are read on the stack's grid. :func:`turned` is the exact case of a grid that differs
only by a transpose or flips (no interpolation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import DataValueError
from cardiomm.io.checks import reading

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from cardiomm.io.dicom_frames import DicomFrame

__all__ = [
    "POSITION_TOLERANCE_MM",
    "position_runs",
    "image_centres",
    "all_centres",
    "GridView",
    "vector",
    "image_grid",
    "unit_normal",
    "slice_normal",
    "slice_centre",
    "planes_deg",
    "orientations",
    "tilt_deg",
    "turned",
    "regridded",
]


#: Images whose positions along the slice normal differ by at most this much [mm] belong to one slice
#: (scanners and archives write positions with rounding noise; slices of a stack are millimetres apart).
POSITION_TOLERANCE_MM = 0.1

_T = TypeVar("_T")


def position_runs(items: Iterable[_T], position: Callable[[_T], float]) -> list[list[_T]]:
    """``items`` sorted by ``position`` [mm] and split into slices: a new slice wherever the next position
    is more than :data:`POSITION_TOLERANCE_MM` beyond the previous one (positions carry rounding noise)."""
    runs: list[list[_T]] = []
    for item in sorted(items, key=position):
        if runs and position(item) - position(runs[-1][-1]) <= POSITION_TOLERANCE_MM:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def vector(ds: object, name: str, n: int, path: Path) -> NDArray[np.float64] | None:
    """Attribute ``name`` as ``n`` finite floats, ``None`` when absent."""
    value = getattr(ds, name, None)
    if value is None:
        return None
    arr = np.asarray(value, dtype=float).ravel()
    if arr.size != n or not np.isfinite(arr).all():
        raise DataValueError(f"{name} must be {n} finite numbers, got {list(arr)}", path=path)
    return arr


def slice_normal(ds: object, path: Path) -> NDArray[np.float64] | None:
    """Unit slice normal from ``ImageOrientationPatient``; ``None`` when the image has none."""
    iop = vector(ds, "ImageOrientationPatient", 6, path)
    return None if iop is None else unit_normal(iop, path)


def unit_normal(iop: NDArray[np.float64], path: Path) -> NDArray[np.float64]:
    """The unit normal of the plane of ``ImageOrientationPatient`` ``iop`` (checked: two unit vectors)."""
    normal = np.cross(iop[:3], iop[3:])
    norm = float(np.linalg.norm(normal))
    if not 0.5 < norm < 1.5:
        raise DataValueError(f"ImageOrientationPatient {list(iop)} is not two unit vectors", path=path)
    return normal / norm


def slice_centre(ds: object, path: Path) -> NDArray[np.float64] | None:
    """Patient coordinates [mm] of the image centre: ``ImagePositionPatient`` (the centre of the first
    pixel) moved half the image along the row and column directions; the first pixel itself without
    orientation or pixel spacing; ``None`` without ``ImagePositionPatient``. Slices that are not exactly
    parallel are compared at their centres (the corner of a slice tilted by 3 degrees moves ~9 mm along
    the normal in a 350-mm field of view)."""
    ipp = vector(ds, "ImagePositionPatient", 3, path)
    iop = vector(ds, "ImageOrientationPatient", 6, path)
    spacing = vector(ds, "PixelSpacing", 2, path)
    if ipp is None or iop is None or spacing is None:
        return ipp
    rows, cols = int(getattr(ds, "Rows", 1) or 1), int(getattr(ds, "Columns", 1) or 1)
    return ipp + iop[:3] * spacing[1] * (cols - 1) / 2 + iop[3:] * spacing[0] * (rows - 1) / 2


def image_centres(items: list[tuple[Path, Any]]) -> list[NDArray[np.float64] | None]:
    """Each image's centre [mm] (:func:`slice_centre`), ``None`` for an image without
    ``ImagePositionPatient``. Each distinct geometry is parsed once (the frames of a slice share it)."""
    seen: dict[tuple[str, ...], NDArray[np.float64] | None] = {}
    centres = []
    for f, ds in items:
        key = tuple(
            str(getattr(ds, name, None))
            for name in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns")
        )
        if key not in seen:
            with reading(f, "DICOM file"):
                seen[key] = slice_centre(ds, f)
        centres.append(seen[key])
    return centres


def all_centres(items: list[tuple[Path, Any]]) -> list[NDArray[np.float64]] | None:
    """:func:`image_centres` when every image has one, else ``None``."""
    centres = image_centres(items)
    return None if any(c is None for c in centres) else [c for c in centres if c is not None]


def planes_deg(n: NDArray[np.float64] | None, n0: NDArray[np.float64] | None) -> float:
    """Angle [degrees] between two slice normals (90 when one is missing)."""
    if n is None or n0 is None:
        return 90.0
    return float(np.degrees(np.arccos(min(1.0, abs(float(np.dot(n, n0)))))))


def orientations(
    datasets: list[tuple[Path, Any]],
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]] | None]:
    """(``ImageOrientationPatient``, unit normal) of every image, ``None`` without orientation; each
    distinct header value is parsed and checked once (the images of a series share one or a few)."""
    seen: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]] | None] = {}
    out = []
    for f, ds in datasets:
        raw = str(getattr(ds, "ImageOrientationPatient", None))
        if raw not in seen:
            with reading(f, "DICOM file"):
                iop = vector(ds, "ImageOrientationPatient", 6, f)
                seen[raw] = None if iop is None else (iop, unit_normal(iop, f))
        out.append(seen[raw])
    return out


def tilt_deg(datasets: list[tuple[Path, Any]]) -> float:
    """Largest angle [degrees] between the first image's slice plane and any other's (0 without
    orientation)."""
    normals = [o[1] for o in orientations(datasets) if o is not None]
    if len(normals) < 2:
        return 0.0
    cosines = np.abs(np.asarray(normals) @ normals[0])
    return float(np.degrees(np.arccos(min(1.0, float(cosines.min())))))


class GridView:
    """An image seen on another pixel grid: ``pixels`` maps the image's stored pixel array to the view's,
    and the geometry attributes in ``geometry`` (``Rows``, ``Columns``, ``PixelSpacing``,
    ``ImageOrientationPatient``, ``ImagePositionPatient``) are the view's; every other attribute
    (rescale, timing, series) is the image's own. The pixels are computed each time they are read."""

    def __init__(
        self,
        ds: Dataset | DicomFrame | GridView,
        pixels: Callable[[NDArray[Any]], NDArray[Any]],
        geometry: dict[str, object],
    ) -> None:
        self._ds, self._pixels, self._geometry = ds, pixels, geometry

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "pixel_array":
            return self._pixels(np.asarray(self._ds.pixel_array))
        if name in self._geometry:
            return self._geometry[name]
        return getattr(self._ds, name)


def image_grid(
    f: Path, ds: object
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None:
    """(``ImageOrientationPatient``, ``ImagePositionPatient``, ``PixelSpacing``) of an image, ``None`` when
    one is missing."""
    with reading(f, "DICOM file"):
        iop, ipp = vector(ds, "ImageOrientationPatient", 6, f), vector(ds, "ImagePositionPatient", 3, f)
        spacing = vector(ds, "PixelSpacing", 2, f)
    return None if iop is None or ipp is None or spacing is None else (iop, ipp, spacing)


_Grid = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[int, int]]


def _grids(f: Path, ds: Any, target: Any) -> tuple[_Grid, _Grid] | None:
    """(:func:`image_grid` + (rows, columns)) of ``ds`` and of ``target``; ``None`` when one lacks
    geometry."""
    own, goal = image_grid(f, ds), image_grid(f, target)
    if own is None or goal is None:
        return None
    with reading(f, "DICOM file"):
        size, t_size = (int(ds.Rows), int(ds.Columns)), (int(target.Rows), int(target.Columns))
    return (*own, size), (*goal, t_size)


def turned(f: Path, ds: Any, target: Any) -> GridView | None:
    """``ds`` seen along the in-plane axes of ``target`` (a transpose and / or flips, pixel for pixel), or
    ``None`` when it needs none, lacks geometry, or its matrix and pixel spacing then differ from
    ``target``'s."""
    grids = _grids(f, ds, target)
    if grids is None:
        return None
    (iop, ipp, spacing, size), (t_iop, _, t_spacing, t_size) = grids
    t_row, t_col = t_iop[:3], t_iop[3:]  # along a row (column index grows), along a column (row index grows)
    transpose = abs(float(np.dot(t_row, iop[3:]))) > abs(float(np.dot(t_row, iop[:3])))
    down, across = (iop[:3], iop[3:]) if transpose else (iop[3:], iop[:3])  # as row / column index grow
    row_sp, col_sp = (spacing[1], spacing[0]) if transpose else (spacing[0], spacing[1])
    n_rows, n_cols = (size[1], size[0]) if transpose else size
    flips = (float(np.dot(down, t_col)) < 0, float(np.dot(across, t_row)) < 0)
    origin = ipp + (n_rows - 1) * row_sp * down * flips[0] + (n_cols - 1) * col_sp * across * flips[1]
    down, across = -down if flips[0] else down, -across if flips[1] else across
    if not (transpose or any(flips)):
        return None
    if (n_rows, n_cols) != t_size or not np.allclose((row_sp, col_sp), t_spacing, rtol=1e-3):
        return None

    def pixels(arr: NDArray[Any]) -> NDArray[Any]:
        arr = arr.T if transpose else arr
        arr = arr[::-1] if flips[0] else arr
        return np.ascontiguousarray(arr[:, ::-1] if flips[1] else arr)

    geometry: dict[str, object] = {
        "Rows": n_rows,
        "Columns": n_cols,
        "PixelSpacing": [float(row_sp), float(col_sp)],
        "ImageOrientationPatient": [*map(float, across), *map(float, down)],
        "ImagePositionPatient": [*map(float, origin)],
    }
    return GridView(ds, pixels, geometry)


def regridded(f: Path, ds: Any, target: Any) -> tuple[GridView, float] | None:
    """``ds`` sampled at the pixel centres of ``target``'s grid moved along its normal to ``ds``'s centre
    (linear interpolation, Gaussian anti-aliasing first where the grid is coarser, as
    :func:`skimage.transform.resize` does; exactly 0 outside ``ds``'s field of view: beyond its
    first and last pixel centres), with ``target``'s matrix,
    pixel spacing and orientation; and the fraction of that grid that ``ds`` covers. ``None`` when either
    image lacks geometry. Each pixel centre is projected on ``ds``'s plane (planes a few degrees apart)."""
    grids = _grids(f, ds, target)
    if grids is None:
        return None
    (iop, ipp, spacing, size), (t_iop, t_ipp, t_spacing, t_size) = grids
    with reading(f, "DICOM file"):
        centre, t_centre = slice_centre(ds, f), slice_centre(target, f)
    if min(*spacing, *t_spacing) <= 0 or min(*size, *t_size) < 1:
        raise DataValueError(
            f"PixelSpacing {[float(v) for v in spacing]} and matrix {size} must be positive to resample the "
            "image onto the stack's grid",
            path=f,
        )
    assert centre is not None and t_centre is not None  # the grid is complete
    normal = unit_normal(t_iop, f)
    origin = t_ipp + float(np.dot(centre - t_centre, normal)) * normal
    down, across, t_down, t_across = iop[3:], iop[:3], t_iop[3:], t_iop[:3]
    # source (row, column) = matrix @ target (row, column) + offset
    steps_mm = np.array([t_spacing[0] * t_down, t_spacing[1] * t_across])  # mm per target row / column step
    matrix = np.array([steps_mm @ down / spacing[0], steps_mm @ across / spacing[1]])
    offset = np.array([np.dot(origin - ipp, down) / spacing[0], np.dot(origin - ipp, across) / spacing[1]])

    def source_index(rows: NDArray[Any], cols: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        """Source (row, column) of target pixels, and whether each lies among the source's pixel centres
        (between its first and last row and column: interpolated, never extrapolated)."""
        src = np.tensordot(matrix, np.stack([rows, cols]), axes=1) + offset[:, None, None]
        eps = 1e-6  # a target pixel centre on the source's edge (equal grids) is inside
        inside = (
            (src[0] >= -eps)
            & (src[0] <= size[0] - 1 + eps)
            & (src[1] >= -eps)
            & (src[1] <= size[1] - 1 + eps)
        )
        return src, inside

    probe = [np.linspace(0, n - 1, min(n, 128)) for n in t_size]  # the coverage, on at most 128^2 points
    covered = float(source_index(*np.meshgrid(*probe, indexing="ij"))[1].mean())
    sigma = np.maximum(0.0, (np.linalg.norm(matrix, axis=1) - 1.0) / 2.0)  # source pixels per target pixel

    def pixels(arr: NDArray[Any]) -> NDArray[Any]:
        from scipy import ndimage  # noqa: PLC0415 - lazy: only resampled slices need scipy

        image = np.asarray(arr, dtype=np.float32)
        if (sigma > 0).any():
            image = ndimage.gaussian_filter(image, sigma=tuple(sigma), mode="nearest")
        src, inside = source_index(*np.meshgrid(np.arange(t_size[0]), np.arange(t_size[1]), indexing="ij"))
        # outside the field of view exactly 0, never a blend with it
        out = ndimage.map_coordinates(image, src, order=1, mode="nearest")
        return np.where(inside, out, 0.0).astype(np.float32)

    geometry: dict[str, object] = {
        "Rows": t_size[0],
        "Columns": t_size[1],
        "PixelSpacing": [float(v) for v in t_spacing],
        "ImageOrientationPatient": [float(v) for v in t_iop],
        "ImagePositionPatient": [float(v) for v in origin],
    }
    return GridView(ds, pixels, geometry), covered
