"""Tests of cardiomm.evaluation.normalise."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.errors import UnknownChoiceError
from cardiomm.evaluation.normalise import (
    normalise_frame,
    normalise_maxval,
    normalise_percentile,
    normalise_std,
    parse_scheme,
)


def test_normalise_percentile_matches_numpy_and_no_clipping() -> None:
    img = np.random.default_rng(0).random((16, 16)).astype(np.float32) * 5
    out = normalise_percentile(img)
    assert out.dtype == np.float32  # precision kept, as in the published evaluator
    np.testing.assert_array_equal(out, img / np.percentile(img, 99.5))
    assert normalise_percentile(img.astype(np.float64)).dtype == np.float64
    assert normalise_percentile(np.arange(64, dtype=np.uint16).reshape(8, 8)).dtype == np.float64
    assert out.max() > 1.0  # values above the percentile are kept (no clipping)
    assert np.percentile(out, 99.5) == pytest.approx(1.0)


def test_normalise_guards_zero() -> None:
    zeros = np.zeros((8, 8))
    np.testing.assert_array_equal(normalise_percentile(zeros), zeros)
    np.testing.assert_array_equal(normalise_maxval(zeros), zeros)
    np.testing.assert_array_equal(normalise_std(np.full((8, 8), 3.0)), zeros)
    sparse = np.zeros((20, 20))
    sparse[0, 0] = 4.0  # percentile 0 -> returned unscaled, as in the CMRxRecon2025 evaluator
    np.testing.assert_array_equal(normalise_percentile(sparse), sparse)


def test_normalise_std_and_maxval_and_complex() -> None:
    img = np.random.default_rng(1).standard_normal((8, 8)) * 3 + 2
    z = normalise_std(img)
    assert z.mean() == pytest.approx(0.0, abs=1e-12) and z.std() == pytest.approx(1.0)
    assert normalise_maxval(np.abs(img)).max() == 1.0
    c = img * np.exp(1j * 0.3)
    np.testing.assert_allclose(normalise_frame(c, scheme="percentile"), normalise_percentile(np.abs(img)))


def test_parse_scheme_unknown() -> None:
    assert parse_scheme("std").value == "std"
    with pytest.raises(UnknownChoiceError, match="percentile"):
        parse_scheme("zscore")
