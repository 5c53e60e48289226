"""Myocardial T1 / T2 biomarkers of a reconstruction tree (tiny simulated Mapping tree, zero-filled recon)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cardiomm.analysis.mapping import molli_signal
from cardiomm.analysis.mapping_tree import (
    mapping_biomarker_tables,
    mid_wall_roi,
    myocardial_mask,
    myocardial_mean_ms,
)
from cardiomm.cli.main import main
from cardiomm.errors import ConfigError, InputFileError, ShapeError

from .conftest import simulate_and_reconstruct


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    includes = ["T*_mask_ktGaussian8.mat", "T*_mask_Uniform24.mat"]
    return simulate_and_reconstruct(tmp_path_factory.mktemp("mapping"), "Mapping", 0, includes)


def test_myocardial_mean_matches_closed_form_molli() -> None:
    myo = np.zeros((1, 8, 8), bool)
    myo[0, 2:6, 2:6] = True
    ti = np.array([0.1, 0.18, 0.9, 1.0, 1.7, 1.8, 2.5, 3.3])
    t1_star = np.where(myo, 0.8, 0.5)
    series = np.abs(molli_signal(ti[:, None, None, None], 1.0, 1.9, t1_star)).astype(np.float32)
    assert myocardial_mean_ms(series, ti, "T1", myo) == pytest.approx(800.0 * 0.9, rel=1e-4)
    with pytest.raises(ShapeError):
        myocardial_mean_ms(series, ti, "T1", myo[:, :4])
    with pytest.raises(ConfigError):
        myocardial_mean_ms(series, ti[:3], "T1", myo)


def test_biomarker_tables_pair_recon_and_reference(tree: tuple[Path, Path]) -> None:
    data, recon = tree
    pairs, truth = mapping_biomarker_tables(recon, data)
    n_t1 = len(list(data.rglob("TestSet/FullSample/**/T1map.mat")))
    n_t2 = len(list(data.rglob("TestSet/FullSample/**/T2map.mat")))
    assert n_t1 >= 2 and n_t2 >= 1
    assert len(pairs) == 2 * (n_t1 + n_t2)
    assert set(pairs["phenotype"]) == {"T1", "T2"} and set(pairs["accel"]) == {8, 24}
    assert len(truth) == n_t1 + n_t2
    # fully sampled MOLLI in the true myocardium: within 5 % of the simulated T1 (noise, partial volume)
    t1 = truth[truth["phenotype"] == "T1"]
    assert (t1["rel_error_pct"].abs() < 5.0).all(), t1
    # tiny's myocardium (6 mm pixels) is too thin for a mid-wall ROI: every slice falls back to the
    # whole myocardium, so both ROI choices agree exactly
    _, whole = mapping_biomarker_tables(recon, data, mid_wall=False)
    np.testing.assert_array_equal(whole["value_ref"].to_numpy(), truth["value_ref"].to_numpy())
    # every reference value is the same for all masks of a case
    assert pairs.groupby(["case", "phenotype"])["value_ref"].nunique().max() == 1
    # recon values are finite and of the same order as the reference
    ratio = pairs["value_recon"] / pairs["value_ref"]
    assert np.isfinite(ratio).all() and ratio.between(0.5, 2.0).all()


def test_myocardial_mask_needs_sidecar_or_labels(tmp_path: Path) -> None:
    ref = tmp_path / "T1map.mat"
    with pytest.raises(InputFileError, match="_labels.npy"):
        myocardial_mask(ref)
    lab = np.zeros((1, 4, 4), np.uint8)
    lab[0, 1:3, 1:3] = 2
    np.save(tmp_path / "T1map_labels.npy", lab)
    myo, true_map = myocardial_mask(ref)
    assert myo.sum() == 4 and true_map is None


def test_mid_wall_roi_erodes_thick_slices_only() -> None:
    myo = np.zeros((2, 12, 12), bool)
    myo[0, 2:10, 2:10] = True  # 64 px -> 6x6 = 36 px after one erosion
    myo[1, 5:8, 5:8] = True  # 9 px -> 1 px: too few, keeps the full mask
    roi = mid_wall_roi(myo)
    assert roi[0].sum() == 36 and roi[0, 3:9, 3:9].all()
    assert (roi[1] == myo[1]).all()


def test_cli_recon_agreement_mapping(tree: tuple[Path, Path], tmp_path: Path) -> None:
    data, recon = tree
    out = tmp_path / "rep"
    assert (
        main(["analyse", "recon-agreement", str(recon), str(data), "--out-dir", str(out), "--all-centers"])
        == 0
    )
    stats = pd.read_csv(out / "agreement.csv")
    assert set(stats["phenotype"]) == {"T1", "T2"}
    assert "T1" in (out / "report.md").read_text()
    assert (out / "figures" / "T1_zf_ktGaussian.png").is_file()


def test_cli_recon_agreement_nothing_to_analyse(
    tree: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, recon = tree
    # a reconstruction tree without cine_sax / T1map / T2map files fails cleanly, writing nothing
    src = next(recon.rglob("T1map_mask_ktGaussian8.mat"))
    dst = tmp_path / "other" / src.relative_to(recon).with_name("lge_mask_ktGaussian8.mat")
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    assert (
        main(
            [
                "analyse",
                "recon-agreement",
                str(tmp_path / "other"),
                str(data),
                "--out-dir",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "no cine_sax (after exclusions), T1map or T2map" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_mapping_keeps_centers_the_cine_protocol_excludes(
    tree: tuple[Path, Path], tmp_path: Path
) -> None:
    data, recon = tree
    out = tmp_path / "rep"
    assert (
        main(["analyse", "recon-agreement", str(recon), str(data), "--out-dir", str(out), "--no-plots"]) == 0
    )
    pairs = pd.read_csv(out / "pairs.csv")
    assert pairs["case"].str.contains("Center007").any()
