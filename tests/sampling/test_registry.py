"""Tests of the test-mask registry and mask-file-name parsing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiomm.errors import ConfigError, MaskError, ShapeError, UnknownChoiceError
from cardiomm.sampling import (
    PROTOCOL_ACCELERATIONS,
    PROTOCOL_PATTERNS,
    KtGaussianMask,
    KtRadialMask,
    UniformMask,
    make_mask_func,
    make_test_mask,
    mask_type_of,
    parse_mask_filename,
    parse_pattern,
)
from cardiomm.types import MaskPattern, TrainMaskType

NX, NY, NT = 96, 80, 4


@pytest.mark.parametrize("accel", PROTOCOL_ACCELERATIONS)
@pytest.mark.parametrize("pattern", PROTOCOL_PATTERNS)
def test_protocol_masks_reproduce_and_contain_acs(pattern: MaskPattern, accel: int) -> None:
    a = make_test_mask(pattern, accel, NX, NY, NT, seed=17)
    b = make_test_mask(pattern.value, accel, NX, NY, NT, seed=17)
    assert a.shape == (NT, NY, NX) and a.dtype == np.bool_
    np.testing.assert_array_equal(a, b)
    ky = slice(NY // 2 - 10, NY // 2 + 10)
    if pattern is MaskPattern.KT_RADIAL:
        assert a[:, ky, NX // 2 - 10 : NX // 2 + 10].all()  # 20 x 20 square
    else:
        assert a[:, ky, :].all()  # 20 full ky lines


def test_protocol_constants() -> None:
    assert [p.value for p in PROTOCOL_PATTERNS] == ["Uniform", "ktGaussian", "ktRadial"]
    assert PROTOCOL_ACCELERATIONS == (8, 16, 24)


def test_make_test_mask_squeezes_single_frame() -> None:
    assert make_test_mask("Uniform", 8, NX, NY, 1, squeeze=True).shape == (NY, NX)
    assert make_test_mask("Uniform", 8, NX, NY, 1).shape == (1, NY, NX)
    assert make_test_mask("Uniform", 8, NX, NY, 3, squeeze=True).shape == (3, NY, NX)


def test_make_test_mask_errors() -> None:
    with pytest.raises(UnknownChoiceError, match="ktFoo"):
        make_test_mask("ktFoo", 8, NX, NY, NT)
    with pytest.raises(MaskError, match="acceleration"):
        make_test_mask("Uniform", 0, NX, NY, NT)
    with pytest.raises(MaskError, match="ACS"):
        make_test_mask("Uniform", 8, NX, NY, NT, acs=NY + 1)
    with pytest.raises(ShapeError):
        make_test_mask("ktRadial", 8, 0, NY, NT)
    with pytest.raises(ConfigError, match="seed"):
        make_test_mask("ktGaussian", 8, NX, NY, NT)


def test_parse_pattern_and_mask_funcs() -> None:
    assert parse_pattern("ktgaussian") is MaskPattern.KT_GAUSSIAN
    assert isinstance(make_mask_func("Uniform", 8), UniformMask)
    assert isinstance(make_mask_func(MaskPattern.KT_GAUSSIAN, 8), KtGaussianMask)
    func = make_mask_func("ktRadial", 24, acs=16)
    assert isinstance(func, KtRadialMask) and func.acs == 16 and func.n_spokes == 12


@pytest.mark.parametrize(
    ("name", "pattern", "accel", "mask_type"),
    [
        ("cine_sax_mask_ktGaussian16.mat", MaskPattern.KT_GAUSSIAN, 16, TrainMaskType.RANDOM),
        ("cine_sax_mask_Uniform8.mat", MaskPattern.UNIFORM, 8, TrainMaskType.UNIFORM),
        ("T1map_mask_ktRadial24.mat", MaskPattern.KT_RADIAL, 24, TrainMaskType.RADIAL),
        ("/x/P001/cine_lax_kus_ktUniform4.mat", MaskPattern.KT_UNIFORM, 4, TrainMaskType.UNIFORM),
        ("cine_sax_mask_Radial12.mat", "Radial", 12, TrainMaskType.RADIAL),
        ("cine_sax_mask_Gaussian8.mat", "Gaussian", 8, TrainMaskType.RANDOM),
        ("cine_sax_mask_Random10", "Random", 10, TrainMaskType.RANDOM),
    ],
)
def test_parse_mask_filename(name: str, pattern: str, accel: int, mask_type: TrainMaskType) -> None:
    got_pattern, got_accel = parse_mask_filename(Path(name))
    assert (got_pattern, got_accel) == (pattern, accel)
    assert mask_type_of(got_pattern) is mask_type


@pytest.mark.parametrize("name", ["cine_sax.mat", "cine_sax_mask_ktgaussian16.mat", "mask_Uniform.mat"])
def test_parse_mask_filename_rejects_unknown(name: str) -> None:
    with pytest.raises(UnknownChoiceError) as info:
        parse_mask_filename(name)
    assert name in str(info.value)


def test_mask_type_of_rejects_unknown() -> None:
    with pytest.raises(UnknownChoiceError):
        mask_type_of("Spiral")
    assert mask_type_of(MaskPattern.KT_UNIFORM) is TrainMaskType.UNIFORM
