"""ECV from native and post-contrast T1 maps (library and ``cardiomm analyse ecv``) against closed forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cardiomm.analysis.mapping import blood_pool_t1, ecv_from_maps
from cardiomm.cli.main import main
from cardiomm.errors import DataValueError, ShapeError

HCT = 0.42


def _maps(phantom: Callable[..., object]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels (z, y, x), native / post T1 [s] and the true ECV: 0.25 in the myocardium, 0.45 on its right
    half; blood 1.8 -> 0.35 s with a 1.5 s partial-volume rim on the pool border."""
    ph = phantom(n_frames=1, n_slices=3, size=64, r_ed=2.5, r_epi=10)  # small pool: mostly rim
    lab = ph.labels[0]
    true_ecv = np.where(lab == 2, np.where(np.arange(64)[None, None, :] > 36, 0.45, 0.25), np.nan)
    pre = np.where(lab == 2, 1.2, np.where(lab == 1, 1.8, 0.9))
    post = np.where(lab == 1, 0.35, 0.5)
    d_r1_blood = 1 / 0.35 - 1 / 1.8
    myo = lab == 2
    post[myo] = 1.0 / (1.0 / pre[myo] + true_ecv[myo] / (1 - HCT) * d_r1_blood)
    from scipy import ndimage

    pool = lab == 1
    rim = pool & ~ndimage.binary_erosion(pool, structure=np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], bool))
    pre[rim], post[rim] = 1.5, 0.42  # partial volume with the myocardium: erosion must leave it out
    return lab, pre, post, true_ecv


def test_ecv_from_maps_recovers_pixel_and_roi_ecv(phantom: Callable[..., object]) -> None:
    lab, pre, post, true_ecv = _maps(phantom)
    res = ecv_from_maps(pre, post, lab, HCT)
    myo = lab == 2
    np.testing.assert_allclose(res.ecv_map[myo], true_ecv[myo], rtol=1e-9)
    assert np.isnan(res.ecv_map[~myo]).all()
    assert res.blood_pre == pytest.approx(1.8) and res.blood_post == pytest.approx(0.35)
    # ROI ECV by hand from the myocardial means (not the mean of the pixel map: 1/T1 is not linear)
    m_pre, m_post = pre[myo].mean(), post[myo].mean()
    roi = (1 - HCT) * (1 / m_post - 1 / m_pre) / (1 / 0.35 - 1 / 1.8)
    assert res.roi_ecv == pytest.approx(roi, rel=1e-9)
    assert res.stats.mean == pytest.approx(true_ecv[myo].mean(), rel=1e-9)
    assert res.roi_ecv != pytest.approx(res.stats.mean, rel=1e-3)
    # without erosion the partial-volume rim (most of this small pool) sets the blood median
    assert blood_pool_t1(pre, lab, erosion=0) == pytest.approx(1.5)


def test_ecv_from_maps_errors(phantom: Callable[..., object]) -> None:
    lab, pre, post, _ = _maps(phantom)
    with pytest.raises(ShapeError):
        ecv_from_maps(pre, post[:2], lab, HCT)
    with pytest.raises(DataValueError, match="blood-pool"):
        ecv_from_maps(pre, post, np.where(lab == 1, 0, lab), HCT)
    with pytest.raises(DataValueError):
        ecv_from_maps(pre, post, lab, 42.0)


def test_cli_ecv_from_maps_in_ms(
    tmp_path: Path, phantom: Callable[..., object], capsys: pytest.CaptureFixture[str]
) -> None:
    lab, pre, post, true_ecv = _maps(phantom)
    np.save(tmp_path / "pre.npy", (pre * 1e3).astype(np.float32))  # scanner-style maps in ms
    np.save(tmp_path / "post.npy", (post * 1e3).astype(np.float32))
    np.save(tmp_path / "lab.npy", lab)
    argv = [
        "analyse",
        "ecv",
        str(tmp_path / "pre.npy"),
        str(tmp_path / "post.npy"),
        "--labels",
        str(tmp_path / "lab.npy"),
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert main([*argv, "--hct", str(HCT)]) == 0
    df = pd.read_csv(tmp_path / "out" / "pre_ecv.csv")
    glob = df[df["slice"] == "all"].iloc[0]
    myo = lab == 2
    assert glob["ecv_pct"] == pytest.approx(100 * true_ecv[myo].mean(), rel=1e-5)
    assert glob["blood_t1_pre_ms"] == pytest.approx(1800.0, rel=1e-5)
    assert glob["n_pixels"] == int(myo.sum()) and len(df) == 4
    seg_cols = [f"ECV_AHA_{i}" for i in range(1, 17)]
    assert np.nanmin(glob[seg_cols].to_numpy(float)) >= 25.0 - 1e-3
    np.testing.assert_allclose(np.load(tmp_path / "out" / "pre_ecv.npy")[myo], true_ecv[myo], rtol=1e-5)
    assert (tmp_path / "out" / "pre_ecv.png").read_bytes()[:4] == b"\x89PNG"
    # bad input: haematocrit in percent, labels of another shape; nothing written
    assert main([*argv[:-1], str(tmp_path / "bad"), "--hct", "42"]) == 2
    np.save(tmp_path / "small.npy", lab[:, :32])
    argv_bad = [*argv[:5], str(tmp_path / "small.npy"), "--out-dir", str(tmp_path / "bad"), "--hct", "0.42"]
    assert main(argv_bad) == 2
    assert "do not match" in capsys.readouterr().err and not (tmp_path / "bad").exists()
