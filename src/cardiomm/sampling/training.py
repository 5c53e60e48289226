"""Training-mask sampler: a fresh (pattern, R, mask) per sample from one explicit Generator.

Reproduces ``FixedLowEquiSpaced_Random_RadialMaskFunc`` of the published trainer
(cardiomm_reference.md section 8.2) with explicit randomness: the published code draws R with the mask
function's ``RandomState`` but the pattern (and the radial start angle) with Python's global
``random``; here every draw comes from one ``numpy.random.Generator``, in the order
R -> pattern -> mask.

Axis order: the returned mask is ``bool`` ``(ky, kx)`` for a 2-D shape (one training frame) or
``(t, ky, kx)`` (the same draw repeated over frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cardiomm.errors import ConfigError, UnknownChoiceError
from cardiomm.sampling.base import DEFAULT_ACS, MaskFunc, SeedLike, as_generator, check_positive_int
from cardiomm.sampling.cartesian import TrainRandomMask, TrainUniformMask
from cardiomm.sampling.radial import TrainRadialMask
from cardiomm.types import TrainMaskType

__all__ = [
    "TrainingMask",
    "TrainingMaskSampler",
    "TRAIN_MASK_FUNCS",
    "TRAIN_ACCELERATIONS",
    "make_train_mask_func",
]

#: Accelerations drawn during CardioMM training.
TRAIN_ACCELERATIONS: tuple[int, ...] = (4, 8, 16, 24)

#: Training mask family -> generator class.
TRAIN_MASK_FUNCS: dict[TrainMaskType, type[MaskFunc]] = {
    TrainMaskType.UNIFORM: TrainUniformMask,
    TrainMaskType.RANDOM: TrainRandomMask,
    TrainMaskType.RADIAL: TrainRadialMask,
}


def _parse_train_type(pattern: str | TrainMaskType) -> TrainMaskType:
    try:
        return TrainMaskType(str(pattern))
    except ValueError:
        choices = ", ".join(m.value for m in TrainMaskType)
        raise UnknownChoiceError(f"unknown training mask type {pattern!r}; choose one of {choices}") from None


def make_train_mask_func(pattern: str | TrainMaskType, accel: int, *, acs: int = DEFAULT_ACS) -> MaskFunc:
    """Generator object of a training mask family (``uniform``, ``random`` or ``radial``) at any R."""
    return TRAIN_MASK_FUNCS[_parse_train_type(pattern)](accel, acs=acs)


@dataclass(frozen=True)
class TrainingMask:
    """One drawn training mask.

    Attributes
    ----------
    mask
        ``bool`` ``(ky, kx)`` or ``(t, ky, kx)``.
    pattern
        Mask family (enters the undersampling prompt).
    acceleration
        Nominal R (ACS not counted).
    acs
        ACS lines (uniform/random) or square side (radial).
    """

    mask: np.ndarray
    pattern: TrainMaskType
    acceleration: int
    acs: int


class TrainingMaskSampler:
    """Draw R, pattern and mask for each training sample from ONE explicit generator.

    Parameters
    ----------
    accelerations
        Candidate R values, drawn uniformly (default 4, 8, 16, 24).
    patterns
        Candidate families, drawn uniformly (default uniform, random, radial).
    acs
        ACS size (20 in CardioMM).
    seed
        int or numpy Generator; the sampler keeps one Generator and advances it on every call.

    Examples
    --------
    >>> sampler = TrainingMaskSampler(seed=42)
    >>> draw = sampler((246, 512))
    >>> draw.mask.shape, draw.mask.dtype
    ((246, 512), dtype('bool'))
    """

    def __init__(
        self,
        accelerations: Sequence[int] = TRAIN_ACCELERATIONS,
        patterns: Sequence[str | TrainMaskType] = tuple(TrainMaskType),
        *,
        acs: int = DEFAULT_ACS,
        seed: SeedLike,
    ) -> None:
        if len(accelerations) == 0 or len(patterns) == 0:
            raise ConfigError("TrainingMaskSampler needs at least one acceleration and one pattern")
        self.accelerations = tuple(check_positive_int(r, "acceleration R") for r in accelerations)
        self.patterns = tuple(_parse_train_type(p) for p in patterns)
        self.acs = acs
        self._funcs = {
            (p, r): make_train_mask_func(p, r, acs=acs) for p in self.patterns for r in self.accelerations
        }
        self._rng = as_generator(seed)

    def __call__(self, shape: tuple[int, ...], seed: SeedLike | None = None) -> TrainingMask:
        """Draw one training mask.

        Parameters
        ----------
        shape
            ``(ny, nx)`` for one frame, or ``(nt, ny, nx)``.
        seed
            Optional per-call seed (e.g. :func:`~cardiomm.sampling.base.seed_from_string` of a file id
            for validation); by default the sampler's own Generator is used and advanced.

        Returns
        -------
        TrainingMask
            Mask, pattern, R and ACS.
        """
        rng = self._rng if seed is None else as_generator(seed)
        accel = self.accelerations[int(rng.integers(len(self.accelerations)))]
        pattern = self.patterns[int(rng.integers(len(self.patterns)))]
        mask = self._funcs[(pattern, accel)](shape, rng)
        return TrainingMask(mask=mask, pattern=pattern, acceleration=accel, acs=self.acs)
