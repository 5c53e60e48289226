"""Segmentation label convention of cardiomm and converters from other conventions.

cardiomm convention (the one of the UK Biobank nnU-Net models used by CardioMM,
``Dataset100_UKBB_Petersen_SAX``; the table is :class:`cardiomm.types.CardiacLabel`, the constants here
are its values as plain ``int``)::

    0 background, 1 LV blood pool, 2 LV myocardium (MYO), 3 RV blood pool

Label volumes are ``uint8`` arrays ``(t, z, y, x)`` (cine) or ``(z, y, x)`` / ``(y, x)``.
ACDC (and the ``myopari`` model trained on it) uses RV = 1, MYO = 2, LV = 3: convert with
:func:`acdc_to_cardiomm`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.errors import DataValueError
from cardiomm.types import CardiacLabel

__all__ = [
    "BACKGROUND",
    "LV",
    "MYO",
    "RV",
    "LABEL_NAMES",
    "ACDC_TO_CARDIOMM",
    "remap_labels",
    "acdc_to_cardiomm",
    "cardiomm_to_acdc",
]

BACKGROUND = int(CardiacLabel.BACKGROUND)
#: LV blood pool (cavity).
LV = int(CardiacLabel.LV)
#: LV myocardium.
MYO = int(CardiacLabel.MYO)
#: RV blood pool.
RV = int(CardiacLabel.RV)
LABEL_NAMES: dict[int, str] = {int(lab): lab.short_name for lab in CardiacLabel if lab <= CardiacLabel.RV}

#: ACDC label -> cardiomm label (ACDC: 1 RV, 2 MYO, 3 LV).
ACDC_TO_CARDIOMM: dict[int, int] = {0: BACKGROUND, 1: RV, 2: MYO, 3: LV}


def remap_labels(labels: ArrayLike, mapping: Mapping[int, int], *, strict: bool = True) -> NDArray[np.uint8]:
    """Map integer labels through ``mapping`` with a lookup table.

    Parameters
    ----------
    labels
        Integer label array of any shape.
    mapping
        Source label -> target label.
    strict
        If True, a label value absent from ``mapping`` raises :class:`~cardiomm.errors.DataValueError`;
        otherwise it becomes background (0).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the same shape.
    """
    arr = np.asarray(labels)
    if arr.size == 0:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise DataValueError("label array holds non-integer values")
        arr = arr.astype(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        raise DataValueError(f"label array holds negative values (min {lo})")
    size = max(hi, max(mapping, default=0)) + 1
    lut = np.zeros(size, dtype=np.uint8)
    known = np.zeros(size, dtype=bool)
    for src, dst in mapping.items():
        lut[src] = dst
        known[src] = True
    if strict:
        present = np.unique(arr)
        unknown = [int(v) for v in present if not known[v]]
        if unknown:
            raise DataValueError(f"label values {unknown} have no mapping (known: {sorted(mapping)})")
    return lut[arr]


def acdc_to_cardiomm(labels: ArrayLike) -> NDArray[np.uint8]:
    """Convert ACDC labels (RV = 1, MYO = 2, LV = 3) to cardiomm labels (LV = 1, MYO = 2, RV = 3)."""
    return remap_labels(labels, ACDC_TO_CARDIOMM)


def cardiomm_to_acdc(labels: ArrayLike) -> NDArray[np.uint8]:
    """Convert cardiomm labels (LV = 1, MYO = 2, RV = 3) to ACDC labels (RV = 1, MYO = 2, LV = 3)."""
    return remap_labels(labels, {v: k for k, v in ACDC_TO_CARDIOMM.items()})
