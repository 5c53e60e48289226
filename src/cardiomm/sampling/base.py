"""Mask-function template, MATLAB-compatible rounding and centring, seeds, effective acceleration.

Axis order
----------
Every mask in this package is a ``bool`` numpy array in cardiomm's in-memory order ``(t, ky, kx)``
(the h5py order of MATLAB ``[nx, ny, nt]``), or ``(ky, kx)`` when the caller passes a 2-D shape.
``nx`` = readout = ``kx`` = last axis; ``ny`` = phase encode = ``ky`` = axis -2. 1-D Cartesian masks
vary along ``ky`` and are constant over ``kx``. :func:`mask_to_tensor` gives the broadcastable
``(b, 1, ky, kx)`` ``torch.bool`` form used by the physics operators.

Template (style rule 8)
-----------------------
``MaskFunc.__call__(shape, seed)`` -> :meth:`MaskFunc.sample_mask` -> (:meth:`MaskFunc.acs_mask`,
:meth:`MaskFunc.acceleration_mask`) -> union. Subclasses override :meth:`MaskFunc.acceleration_mask`
(the pattern, ACS not included); radial masks also override :meth:`MaskFunc.acs_mask` (a square instead
of a band of ky lines). The nominal acceleration ``R`` never counts the ACS.

Randomness (style rule 7)
-------------------------
Random generators take ``seed: int | numpy.random.Generator``; nothing touches numpy's or Python's
global random state. :func:`as_generator` turns an int into ``numpy.random.default_rng(seed)`` and
passes a Generator through (so one Generator can drive several draws).

Conventions (cardiomm_reference.md section 10 and 16)
-----------------------------------------------------
- MATLAB ``round`` is half away from zero; for the non-negative values used here that is
  :func:`round_half_up` (``floor(x + 0.5)``). Python's ``round`` (banker's) is never used.
- Centring of a block of ``n`` inside ``N``: test masks (MATLAB ``zpad``/``crop``) start at
  ``floor(N/2) - floor(n/2)``; training masks (fastMRI) start at ``(N - n + 1) // 2``. They agree for
  even ``N`` and differ by one for odd ``N`` with even ``n`` (:func:`centre_start`).
"""

from __future__ import annotations

import hashlib
import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

import numpy as np

from cardiomm.errors import ConfigError, MaskError, ShapeError
from cardiomm.types import TrainMaskType

if TYPE_CHECKING:
    import torch

__all__ = [
    "SeedLike",
    "Centring",
    "MaskFunc",
    "SquareAcsMaskFunc",
    "EffectiveAcceleration",
    "effective_acceleration",
    "as_generator",
    "seed_from_string",
    "round_half_up",
    "centre_start",
    "centre_slice",
    "mask_to_tensor",
    "DEFAULT_ACS",
]

#: An explicit source of randomness: an int seed or a numpy Generator (never a global RNG).
SeedLike: TypeAlias = int | np.random.Generator
#: Block-centring convention: ``"test"`` = MATLAB ``zpad`` (``floor(N/2) - floor(n/2)``),
#: ``"train"`` = fastMRI (``(N - n + 1) // 2``).
Centring: TypeAlias = Literal["test", "train"]

#: ACS size used everywhere in CardioMM (CMRxRecon2024 uses 16, CMRxRecon2023 24).
DEFAULT_ACS = 20


# ------------------------------------------------------------------------------------- small helpers
def round_half_up(x: float | np.ndarray) -> np.ndarray:
    """MATLAB ``round`` for non-negative values: ``floor(x + 0.5)``, as int64.

    Parameters
    ----------
    x
        Value(s) to round; scalars give a 0-d array (use ``int(...)``).

    Returns
    -------
    numpy.ndarray
        ``int64`` array of the same shape. ``round_half_up(2.5) == 3`` where Python's ``round`` gives 2.
    """
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def centre_start(big: int, small: int, centring: Centring = "test") -> int:
    """0-based start of a block of ``small`` samples centred in ``big``.

    Parameters
    ----------
    big, small
        Axis length and block length (``small <= big``).
    centring
        ``"test"``: MATLAB ``zpad``/``crop``, ``floor(big/2) - floor(small/2)``;
        ``"train"``: fastMRI, ``(big - small + 1) // 2``.
    """
    if centring == "test":
        return big // 2 - small // 2
    if centring == "train":
        return (big - small + 1) // 2
    raise ConfigError(f"unknown centring {centring!r}; choose 'test' or 'train'")


def centre_slice(big: int, small: int, centring: Centring = "test") -> slice:
    """The slice of a centred block (see :func:`centre_start`)."""
    start = centre_start(big, small, centring)
    return slice(start, start + small)


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return ``seed`` if it is a Generator, else ``numpy.random.default_rng(seed)``.

    Raises
    ------
    ConfigError
        ``seed`` is ``None``, negative, a bool or not an integer.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed))


