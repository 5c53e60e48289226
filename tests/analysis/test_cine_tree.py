"""Tree-level cine phenotype agreement on a tiny simulated tree: geometry fixes, pairing, report, CLI."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from numpy.typing import ArrayLike, NDArray

from cardiomm.analysis.cine_tree import (
    PAPER_EXCLUSIONS,
    cine_geometry,
    cine_phenotype_tables,
    is_excluded,
    truth_summary,
)
from cardiomm.analysis.segmentation import Segmenter, register_segmenter
from cardiomm.cli.main import main
from cardiomm.errors import InputFileError

from .conftest import simulate_and_reconstruct


class OracleSegmenter(Segmenter):
    """Returns the simulator's labels of the stack with the same shape and spacing (LA/RA/aorta dropped).

    ``erode_lv`` shrinks the LV cavity of every frame by one pixel ring to emulate a biased segmentation.
    """

    name = "oracle"

    def __init__(self, root: Path, erode_lv: bool = False) -> None:
        self.labels: dict[tuple[tuple[int, ...], tuple[float, ...]], NDArray[np.uint8]] = {}
        self.erode_lv = erode_lv
        for gt in Path(root).rglob("cine_sax_gt.h5"):
            with h5py.File(gt) as f:
                lab = f["labels"][()]
            lab[lab > 3] = 0
            geom = cine_geometry(gt.with_name("cine_sax.mat"), lab.shape)
            self.labels[(lab.shape, tuple(round(v, 6) for v in geom.spacing_mm))] = lab

    def segment(self, images: ArrayLike, spacing_mm: tuple[float, float, float]) -> NDArray[np.uint8]:
        from scipy.ndimage import binary_erosion

        key = (np.shape(images), tuple(round(v, 6) for v in spacing_mm))
        lab = self.labels[key].copy()
        if self.erode_lv:
            for t in range(lab.shape[0]):
                for z in range(lab.shape[1]):
                    lv = lab[t, z] == 1
                    lab[t, z][lv & ~binary_erosion(lv)] = 2
        return lab


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Tiny Cine tree (seed 3) and zero-filled reconstructions of its ktGaussian 8x / 24x SAX masks."""
    includes = ["cine_sax_mask_ktGaussian8.mat", "cine_sax_mask_ktGaussian24.mat"]
    return simulate_and_reconstruct(tmp_path_factory.mktemp("cine"), "Cine", 3, includes)


def test_geometry_applies_published_header_fixes(tree: tuple[Path, Path]) -> None:
    data, _ = tree
    checked = 0
    for gt in data.rglob("cine_sax_gt.h5"):
        with h5py.File(gt) as f:
            import json

            meta = json.loads(f.attrs["metadata"])
            shape = f["labels"].shape
        geom = cine_geometry(gt.with_name("cine_sax.mat"), shape)
        true = meta["voxel_spacing_mm"]
        np.testing.assert_allclose(geom.spacing_mm, (true["z"], true["y"], true["x"]), rtol=1e-6)
        assert geom.frame_dt_s == pytest.approx(meta["frame_dt_s"], rel=1e-6)
        checked += 1
    assert checked >= 3  # UIH (TR x 10, FOV / n), Center007 (FOV / n) and a Siemens center


def test_exclusions_follow_the_paper() -> None:
    assert is_excluded(Path("FullSample/Center007/Siemens_055T_Freemax/P001/cine_sax.mat"))
    assert is_excluded(Path("FullSample/Center099/UIH_50T_Jupiter/P001/cine_sax.mat"))
    assert not is_excluded(Path("FullSample/Center001/Siemens_15T_Aera/P001/cine_sax.mat"))
    assert not is_excluded(Path("FullSample/Center007/x/P001/cine_sax.mat"), ())
    assert "Center010" in PAPER_EXCLUSIONS and "Center012" in PAPER_EXCLUSIONS


