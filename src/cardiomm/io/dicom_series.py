"""Which images of a DICOM folder form the stack to read: series listing, selection, and the check
that several series are one stack (the rules are in :mod:`cardiomm.io.image_series`).

A folder may hold a whole study. Series that share orientation (within :data:`PARALLEL_DEG`), matrix
and pixel spacing are one stack (a short-axis cine exported one series per slice). Otherwise the
series the user names is read (:func:`select_series`), or, when exactly one group of such series forms a
cine-like stack (at least :data:`MIN_STACK_SLICES` slice positions, the same number of images, two or
more, at every position, one series per position), that one, with the choice logged
(:func:`pick_stack`); anything else is refused with the series listed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import DataValueError, InputFileError
from cardiomm.io.checks import reading

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from cardiomm.io.dicom_frames import DicomFrame

__all__ = [
    "PARALLEL_DEG",
    "POSITION_TOLERANCE_MM",
    "MIN_STACK_SLICES",
    "position_runs",
    "vector",
    "slice_normal",
    "series_listing",
    "select_series",
    "check_series",
    "pick_stack",
]

#: One image of a series: a classic single-frame object or a frame of an Enhanced multi-frame one.
Image: TypeAlias = "Dataset | DicomFrame"
log = logging.getLogger(__name__)

#: Images whose positions along the slice normal differ by at most this much [mm] belong to one slice
#: (scanners and archives write positions with rounding noise; slices of a stack are millimetres apart).
POSITION_TOLERANCE_MM = 0.1
#: Series whose slice normals differ by less than this angle [degrees] count as parallel.
PARALLEL_DEG = 1.0
#: A series group is picked from a study folder only if it has at least this many slice positions.
MIN_STACK_SLICES = 3


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
    if iop is None:
        return None
    normal = np.cross(iop[:3], iop[3:])
    norm = float(np.linalg.norm(normal))
    if not 0.5 < norm < 1.5:
        raise DataValueError(f"ImageOrientationPatient {list(iop)} is not two unit vectors", path=path)
    return normal / norm


def _by_series(datasets: list[tuple[Path, Image]]) -> dict[str, list[tuple[Path, Image]]]:
    """The images grouped by ``SeriesInstanceUID``, in order of first appearance."""
    groups: dict[str, list[tuple[Path, Image]]] = {}
    for f, ds in datasets:
        groups.setdefault(str(getattr(ds, "SeriesInstanceUID", "")), []).append((f, ds))
    return groups


def series_listing(datasets: list[tuple[Path, Image]]) -> str:
    """``'SAX cine' (series 5, 240 images); ...``: the series of a folder, for messages."""
    parts = []
    for uid, items in _by_series(datasets).items():
        ds = items[0][1]
        number = getattr(ds, "SeriesNumber", None)
        where = f"series {number}, " if number not in (None, "") else ""
        parts.append(f"'{getattr(ds, 'SeriesDescription', '') or uid}' ({where}{len(items)} images)")
    return "; ".join(parts)


def select_series(root: Path, datasets: list[tuple[Path, Image]], select: str) -> list[tuple[Path, Image]]:
    """The images of the series named by ``select``: its ``SeriesNumber``, its ``SeriesInstanceUID``, or
    a case-insensitive part of its ``SeriesDescription`` (several series may match: one per slice)."""
    want = select.strip().lower()

    def matches(ds: Image) -> bool:
        number = str(getattr(ds, "SeriesNumber", "") or "").strip()
        uid = str(getattr(ds, "SeriesInstanceUID", "") or "").lower()
        text = str(getattr(ds, "SeriesDescription", "") or "").lower()
        return bool(want) and (want in (number, uid) or want in text)

    kept = [(f, ds) for f, ds in datasets if matches(ds)]
    if not kept:
        raise InputFileError(
            f"no series matches {select!r}; the folder holds: {series_listing(datasets)}", path=root
        )
    return kept


_Key: TypeAlias = "tuple[NDArray[np.float64] | None, tuple[int, int], NDArray[np.float64] | None]"


def _series_key(f: Path, ds: Image) -> _Key:
    """Slice normal, matrix and pixel spacing of an image: what series of one stack share."""
    with reading(f, "DICOM file"):
        return slice_normal(ds, f), (int(ds.Rows), int(ds.Columns)), vector(ds, "PixelSpacing", 2, f)


def _compatible(a: _Key, b: _Key) -> bool:
    (n, size, sp), (n0, size0, sp0) = a, b
    return (
        n is not None
        and n0 is not None
        and abs(float(np.dot(n, n0))) >= float(np.cos(np.radians(PARALLEL_DEG)))
        and size == size0
        and sp is not None
        and sp0 is not None
        and bool(np.allclose(sp, sp0, rtol=1e-3))
    )


def check_series(root: Path, datasets: list[tuple[Path, Image]]) -> dict[Path, str]:
    """Series UID of every file, after checking that several series form one stack (module notes).

    Raises
    ------
    InputFileError
        Series that are not one stack, listed.
    """
    groups = _by_series(datasets)
    series_of = {f: uid for uid, items in groups.items() for f, _ in items}
    if len(groups) == 1:
        return series_of
    keys = [_series_key(*items[0]) for items in groups.values()]
    if not all(_compatible(k, keys[0]) for k in keys):
        raise InputFileError(
            f"mixed series: {len(groups)} series that are not one stack (different orientation, matrix "
            f"or pixel spacing): {series_listing(datasets)}; give one series, or select it by its "
            "number or description",
            path=root,
        )
    return series_of


def _is_cine_stack(items: list[tuple[Path, Image]]) -> bool:
    """At least :data:`MIN_STACK_SLICES` slice positions, each holding the same number (>= 2) of images
    of one series (positions along the first image's normal, within :data:`POSITION_TOLERANCE_MM`)."""
    normal = slice_normal(items[0][1], items[0][0])
    if normal is None:
        return False
    placed = []
    for f, ds in items:
        with reading(f, "DICOM file"):
            ipp = vector(ds, "ImagePositionPatient", 3, f)
        if ipp is None:
            return False
        placed.append((float(np.dot(ipp, normal)), str(getattr(ds, "SeriesInstanceUID", ""))))
    slices = position_runs(placed, lambda r: r[0])
    counts = {len(sl) for sl in slices}
    return (
        len(slices) >= MIN_STACK_SLICES
        and len(counts) == 1
        and min(counts) >= 2
        and all(len({uid for _, uid in sl}) == 1 for sl in slices)
    )


def pick_stack(root: Path, datasets: list[tuple[Path, Image]]) -> list[tuple[Path, Image]] | None:
    """The images of the only cine-like stack among several series (module notes), with the choice
    logged; ``None`` when there is no such stack or more than one."""
    groups = _by_series(datasets)
    keys = {uid: _series_key(*items[0]) for uid, items in groups.items()}
    stacks: list[list[str]] = []
    for uid in groups:
        home = next((st for st in stacks if _compatible(keys[uid], keys[st[0]])), None)
        if home is None:
            stacks.append([uid])
        else:
            home.append(uid)
    found = [st for st in stacks if _is_cine_stack([im for uid in st for im in groups[uid]])]
    if len(found) != 1:
        return None
    chosen = [im for uid in found[0] for im in groups[uid]]
    log.warning(
        "%s: %d series in the folder; reading the only multi-slice, multi-frame stack among them: %s",
        root,
        len(groups),
        series_listing(chosen),
    )
    return chosen
