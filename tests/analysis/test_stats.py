"""Tests of the myocardial statistics of parametric maps (global and per AHA segment)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cardiomm.analysis.aha import aha_segments
from cardiomm.analysis.mapping import myocardial_stats
from cardiomm.errors import ShapeError


def test_myocardial_stats_global_and_segments(phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=1, n_slices=9)
    lab = ph.labels[0]
    seg = aha_segments(lab)
    values = np.where(seg > 0, 1.0 + 0.01 * seg, 5.0)  # blood / background far off
    myo = lab == 2
    z, y, x = np.argwhere(myo)[0]
    values[z, y, x] = np.nan  # NaN pixels are skipped
    st = myocardial_stats(values, lab)
    assert st.n_pixels == myo.sum() - 1
    assert st.mean == pytest.approx(np.nanmean(values[myo]))
    assert st.median == pytest.approx(np.nanmedian(values[myo]))
    np.testing.assert_allclose(st.segment_mean, 1.0 + 0.01 * np.arange(1, 17))
    assert sum(st.segment_n) == st.n_pixels
    row = st.as_dict(scale=1e3)
    assert row["Mapping_AHA_16"] == pytest.approx(1160.0)
    assert row["Mapping_Global"] == pytest.approx(st.mean * 1e3)
    # one mid slice with its level given, and a plain mask (no AHA)
    mid = myocardial_stats(values[4:5], lab[4:5], levels=[2])
    assert np.isnan(mid.segment_mean[0]) and mid.segment_n[6] > 0
    masked = myocardial_stats(values, myo)
    assert masked.mean == pytest.approx(st.mean) and np.isnan(masked.segment_mean).all()
    with pytest.raises(ShapeError):
        myocardial_stats(values[0], lab)
