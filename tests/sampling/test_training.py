"""Tests of the training-mask sampler (one explicit Generator for R, pattern and mask)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cardiomm.errors import ConfigError, MaskError, UnknownChoiceError
from cardiomm.sampling import (
    TRAIN_ACCELERATIONS,
    TrainingMaskSampler,
    TrainRadialMask,
    TrainRandomMask,
    TrainUniformMask,
    effective_acceleration,
    make_train_mask_func,
)
from cardiomm.types import TrainMaskType

SHAPE = (64, 48)  # (ky, kx)


def test_sampler_is_reproducible_from_one_seed() -> None:
    a = [TrainingMaskSampler(seed=42)(SHAPE) for _ in range(1)]
    s1, s2 = TrainingMaskSampler(seed=42), TrainingMaskSampler(seed=np.random.default_rng(42))
    draws1 = [s1(SHAPE) for _ in range(12)]
    draws2 = [s2(SHAPE) for _ in range(12)]
    for d1, d2 in zip(draws1, draws2, strict=True):
        assert (d1.pattern, d1.acceleration, d1.acs) == (d2.pattern, d2.acceleration, d2.acs)
        np.testing.assert_array_equal(d1.mask, d2.mask)
    np.testing.assert_array_equal(a[0].mask, draws1[0].mask)
    assert len({d.mask.tobytes() for d in draws1}) > 6  # fresh masks per sample


def test_sampler_covers_patterns_and_accelerations() -> None:
    sampler = TrainingMaskSampler(seed=0)
    draws = [sampler(SHAPE) for _ in range(120)]
    assert set(Counter(d.pattern for d in draws)) == set(TrainMaskType)
    assert set(Counter(d.acceleration for d in draws)) == set(TRAIN_ACCELERATIONS)
    for d in draws:
        assert d.mask.shape == SHAPE and d.mask.dtype == np.bool_ and d.acs == 20
        pad = (SHAPE[0] - 20 + 1) // 2
        if d.pattern is TrainMaskType.RADIAL:
            kx_pad = (SHAPE[1] - 20 + 1) // 2
            assert d.mask[pad : pad + 20, kx_pad : kx_pad + 20].all()
        else:
            assert d.mask[pad : pad + 20].all()
            assert np.array_equal(d.mask.all(axis=1), d.mask.any(axis=1))  # 1-D over ky


def test_sampler_per_call_seed_is_independent_of_state() -> None:
    sampler = TrainingMaskSampler(seed=1)
    first = sampler(SHAPE, seed=99)
    sampler(SHAPE)
    again = sampler(SHAPE, seed=99)
    assert (first.pattern, first.acceleration) == (again.pattern, again.acceleration)
    np.testing.assert_array_equal(first.mask, again.mask)


def test_sampler_restricted_choices_and_errors() -> None:
    sampler = TrainingMaskSampler([8], ["uniform"], acs=16, seed=0)
    draw = sampler((3, 64, 8))
    assert draw.pattern is TrainMaskType.UNIFORM and draw.acceleration == 8 and draw.mask.shape == (3, 64, 8)
    np.testing.assert_array_equal(draw.mask, TrainUniformMask(8, acs=16)((3, 64, 8)))
    with pytest.raises(ConfigError):
        TrainingMaskSampler([], seed=0)
    with pytest.raises(UnknownChoiceError):
        TrainingMaskSampler(patterns=["spiral"], seed=0)
    with pytest.raises(MaskError):
        TrainingMaskSampler([0], seed=0)
    with pytest.raises(ConfigError):
        TrainingMaskSampler(seed=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("accel", [2, 4, 6, 10])
def test_training_masks_work_at_any_r(accel: int) -> None:
    shape = (128, 96)
    for func in (make_train_mask_func(p, accel) for p in TrainMaskType):
        mask = func(shape, seed=3)
        assert mask.shape == shape
        assert effective_acceleration(mask).overall <= accel + 1e-9  # ACS only adds samples
    assert isinstance(make_train_mask_func("radial", accel), TrainRadialMask)
    assert isinstance(make_train_mask_func(TrainMaskType.RANDOM, accel), TrainRandomMask)