def check_seed(seed: object, *, upper: int | None = None) -> int:
    """Validate an integer seed (``0 <= seed < upper``) and return it as ``int``."""
    if seed is None:
        raise ConfigError("an explicit seed (int or numpy Generator) is required; global RNGs are not used")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"seed must be a non-negative int or a numpy Generator, got {seed!r}")
    value = int(seed)
    if value < 0 or (upper is not None and value >= upper):
        bound = f" and < {upper}" if upper is not None else ""
        raise ConfigError(f"seed must be >= 0{bound}, got {value}")
    return value


def seed_from_string(text: str) -> int:
    """Deterministic 32-bit seed from a string (first 4 bytes of its SHA-256), e.g. a file id.

    Used for validation masks: the same file always gets the same mask, independent of process,
    platform and Python hash randomisation.
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def check_positive_int(value: object, what: str, *, error: type[Exception] = MaskError) -> int:
    """Return ``value`` as int if it is a positive integer (bools rejected), else raise ``error``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise error(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def normalise_shape(shape: tuple[int, ...] | list[int]) -> tuple[tuple[int, int, int], bool]:
    """Validate a mask shape; return ``((nt, ny, nx), was_2d)``.

    Parameters
    ----------
    shape
        ``(nt, ny, nx)`` (= ``(t, ky, kx)``) or ``(ny, nx)``.

    Raises
    ------
    ShapeError
        Not 2 or 3 positive integers.
    """
    dims = tuple(shape)
    if len(dims) not in (2, 3):
        raise ShapeError(f"mask shape must be (nt, ny, nx) or (ny, nx), got {dims}")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or int(d) < 1:
            raise ShapeError(f"mask shape must hold positive integers, got {dims}")
    if len(dims) == 2:
        return (1, int(dims[0]), int(dims[1])), True
    return (int(dims[0]), int(dims[1]), int(dims[2])), False


# ------------------------------------------------------------------------------- effective acceleration
@dataclass(frozen=True)
class EffectiveAcceleration:
    """Achieved acceleration of a mask: total samples / sampled samples (ACS included).

    Attributes
    ----------
    per_frame
        ``(t,)`` float64, one value per frame (``inf`` for an empty frame).
    overall
        Over the whole mask.
    sampled_fraction
        Sampled samples / total samples over the whole mask (``1 / overall``).
    """

    per_frame: np.ndarray
    overall: float
    sampled_fraction: float


def effective_acceleration(mask: np.ndarray | torch.Tensor) -> EffectiveAcceleration:
    """Effective acceleration of a ``(t, ky, kx)`` or ``(ky, kx)`` mask, per frame and overall.

    Parameters
    ----------
    mask
        Boolean (or 0/1) mask, numpy or torch; any leading axes are treated as frames.

    Returns
    -------
    EffectiveAcceleration
        ``total / sampled`` per frame and overall; empty frames give ``inf``.
    """
    arr = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
    if arr.ndim < 2:
        raise ShapeError(f"mask must be at least 2-D (ky, kx), got shape {arr.shape}")
    frames = arr.reshape(-1, arr.shape[-2] * arr.shape[-1]) != 0
    sampled = frames.sum(axis=1).astype(np.float64)
    total = float(frames.shape[1])
    with np.errstate(divide="ignore"):
        per_frame = np.where(sampled > 0, total / np.maximum(sampled, 1.0), np.inf)
    n_sampled = float(sampled.sum())
    overall = frames.size / n_sampled if n_sampled > 0 else math.inf
    return EffectiveAcceleration(
        per_frame=per_frame, overall=float(overall), sampled_fraction=n_sampled / frames.size
    )


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """Convert a ``(t, ky, kx)`` or ``(ky, kx)`` mask to the broadcastable ``(b, 1, ky, kx)`` torch.bool form.

    ``b = t`` (one mask per frame); tile over slices t-major (``index = t * nz + z``) with
    ``repeat_interleave(nz, dim=0)`` when the batch holds several slices per frame.
    """
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    arr = np.asarray(mask) != 0
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ShapeError(f"mask must be (t, ky, kx) or (ky, kx), got shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr))[:, None]


# --------------------------------------------------------------------------------------- the template
class MaskFunc(ABC):
    """Template for every mask generator: ``__call__`` -> ``sample_mask`` -> ACS mask | pattern mask.

    Parameters
    ----------
    accel
        Nominal acceleration ``R`` (positive integer); the ACS is not counted in ``R``.
    acs
        ACS size: ``acs`` central ky lines (Cartesian) or an ``acs x acs`` central square (radial).
        ``0`` disables the ACS.

    Notes
    -----
    Override point: :meth:`acceleration_mask` (the pattern without ACS), and :meth:`acs_mask` where the
    ACS region is not a band of ky lines. Masks are ``bool`` ``(t, ky, kx)``; a 2-D ``shape`` gives
    ``(ky, kx)``.
    """

    #: Pattern name (file-name token for test patterns, TrainMaskType value for training ones).
    pattern: ClassVar[str] = ""
    #: Mask family used in the undersampling prompt.
    mask_type: ClassVar[TrainMaskType]
    #: Centring convention of the ACS block.
    centring: ClassVar[Centring] = "test"
    #: Whether the mask depends on ``seed`` (``seed=None`` is then an error).
    needs_seed: ClassVar[bool] = False

    def __init__(self, accel: int, *, acs: int = DEFAULT_ACS) -> None:
        self.accel = check_positive_int(accel, "acceleration R")
        if isinstance(acs, bool) or not isinstance(acs, numbers.Integral) or int(acs) < 0:
            raise MaskError(f"ACS size must be a non-negative integer, got {acs!r}")
        self.acs: int = int(acs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(accel={self.accel}, acs={self.acs})"

    # -- template ---------------------------------------------------------------------------------
    def __call__(self, shape: tuple[int, ...], seed: SeedLike | None = None) -> np.ndarray:
        """Draw a mask.

        Parameters
        ----------
        shape
            ``(nt, ny, nx)`` = ``(t, ky, kx)``, or ``(ny, nx)`` for a single 2-D mask.
        seed
            int or numpy Generator; required by random patterns, ignored by deterministic ones.

        Returns
        -------
        numpy.ndarray
            ``bool`` mask of shape ``shape``: ACS region | pattern.
        """
        full_shape, was_2d = normalise_shape(shape)
        acs_mask, accel_mask = self.sample_mask(full_shape, seed)
        mask = acs_mask | accel_mask
        return mask[0] if was_2d else mask

    def sample_mask(
        self, shape: tuple[int, int, int], seed: SeedLike | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(acs_mask, acceleration_mask)``, both ``bool`` ``(t, ky, kx)``.

        Validates the shape against the ACS size and the seed, then calls the two parts.
        """
        self.check_shape(shape)
        if self.needs_seed and seed is None:
            raise ConfigError(
                f"the {self.pattern or type(self).__name__} mask is random: pass an explicit seed "
                "(int or numpy Generator)"
            )
        if seed is not None and not isinstance(seed, np.random.Generator):
            check_seed(seed)
        return self.acs_mask(shape), self.acceleration_mask(shape, seed)

    def check_shape(self, shape: tuple[int, int, int]) -> None:
        """Raise :class:`MaskError` if the ACS does not fit the ky axis."""
        _, ny, _ = shape
        if self.acs > ny:
            raise MaskError(f"ACS size {self.acs} exceeds the phase-encode size ny={ny}")

    def acs_mask(self, shape: tuple[int, int, int]) -> np.ndarray:
        """ACS region: the central ``acs`` ky lines over all kx and frames, ``bool`` ``(t, ky, kx)``."""
        nt, ny, nx = shape
        mask = np.zeros(shape, dtype=bool)
        mask[:, centre_slice(ny, self.acs, self.centring), :] = True
        return mask

    @abstractmethod
    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """The pattern without ACS, ``bool`` ``(t, ky, kx)``. Override point."""

    # -- reporting --------------------------------------------------------------------------------
    @staticmethod
    def effective_acceleration(mask: np.ndarray) -> EffectiveAcceleration:
        """Achieved acceleration of ``mask`` (see :func:`effective_acceleration`)."""
        return effective_acceleration(mask)


class SquareAcsMaskFunc(MaskFunc):
    """A :class:`MaskFunc` whose ACS region is a central ``acs x acs`` square (2-D patterns: Poisson
    disc, radial) instead of a band of ky lines."""

    def check_shape(self, shape: tuple[int, int, int]) -> None:
        """Raise :class:`MaskError` if the ACS square does not fit both axes."""
        _, ny, nx = shape
        if self.acs > min(nx, ny):
            raise MaskError(f"ACS square {self.acs} x {self.acs} does not fit ny={ny}, nx={nx}")

    def acs_mask(self, shape: tuple[int, int, int]) -> np.ndarray:
        """Central ``acs x acs`` square in every frame, ``bool`` ``(t, ky, kx)``."""
        _, ny, nx = shape
        mask = np.zeros(shape, dtype=bool)
        mask[:, centre_slice(ny, self.acs, self.centring), centre_slice(nx, self.acs, self.centring)] = True
        return mask


def lines_to_mask(lines: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Expand a ``(t, ky)`` bool line pattern to a ``(t, ky, kx)`` mask (full readout)."""
    nt, ny, nx = shape
    return np.broadcast_to(lines[:, :, None], (nt, ny, nx)).copy()
