"""Tests of the agreement statistics against textbook and hand-computed values, and of the plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cardiomm.analysis.agreement import agreement_stats, agreement_table, icc
from cardiomm.analysis.agreement_plots import agreement_figure, plot_agreement
from cardiomm.errors import MissingKeyError, ShapeError, UnknownChoiceError

#: Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float
)


@pytest.mark.parametrize(("kind", "published"), [("1,1", 0.17), ("2,1", 0.29), ("3,1", 0.71)])
def test_icc_shrout_fleiss_worked_example(kind: str, published: float) -> None:
    assert icc(SHROUT_FLEISS, kind) == pytest.approx(published, abs=0.005)  # type: ignore[arg-type]


def test_icc_errors_and_degenerate() -> None:
    with pytest.raises(ShapeError):
        icc(np.ones(5))
    with pytest.raises(UnknownChoiceError):
        icc(SHROUT_FLEISS, "2,k")  # type: ignore[arg-type]
    assert np.isnan(icc(np.array([[1.0, 2.0]])))
    perfect = np.stack([np.arange(5.0), np.arange(5.0)], 1)
    assert icc(perfect) == pytest.approx(1.0)
    # a constant offset keeps consistency (3,1) at 1 but lowers absolute agreement (2,1)
    shifted = np.stack([np.arange(5.0), np.arange(5.0) + 2], 1)
    assert icc(shifted, "3,1") == pytest.approx(1.0) and icc(shifted, "2,1") < 0.8


def test_agreement_stats_hand_computed() -> None:
    ref = np.array([100.0, 120.0, 140.0, 160.0])
    recon = np.array([102.0, 118.0, 145.0, 161.0])
    s = agreement_stats(recon, ref)
    # differences 2, -2, 5, 1: mean 1.5, sample SD sqrt(((0.5)^2 + 3.5^2 + 3.5^2 + 0.5^2) / 3) = sqrt(8.3333)
    assert s.n == 4 and s.bias == pytest.approx(1.5) and s.sd_diff == pytest.approx(np.sqrt(25 / 3))
    assert s.loa_low == pytest.approx(1.5 - 1.96 * np.sqrt(25 / 3))
    assert s.loa_high == pytest.approx(1.5 + 1.96 * np.sqrt(25 / 3))
    assert s.mae == pytest.approx(2.5)
    assert s.pearson_r == pytest.approx(np.corrcoef(recon, ref)[0, 1])
    assert s.icc == pytest.approx(icc(np.stack([ref, recon], 1), "2,1"))
    nan_pair = agreement_stats(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.5]))
    assert nan_pair.n == 2
    assert agreement_stats([], []).n == 0


def _long_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for case in range(8):
        ref = {"LVEDV": 150 + 10 * case, "LVEF": 55 + case}
        for accel in (8, 16, 24):
            for ph, v in ref.items():
                rows.append(
                    {
                        "case": f"P{case:03d}",
                        "method": "cardiomm",
                        "pattern": "ktGaussian",
                        "accel": accel,
                        "phenotype": ph,
                        "value_ref": v,
                        "value_recon": v + rng.normal(0, accel / 8),
                    }
                )
    return pd.DataFrame(rows)


def test_agreement_table_groups(tmp_path: Path) -> None:
    df = _long_table()
    out = agreement_table(df)
    assert len(out) == 6 and set(out["accel"]) == {8, 16, 24}
    sel = df[(df.accel == 16) & (df.phenotype == "LVEF")]
    row = out[(out.accel == 16) & (out.phenotype == "LVEF")].iloc[0]
    expected = agreement_stats(sel.value_recon, sel.value_ref)
    assert row["bias"] == pytest.approx(expected.bias) and row["icc"] == pytest.approx(expected.icc)
    assert row["n"] == 8 and row["icc_kind"] == "2,1"
    with pytest.raises(MissingKeyError):
        agreement_table(df.drop(columns=["accel"]))


def test_agreement_plots_written(tmp_path: Path) -> None:
    df = _long_table()
    paths = plot_agreement(df, tmp_path / "fig", units={"LVEDV": "mL", "LVEF": "%"})
    assert sorted(p.name for p in paths) == ["LVEDV_cardiomm_ktGaussian.png", "LVEF_cardiomm_ktGaussian.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    single = agreement_figure([1.0, 2.0, 3.1], [1.0, 2.1, 3.0], tmp_path / "one.png", title="x")
    assert single.is_file() and not list(tmp_path.glob(".cardiomm-tmp-*"))
