"""What the headers of DICOM images say, apart from geometry: numeric values (with junk read as absent),
inversion times, the R-R interval, rescaled pixel values, and the series they belong to (grouping,
listing for messages, selection by number, UID or description)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import InputFileError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from cardiomm.io.dicom_frames import DicomFrame
    from cardiomm.io.dicom_geometry import GridView

__all__ = [
    "Image",
    "header_float",
    "inversion_time_ms",
    "median_rr_ms",
    "rescaled_pixels",
    "series_number",
    "series_uid",
    "by_series",
    "series_listing",
    "select_series",
]

#: One image of a series: a classic single-frame object, a frame of an Enhanced multi-frame one, or
#: either seen on another grid.
Image: TypeAlias = "Dataset | DicomFrame | GridView"


#: A ``TI <ms>`` in ``ImageComments`` (Siemens MOLLI writes the inversion time there).
_TI_COMMENT = re.compile(r"\bTI\s*[:=]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def header_float(ds: object, name: str) -> float | None:
    """Header value ``name`` as a float; ``None`` when absent, empty or not a number."""
    value = getattr(ds, name, None)
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def inversion_time_ms(ds: object) -> float | None:
    """``InversionTime`` [ms], else a ``TI <number>`` in ``ImageComments`` (Siemens MOLLI)."""
    ti = header_float(ds, "InversionTime")
    if ti is not None:
        return ti
    match = _TI_COMMENT.search(str(getattr(ds, "ImageComments", "") or ""))
    return float(match.group(1)) if match else None


def rescaled_pixels(ds: Any) -> NDArray[np.float32]:
    """An image's pixel values with its ``RescaleSlope`` / ``RescaleIntercept`` applied (absent, junk or 0
    slope as 1, absent or junk intercept as 0); decoding errors propagate."""
    slope = header_float(ds, "RescaleSlope") or 1.0
    inter = header_float(ds, "RescaleIntercept") or 0.0
    return np.asarray(ds.pixel_array, dtype=np.float32) * np.float32(slope) + np.float32(inter)


def median_rr_ms(datasets: list[tuple[Path, Any]]) -> float | None:
    """Median ``NominalInterval`` [ms] of the images (the R-R interval varies from beat to beat);
    ``None`` when none has a finite positive one."""
    found = [header_float(ds, "NominalInterval") for _, ds in datasets]
    values = [v for v in found if v is not None and np.isfinite(v) and v > 0]
    return float(np.median(values)) if values else None


def series_number(ds: object) -> int | None:
    """``SeriesNumber`` as an integer; ``None`` when absent or not a number."""
    try:
        return int(str(getattr(ds, "SeriesNumber", "")).strip())
    except ValueError:
        return None


def series_uid(ds: object) -> str:
    """``SeriesInstanceUID`` as a string (empty when absent): the key that groups images into series."""
    return str(getattr(ds, "SeriesInstanceUID", ""))


def by_series(datasets: list[tuple[Path, Image]]) -> dict[str, list[tuple[Path, Image]]]:
    """The images grouped by ``SeriesInstanceUID``, in order of first appearance."""
    groups: dict[str, list[tuple[Path, Image]]] = {}
    for f, ds in datasets:
        groups.setdefault(series_uid(ds), []).append((f, ds))
    return groups


def series_listing(datasets: list[tuple[Path, Image]]) -> str:
    """``'localizer' (series 1, 3 images); 'sax' (12 series: 5-16, 20 images each)``: the series of a
    folder by number, those with one description and size counted once, for messages."""
    rows: list[tuple[int | None, str, int]] = []
    for uid, items in by_series(datasets).items():
        ds = items[0][1]
        rows.append((series_number(ds), str(getattr(ds, "SeriesDescription", "") or uid), len(items)))
    rows.sort(key=lambda r: (r[0] is None, r[0] or 0, r[1]))
    alike: dict[tuple[str, int], list[int | None]] = {}
    for number, text, n in rows:
        alike.setdefault((text, n), []).append(number)
    parts = []
    for (text, n), numbers in alike.items():
        known = [k for k in numbers if k is not None]
        if len(numbers) == 1:
            where = f"series {known[0]}, " if known else ""
            parts.append(f"'{text}' ({where}{n} images)")
            continue
        span = (
            f"{known[0]}-{known[-1]}"
            if len(known) == len(numbers) and known == list(range(known[0], known[-1] + 1))
            else ", ".join(map(str, known)) or "no numbers"
        )
        parts.append(f"'{text}' ({len(numbers)} series: {span}, {n} images each)")
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
