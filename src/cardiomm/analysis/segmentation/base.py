"""The :class:`Segmenter` interface, the segmenter registry and the Dice overlap."""

from __future__ import annotations

import abc
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.errors import DataValueError, ShapeError, UnknownChoiceError

__all__ = [
    "DEFAULT_SEGMENTER",
    "Segmenter",
    "as_tzyx",
    "register_segmenter",
    "get_segmenter",
    "available_segmenters",
    "dice",
]

#: Name of the default segmenter of :func:`get_segmenter`: ``acdcunet``, trained on the real ACDC labels and
#: shipped with the package (no extra install); ACDC test-split and Sunnybrook Dice in docs/segmentation.md,
#: checked by tests/analysis/test_acdcunet.py.
DEFAULT_SEGMENTER = "acdcunet"


class Segmenter(abc.ABC):
    """Short-axis cine segmenter: magnitude images in, cardiomm labels (LV = 1, MYO = 2, RV = 3) out.

    Subclasses implement :meth:`segment`; register them with :func:`register_segmenter` so that
    ``get_segmenter(name)`` (and ``cardiomm analyse phenotypes --segmenter NAME``) can build them.
    """

    #: Registry name.
    name: str = "segmenter"

    @abc.abstractmethod
    def segment(self, images: ArrayLike, spacing_mm: tuple[float, float, float]) -> NDArray[np.uint8]:
        """Segment a cine stack.

        Parameters
        ----------
        images
            Magnitude images ``(t, z, y, x)`` (``(z, y, x)`` and ``(y, x)`` are accepted as one frame /
            one slice), any positive scale.
        spacing_mm
            Voxel spacing ``(dz, dy, dx)`` [mm].

        Returns
        -------
        numpy.ndarray
            ``uint8`` labels with the shape of ``images`` (0 background, 1 LV, 2 MYO, 3 RV).
        """


def as_tzyx(images: ArrayLike) -> tuple[NDArray[np.float32], tuple[int, ...]]:
    """Return ``images`` as float32 ``(t, z, y, x)`` plus the original shape (to restore it)."""
    arr = np.asarray(images)
    if np.iscomplexobj(arr):
        arr = np.abs(arr)
    shape = arr.shape
    if arr.ndim < 2 or arr.ndim > 4:
        raise ShapeError(f"expected images (t, z, y, x), (z, y, x) or (y, x), got shape {shape}")
    if arr.size == 0:
        raise ShapeError(f"no images to segment (shape {shape})")
    arr = arr.reshape((1,) * (4 - arr.ndim) + shape).astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise DataValueError("images contain NaN or Inf")
    return arr, shape


_REGISTRY: dict[str, Callable[..., Segmenter]] = {}


def register_segmenter(name: str, factory: Callable[..., Segmenter], *, overwrite: bool = False) -> None:
    """Register a segmenter factory under ``name`` (e.g. the simulate-trained U-Net, when it exists)."""
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"segmenter {name!r} is already registered")
    _REGISTRY[name] = factory


def available_segmenters() -> tuple[str, ...]:
    """Names accepted by :func:`get_segmenter`."""
    return tuple(sorted(_REGISTRY))


def get_segmenter(name: str = DEFAULT_SEGMENTER, **kwargs: object) -> Segmenter:
    """Build the segmenter registered as ``name`` with keyword arguments ``kwargs``.

    Raises :class:`~cardiomm.errors.UnknownChoiceError` for an unknown name and
    :class:`~cardiomm.errors.ModelNotFoundError` when the backend or its weights are missing.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        choices = ", ".join(available_segmenters())
        raise UnknownChoiceError(f"unknown segmenter {name!r}; choose one of {choices}") from None
    return factory(**kwargs)


def dice(a: ArrayLike, b: ArrayLike) -> float:
    """Dice overlap ``2 |A & B| / (|A| + |B|)`` of two boolean masks (NaN when both are empty)."""
    x, y = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if x.shape != y.shape:
        raise ShapeError(f"mask shapes differ: {x.shape} vs {y.shape}")
    denom = int(x.sum()) + int(y.sum())
    return 2.0 * int((x & y).sum()) / denom if denom else float("nan")
