"""Undersampling masks: explicit seed in, ``bool`` ``(t, ky, kx)`` numpy mask out.

Test protocol (cardiomm_reference.md section 10): :class:`UniformMask`, :class:`KtGaussianMask`,
:class:`KtRadialMask` (+ :class:`KtUniformMask`), built by name with :func:`make_test_mask`.
Training (section 8.2): :class:`TrainUniformMask`, :class:`TrainRandomMask`, :class:`TrainRadialMask`
and :class:`TrainingMaskSampler`. Also :class:`PoissonDiscMask` (variable-density 2-D).

All generators are template-method :class:`MaskFunc` subclasses; see :mod:`cardiomm.sampling.base`
for axis order, rounding, centring and seeding rules.
"""

from cardiomm.sampling.base import (
    DEFAULT_ACS,
    EffectiveAcceleration,
    MaskFunc,
    SeedLike,
    as_generator,
    centre_start,
    effective_acceleration,
    mask_to_tensor,
    round_half_up,
    seed_from_string,
)
from cardiomm.sampling.cartesian import TrainRandomMask, TrainUniformMask, UniformMask
from cardiomm.sampling.kt import KtGaussianMask, KtUniformMask, ktdup, matlab_rng, randp
from cardiomm.sampling.poisson import PoissonDiscMask
from cardiomm.sampling.radial import KtRadialMask, TrainRadialMask, radial_beams
from cardiomm.sampling.registry import (
    MASK_FUNCS,
    PROTOCOL_ACCELERATIONS,
    PROTOCOL_PATTERNS,
    make_mask_func,
    make_test_mask,
    mask_type_of,
    parse_mask_filename,
    parse_pattern,
)
from cardiomm.sampling.training import (
    TRAIN_ACCELERATIONS,
    TrainingMask,
    TrainingMaskSampler,
    make_train_mask_func,
)

__all__ = [
    "DEFAULT_ACS",
    "EffectiveAcceleration",
    "KtGaussianMask",
    "KtRadialMask",
    "KtUniformMask",
    "MASK_FUNCS",
    "MaskFunc",
    "PROTOCOL_ACCELERATIONS",
    "PROTOCOL_PATTERNS",
    "PoissonDiscMask",
    "SeedLike",
    "TRAIN_ACCELERATIONS",
    "TrainRadialMask",
    "TrainRandomMask",
    "TrainUniformMask",
    "TrainingMask",
    "TrainingMaskSampler",
    "UniformMask",
    "as_generator",
    "centre_start",
    "effective_acceleration",
    "ktdup",
    "make_mask_func",
    "make_test_mask",
    "make_train_mask_func",
    "mask_to_tensor",
    "mask_type_of",
    "matlab_rng",
    "parse_mask_filename",
    "parse_pattern",
    "radial_beams",
    "randp",
    "round_half_up",
    "seed_from_string",
]
