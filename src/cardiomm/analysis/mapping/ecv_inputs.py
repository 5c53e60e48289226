"""Inputs of the ECV computation: a T1 map with its segmentation from files, and the unit of the maps.

Scanner maps are usually in ms, ``cardiomm analyse mapping`` writes seconds; :func:`t1_seconds_scale`
tells them apart from the myocardial T1 (about 1 s native, never above 20 s) unless the unit is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardiomm.analysis.labels import MYO
from cardiomm.analysis.volumes import load_volume, read_label_frame
from cardiomm.errors import ShapeError

__all__ = ["AUTO_MS_THRESHOLD", "T1_UNITS", "read_t1_map", "t1_seconds_scale"]

#: Units of :func:`t1_seconds_scale`.
T1_UNITS = ("auto", "s", "ms")
#: With ``unit="auto"``, maps whose median myocardial T1 exceeds this value are read as ms.
AUTO_MS_THRESHOLD = 20.0


def read_t1_map(
    path: Path, labels_path: Path, key: str | None = None
) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """Read one T1 map ``(z, y, x)`` and its segmentation (first frame of ``labels_path``).

    Parameters
    ----------
    path
        The map: ``.npy`` (``cardiomm analyse mapping`` output), ``.nii``, ``.mat`` or a DICOM folder.
    labels_path
        Segmentation of the map, same ``(z, y, x)``.
    key
        Variable name in a ``.mat`` map.

    Returns
    -------
    tuple
        The map as float64 and the labels as uint8.

    Raises
    ------
    ShapeError
        More than one image per slice, or labels of another shape.
    """
    arr = load_volume(path, key).data
    if arr.shape[0] != 1:
        raise ShapeError(f"expected one T1 map (z, y, x), got {arr.shape[0]} images", path=path)
    lab = read_label_frame(labels_path)
    if lab.shape != arr.shape[1:]:
        raise ShapeError(f"labels {lab.shape} do not match the map {arr.shape[1:]}", path=labels_path)
    return np.asarray(arr[0], dtype=np.float64), lab


def t1_seconds_scale(t1_map: NDArray[np.float64], labels: NDArray[np.uint8], unit: str = "auto") -> float:
    """Factor that brings a T1 map to seconds.

    Parameters
    ----------
    t1_map
        ``(z, y, x)`` T1 map.
    labels
        Its segmentation (the myocardium decides ``"auto"``).
    unit
        ``"s"``, ``"ms"`` or ``"auto"`` (ms when the median finite myocardial T1 exceeds
        :data:`AUTO_MS_THRESHOLD`).

    Returns
    -------
    float
        ``1e-3`` for maps in ms, else ``1.0``.
    """
    myo_values = t1_map[(labels == MYO) & np.isfinite(t1_map)]
    auto_ms = myo_values.size > 0 and float(np.median(myo_values)) > AUTO_MS_THRESHOLD
    in_ms = unit == "ms" or (unit == "auto" and auto_ms)
    return 1e-3 if in_ms else 1.0
