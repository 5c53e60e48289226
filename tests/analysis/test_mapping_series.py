"""Mapping series: shared vs per-slice times, the time-count check, slice-by-slice fits, per-slice tables."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.analysis.mapping import exponential_decay_signal
from cardiomm.analysis.mapping.series import (
    MAP_KINDS,
    fit_series_map,
    kind_for_modality,
    per_slice_times,
)
from cardiomm.analysis.mapping.tables import mapping_table
from cardiomm.errors import ConfigError
from cardiomm.types import CardiacLabel


def test_kinds_and_modalities() -> None:
    assert MAP_KINDS == ("t1", "t2", "t2-offset", "t1rho", "t2star")
    assert kind_for_modality("T2map") == ("t2", "prep_times_s")
    assert kind_for_modality("Cine") == ("t1", "ti_s")


def test_per_slice_times() -> None:
    shared = np.array([[0.1, 0.1002], [0.2, 0.2001]])  # within 0.5 ms
    np.testing.assert_array_equal(per_slice_times(shared), [0.1, 0.2])
    own = np.array([[0.1, 0.16], [0.2, 0.26]])
    assert per_slice_times(own) is own


def test_fit_series_map_slice_by_slice_and_table() -> None:
    t2 = np.array([0.04, 0.06])[:, None, None] * np.ones((2, 3, 3))
    times = np.array([[0.0, 0.01], [0.02, 0.03], [0.04, 0.05], [0.06, 0.07]])  # (t, z): own times per slice
    series = np.stack([exponential_decay_signal(times[k][:, None, None], 100.0, t2) for k in range(4)])
    t2_map, r2 = fit_series_map(series.astype(np.float32), times, "t2")
    np.testing.assert_allclose(t2_map, t2, rtol=1e-3)
    assert r2.shape == t2.shape
    with pytest.raises(ConfigError, match="3 times for a series of 4 contrasts"):
        fit_series_map(series, times[:3], "t2")
    labels = np.full(t2.shape, CardiacLabel.MYO, np.uint8)
    rows = mapping_table(t2_map, r2, labels, levels=[2, 2])
    assert [r["slice"] for r in rows] == [0, 1, "all"]
    assert rows[0]["mean_ms"] == pytest.approx(40.0, rel=1e-3) and rows[-1]["n_pixels"] == 18
