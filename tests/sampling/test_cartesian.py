"""Tests of the Cartesian masks: test Uniform (vs the official CMRxRecon2024 file) and training masks."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from cardiomm.sampling import TrainRandomMask, TrainUniformMask, UniformMask, make_test_mask

REAL_MASK = "kspace/cmrxrecon2024_demo_cine_sax_mask_Uniform8.mat"


def test_uniform_mask_reproduces_official_cmrxrecon2024_uniform8(shared_data: Path) -> None:
    with h5py.File(shared_data / REAL_MASK, "r") as f:
        official = f["mask"][()]  # h5py (246, 512) = (ky, kx) of MATLAB [nx=512, ny=246]
    assert official.shape == (246, 512)
    ours = make_test_mask("Uniform", 8, nx=512, ny=246, nt=1, acs=16, squeeze=True)
    np.testing.assert_array_equal(ours, official.astype(bool))
    # what the file implies: offset 0 (MATLAB 1:R:end) and ACS at floor(ny/2) - floor(16/2) = 115..130
    lines = np.flatnonzero(official.any(axis=1))
    assert lines[0] == 0 and len(lines) == 45
    assert set(range(115, 131)) <= set(lines.tolist()) and 114 not in lines and 131 not in lines
    assert official.all(axis=1)[lines].all()  # full readout


@pytest.mark.parametrize("accel", [8, 16, 24])
@pytest.mark.parametrize(("ny", "acs"), [(246, 20), (245, 20), (204, 16), (133, 24)])
def test_uniform_mask_lines_are_every_rth_plus_acs(accel: int, ny: int, acs: int) -> None:
    nx, nt = 64, 3
    mask = UniformMask(accel, acs=acs)((nt, ny, nx))
    assert mask.shape == (nt, ny, nx) and mask.dtype == np.bool_
    start = ny // 2 - acs // 2
    expected = set(range(0, ny, accel)) | set(range(start, start + acs))
    for frame in mask:
        assert set(np.flatnonzero(frame.any(axis=1)).tolist()) == expected
        assert np.array_equal(frame.all(axis=1), frame.any(axis=1))  # lines span the readout
    assert (mask == mask[:1]).all()  # repeated over frames
    fraction = mask[0].any(axis=1).mean()
    # every R-th line gives ceil(ny/R) in [ny/R, ny/R + 1) lines; the ACS adds at most acs lines
    assert 1 / accel <= fraction <= 1 / accel + (acs + 1) / ny


def test_train_uniform_mask_uses_fastmri_centring() -> None:
    ny, acs = 245, 20
    mask = TrainUniformMask(8, acs=acs)((ny, 16))
    pad = (ny - acs + 1) // 2  # 113, where the test convention gives 112
    expected = set(range(0, ny, 8)) | set(range(pad, pad + acs))
    assert set(np.flatnonzero(mask.any(axis=1)).tolist()) == expected


def test_train_random_mask_is_bernoulli_one_over_r() -> None:
    ny, acs, accel = 4000, 20, 8
    mask = TrainRandomMask(accel, acs=acs)((ny, 4), seed=0)
    lines = mask.any(axis=1)
    pad = (ny - acs + 1) // 2
    assert lines[pad : pad + acs].all()
    outside = np.delete(lines, np.arange(pad, pad + acs))
    # Bernoulli(1/8) over ~4000 lines: mean 0.125, sd ~0.0052
    assert abs(outside.mean() - 1 / accel) < 0.02
    again = TrainRandomMask(accel, acs=acs)((ny, 4), seed=0)
    np.testing.assert_array_equal(mask, again)
    other = TrainRandomMask(accel, acs=acs)((ny, 4), seed=1)
    assert not np.array_equal(mask, other)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(lines[:ny], (rng.random(ny) < 1 / accel) | _band(ny, pad, acs))


def _band(n: int, start: int, size: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[start : start + size] = True
    return out