def test_oracle_segmentation_reproduces_truth_and_pairs(tree: tuple[Path, Path]) -> None:
    data, recon = tree
    pairs, truth = cine_phenotype_tables(recon, data, OracleSegmenter(data), exclusions=())
    n_cases = len(list(data.rglob("TestSet/FullSample/**/cine_sax.mat")))
    assert pairs["case"].nunique() == n_cases
    assert set(pairs["accel"]) == {8, 24} and set(pairs["pattern"]) == {"ktGaussian"}
    assert set(pairs["method"]) == {"zf"}
    assert len(pairs) == n_cases * 2 * 11
    # the oracle ignores the image: recon and reference phenotypes are identical ...
    np.testing.assert_array_equal(pairs["value_recon"].to_numpy(), pairs["value_ref"].to_numpy())
    # ... and the volumes equal the simulator's ground truth exactly (geometry + HR from the CSV fixes)
    vol = truth[truth["phenotype"] != "WT_Global"]
    np.testing.assert_allclose(vol["value_ref"], vol["value_truth"], rtol=1e-9)
    summary = truth_summary(truth)
    assert summary.set_index("phenotype").loc["WT_Global", "max_abs_pct"] < 5.0


def test_flagged_segmentations_get_qc_figures(tree: tuple[Path, Path], tmp_path: Path) -> None:
    """An oracle without RV raises missing_RV_* everywhere: one figure per reference and per
    reconstruction, named after case, method, pattern and acceleration."""

    class NoRV(OracleSegmenter):
        def segment(self, images: ArrayLike, spacing_mm: tuple[float, float, float]) -> NDArray[np.uint8]:
            lab = super().segment(images, spacing_mm)
            lab[lab == 3] = 0
            return lab

    data, recon = tree
    pairs, _ = cine_phenotype_tables(recon, data, NoRV(data), exclusions=(), qc_dir=tmp_path / "qc")
    cases = sorted(pairs["case"].unique())
    names = sorted(p.name for p in (tmp_path / "qc").glob("*.png"))
    expected = sorted(
        f"{c.replace('/', '__')}_{tag}_qc.png"
        for c in cases
        for tag in ("FullSample", "zf_ktGaussian8", "zf_ktGaussian24")
    )
    assert names == expected
    assert all("missing_RV_ED" in q for q in pairs["qc"])


def test_paper_exclusions_drop_cases(tree: tuple[Path, Path]) -> None:
    data, recon = tree
    pairs, _ = cine_phenotype_tables(recon, data, OracleSegmenter(data))
    assert not any(is_excluded(Path(c)) for c in pairs["case"])
    all_pairs, _ = cine_phenotype_tables(recon, data, OracleSegmenter(data), exclusions=())
    assert pairs["case"].nunique() < all_pairs["case"].nunique()


def test_no_matching_reconstructions_is_typed_error(tree: tuple[Path, Path]) -> None:
    data, recon = tree
    with pytest.raises(InputFileError, match="cine_lax"):
        cine_phenotype_tables(recon, data, OracleSegmenter(data), stem="cine_lax", exclusions=())


def test_cli_cine_agreement_report(tree: tuple[Path, Path], tmp_path: Path) -> None:
    data, recon = tree
    register_segmenter("oracle-eroded", lambda: OracleSegmenter(data, erode_lv=True), overwrite=True)
    out = tmp_path / "report"
    argv = [
        "analyse",
        "recon-agreement",
        str(recon),
        str(data),
        "--segmenter",
        "oracle-eroded",
        "--out-dir",
        str(out),
        "--all-centers",
    ]
    assert main(argv) == 0
    pairs = pd.read_csv(out / "pairs.csv")
    stats = pd.read_csv(out / "agreement.csv")
    assert len(stats) == 2 * 11  # one pattern x two accelerations x 11 phenotypes
    lvedv = stats[(stats["phenotype"] == "LVEDV") & (stats["accel"] == 8)].iloc[0]
    sub = pairs[(pairs["phenotype"] == "LVEDV") & (pairs["accel"] == 8)]
    d = sub["value_recon"] - sub["value_ref"]
    assert lvedv["bias"] == pytest.approx(d.mean()) and lvedv["bias"] == 0.0
    truth = pd.read_csv(out / "truth.csv")
    # the eroded LV cavity is smaller than the truth: negative LVEDV error
    assert (truth[truth["phenotype"] == "LVEDV"]["rel_error_pct"] < 0).all()
    text = (out / "report.md").read_text()
    assert "Fully sampled vs ground truth" in text and "radar_r_8x.png" in text
    assert (out / "figures" / "radar_r_8x.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "figures" / "LVEDV_zf_ktGaussian.png").is_file()


def test_reconstruct_include_without_match_is_an_error(
    tree: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = tree
    argv = ["reconstruct", str(data), "--out", str(tmp_path / "r"), "--method", "zf", "--include", "nothing*"]
    assert main(argv) == 2
    assert "matches --include" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
