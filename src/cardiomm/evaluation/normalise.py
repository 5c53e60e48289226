"""Per-frame intensity normalisation schemes of the evaluation protocol (reference section 11).

Each function takes one 2-D frame ``(y, x)`` (real or complex; the magnitude is used) and returns a
floating array of the input's precision, as the published evaluators do (float32 frames, as in
``single`` ``.mat`` files, stay float32 because ``np.percentile`` of float32 data is float32; integer
input becomes float64):

- ``percentile`` (CardioMM, CMRxRecon2025): ``|img| / P_99.5(|img|)``, no clipping; a frame whose
  percentile is 0 is returned unscaled (the evaluator's division-by-zero guard).
- ``maxval``: ``|img| / max(|img|)`` (unscaled when the max is 0).
- ``std`` (CMRxRecon2024): z-score ``(img - mean) / std``; a constant frame gives zeros.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from cardiomm.errors import UnknownChoiceError
from cardiomm.types import parse_choice

__all__ = [
    "NormScheme",
    "parse_scheme",
    "DEFAULT_PERCENTILE",
    "normalise_percentile",
    "normalise_maxval",
    "normalise_std",
    "normalise_frame",
]

#: Percentile of the CardioMM / CMRxRecon2025 protocol.
DEFAULT_PERCENTILE = 99.5


class NormScheme(StrEnum):
    """Normalisation scheme names (the published ``--normscheme`` values)."""

    PERCENTILE = "percentile"
    MAXVAL = "maxval"
    STD = "std"


def parse_scheme(scheme: NormScheme | str) -> NormScheme:
    """Return ``scheme`` as a :class:`NormScheme`; raise :class:`~cardiomm.errors.UnknownChoiceError`."""
    return parse_choice(NormScheme, scheme, "normalisation scheme", UnknownChoiceError)


def _as_float(frame: np.ndarray) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype.kind == "c":
        arr = np.abs(arr)
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)


def normalise_percentile(frame: np.ndarray, *, percentile: float = DEFAULT_PERCENTILE) -> np.ndarray:
    """Divide ``|frame|`` by its own ``percentile``-th percentile (no clipping).

    Parameters
    ----------
    frame
        ``(y, x)`` image.
    percentile
        Percentile in [0, 100] (99.5 in the protocol).

    Returns
    -------
    numpy.ndarray
        ``(y, x)`` float32/64 (input precision); unscaled ``|frame|`` when the percentile is 0.
    """
    data = np.abs(_as_float(frame))
    scale = np.percentile(data, percentile)
    return data if scale == 0 else data / scale


def normalise_maxval(frame: np.ndarray) -> np.ndarray:
    """Divide ``|frame|`` by its maximum (unscaled when the maximum is 0); ``(y, x)``."""
    data = np.abs(_as_float(frame))
    scale = data.max() if data.size else 0.0
    return data if scale == 0 else data / scale


def normalise_std(frame: np.ndarray) -> np.ndarray:
    """Z-score ``(frame - mean) / std`` (CMRxRecon2024); zeros for a constant frame; ``(y, x)``."""
    data = _as_float(frame)
    std = data.std()
    centred = data - data.mean()
    return centred * 0.0 if std == 0 else centred / std


def normalise_frame(
    frame: np.ndarray,
    *,
    scheme: NormScheme | str = NormScheme.PERCENTILE,
    percentile: float = DEFAULT_PERCENTILE,
) -> np.ndarray:
    """Apply the named normalisation ``scheme`` to one ``(y, x)`` frame (input precision)."""
    s = parse_scheme(scheme)
    if s is NormScheme.PERCENTILE:
        return normalise_percentile(frame, percentile=percentile)
    if s is NormScheme.MAXVAL:
        return normalise_maxval(frame)
    return normalise_std(frame)
