"""Tests of cardiomm.sampling.base: rounding, centring, seeds, effective acceleration, explicit RNG."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cardiomm.errors import ConfigError, MaskError, ShapeError
from cardiomm.sampling import (
    KtGaussianMask,
    KtRadialMask,
    KtUniformMask,
    PoissonDiscMask,
    TrainingMaskSampler,
    TrainRadialMask,
    TrainRandomMask,
    TrainUniformMask,
    UniformMask,
    centre_start,
    effective_acceleration,
    mask_to_tensor,
    round_half_up,
    seed_from_string,
)
from cardiomm.sampling.base import as_generator


def test_round_half_up_matches_matlab_round() -> None:
    # MATLAB: round([0.5 1.5 2.5 15.375 30.75 10.25]) = [1 2 3 15 31 10]; Python's round(2.5) == 2
    values = np.array([0.5, 1.5, 2.5, 246 / 16, 246 / 8, 246 / 24])
    assert round_half_up(values).tolist() == [1, 2, 3, 15, 31, 10]
    assert int(round_half_up(2.5)) == 3 and round(2.5) == 2


@pytest.mark.parametrize(
    ("big", "small", "test", "train"),
    [(246, 20, 113, 113), (246, 16, 115, 115), (245, 20, 112, 113), (245, 21, 112, 112), (512, 20, 246, 246)],
)
def test_centre_start_conventions(big: int, small: int, test: int, train: int) -> None:
    assert centre_start(big, small, "test") == test == big // 2 - small // 2
    assert centre_start(big, small, "train") == train == (big - small + 1) // 2
    with pytest.raises(ConfigError):
        centre_start(big, small, "other")  # type: ignore[arg-type]


def test_effective_acceleration_per_frame_and_overall() -> None:
    mask = np.zeros((3, 4, 5), dtype=bool)
    mask[0, 0] = True  # 5 of 20
    mask[1, :2] = True  # 10 of 20
    per = effective_acceleration(mask)
    np.testing.assert_allclose(per.per_frame, [4.0, 2.0, np.inf])
    assert per.overall == pytest.approx(60 / 15)
    assert per.sampled_fraction == pytest.approx(15 / 60)
    assert effective_acceleration(torch.from_numpy(mask[1])).overall == pytest.approx(2.0)
    with pytest.raises(ShapeError):
        effective_acceleration(np.ones(4, dtype=bool))


def test_mask_to_tensor_is_broadcastable_bool() -> None:
    mask = UniformMask(4, acs=2)((3, 8, 6))
    tensor = mask_to_tensor(mask)
    assert tensor.dtype == torch.bool and tuple(tensor.shape) == (3, 1, 8, 6)
    assert torch.equal(tensor[:, 0], torch.from_numpy(mask))
    assert tuple(mask_to_tensor(mask[0]).shape) == (1, 1, 8, 6)


def test_seed_from_string_is_stable() -> None:
    assert seed_from_string("P001/cine_sax.mat") == seed_from_string("P001/cine_sax.mat")
    assert seed_from_string("P001/cine_sax.mat") != seed_from_string("P002/cine_sax.mat")
    assert 0 <= seed_from_string("x") < 2**32
    assert seed_from_string("abc") == int.from_bytes(
        bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")[:4], "big"
    )


@pytest.mark.parametrize("bad", [None, -1, 1.5, True, "3"])
def test_as_generator_rejects_bad_seeds(bad: object) -> None:
    with pytest.raises(ConfigError):
        as_generator(bad)  # type: ignore[arg-type]
    gen = np.random.default_rng(0)
    assert as_generator(gen) is gen


@pytest.mark.parametrize("accel", [0, -4, 2.5, True, "8"])
def test_mask_func_rejects_bad_acceleration(accel: object) -> None:
    with pytest.raises(MaskError, match="acceleration"):
        UniformMask(accel)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(4,), (1, 2, 3, 4), (0, 8, 8), (2, 8, -1), (2.0, 8, 8)])
def test_mask_func_rejects_bad_shape(shape: tuple) -> None:
    with pytest.raises(ShapeError):
        UniformMask(4, acs=2)(shape)


def test_mask_func_rejects_acs_larger_than_axis() -> None:
    with pytest.raises(MaskError, match="ACS"):
        UniformMask(4, acs=20)((2, 16, 32))
    with pytest.raises(MaskError, match="ACS"):
        KtRadialMask(8, acs=20)((1, 32, 16))
    with pytest.raises(MaskError, match="ACS"):
        UniformMask(4, acs=-1)


def test_random_masks_require_explicit_seed() -> None:
    for func in (KtGaussianMask(8), TrainRandomMask(4), TrainRadialMask(4), PoissonDiscMask(4, acs=4)):
        with pytest.raises(ConfigError, match="seed"):
            func((1, 32, 32))


def test_generators_leave_global_rng_state_untouched() -> None:
    np.random.seed(1234)
    random.seed(1234)
    np_state = np.random.get_state()
    py_state = random.getstate()
    shape = (3, 32, 40)
    UniformMask(4, acs=4)(shape)
    KtUniformMask(4, acs=4)(shape)
    KtGaussianMask(4, acs=4)(shape, seed=7)
    KtGaussianMask(4, acs=4)(shape, seed=np.random.default_rng(7))
    KtRadialMask(8, acs=4)(shape)
    TrainUniformMask(4, acs=4)(shape)
    TrainRandomMask(4, acs=4)(shape, seed=3)
    TrainRadialMask(8, acs=4)(shape, seed=3)
    PoissonDiscMask(4, acs=4)((1, 24, 24), seed=3)
    TrainingMaskSampler(seed=5)((32, 40))
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    assert random.getstate() == py_state


def test_two_d_shape_gives_two_d_mask() -> None:
    mask = UniformMask(4, acs=2)((8, 6))
    assert mask.shape == (8, 6) and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, UniformMask(4, acs=2)((1, 8, 6))[0])
