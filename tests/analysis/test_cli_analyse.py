"""Tests of ``cardiomm analyse mapping | phenotypes | agreement`` on synthetic files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cardiomm.analysis.mapping import exponential_decay_signal, molli_signal
from cardiomm.cli.main import main

TI_MS = [128, 881, 1628, 2381, 3131, 208, 951, 1711]


def test_cli_mapping_t1_with_labels(tmp_path: Path, phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=1, n_slices=2, size=64, r_ed=10, r_epi=15)
    labels = ph.labels[0]
    t1 = np.where(labels == 2, 1.2, np.where(labels == 1, 1.8, 0.9))
    t1s = t1 / 0.9  # B/A = 1.9
    ti = np.array(TI_MS)[:, None, None, None] / 1e3
    series = np.abs(molli_signal(ti, 500.0, 950.0, t1s)).astype(np.float32)
    np.save(tmp_path / "molli.npy", series)
    np.save(tmp_path / "labels.npy", labels)
    argv = [
        "analyse",
        "mapping",
        str(tmp_path / "molli.npy"),
        "--times",
        ",".join(map(str, TI_MS)),
        "--labels",
        str(tmp_path / "labels.npy"),
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    df = pd.read_csv(tmp_path / "out" / "molli_t1.csv")
    glob = df[df["slice"] == "all"].iloc[0]
    assert glob["mean_ms"] == pytest.approx(1200.0, rel=1e-3)
    assert glob["n_pixels"] == int((labels == 2).sum())
    assert np.nanmax(np.abs(df[[f"Mapping_AHA_{i}" for i in range(1, 17)]].to_numpy() - 1200)) < 1.0
    assert (tmp_path / "out" / "molli_t1.png").read_bytes()[:4] == b"\x89PNG"
    np.testing.assert_allclose(np.load(tmp_path / "out" / "molli_t1.npy")[labels == 2], 1.2, rtol=1e-3)
    # --ti-scale: the time base of the fit scales T1 by the same factor
    assert main([*argv[:-1], str(tmp_path / "scaled"), "--ti-scale", "1.035"]) == 0
    scaled = pd.read_csv(tmp_path / "scaled" / "molli_t1.csv")
    assert scaled[scaled["slice"] == "all"].iloc[0]["mean_ms"] == pytest.approx(1.035 * 1200.0, rel=1e-3)


def test_cli_mapping_t2_seconds_without_labels(tmp_path: Path) -> None:
    te = np.array([0.0, 0.02, 0.04, 0.06])
    series = exponential_decay_signal(te[:, None, None], 100.0, np.full((8, 8), 0.045)).astype(np.float32)
    np.save(tmp_path / "t2.npy", series)
    argv = [
        "analyse",
        "mapping",
        str(tmp_path / "t2.npy"),
        "--kind",
        "t2",
        "--times",
        "0,0.02,0.04,0.06",
        "--time-unit",
        "s",
        "--out-dir",
        str(tmp_path),
    ]
    assert main(argv) == 0
    df = pd.read_csv(tmp_path / "t2_t2.csv")
    assert df.iloc[-1]["mean_ms"] == pytest.approx(45.0, rel=1e-3) and df.iloc[-1]["n_pixels"] == 64


def test_cli_mapping_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "s.npy", np.ones((4, 4, 4), np.float32))
    assert main(["analyse", "mapping", str(tmp_path / "s.npy"), "--times", "1,2"]) == 2
    assert "2 times for a series of 4 contrasts" in capsys.readouterr().err
    assert main(["analyse", "mapping", str(tmp_path / "s.npy"), "--times", "1,2,3,4", "--kind", "t9"]) == 2
    assert main(["analyse", "mapping", str(tmp_path / "missing.npy"), "--times", "1,2,3,4"]) == 2
    assert (
        main(
            [
                "analyse",
                "mapping",
                str(tmp_path / "s.npy"),
                "--times",
                "1,2,3,4",
                "--kind",
                "t2",
                "--ti-scale",
                "1.03",
            ]
        )
        == 2
    )
    assert "--ti-scale is for --kind t1" in capsys.readouterr().err
    assert main(["analyse", "mapping", str(tmp_path / "s.npy"), "--times", "1,2,3,4", "--ti-scale", "0"]) == 2


def test_cli_phenotypes_from_labels(tmp_path: Path, phantom: Callable[..., object]) -> None:
    ph = phantom()
    np.save(tmp_path / "seg.npy", ph.labels)
    out = tmp_path / "ph.csv"
    argv = [
        "analyse",
        "phenotypes",
        str(tmp_path / "seg.npy"),
        "--spacing",
        "8,1.5,1.5",
        "--frame-dt",
        "0.08",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    row = pd.read_csv(out).iloc[0]
    vox = 8 * 1.5 * 1.5 * 1e-3
    assert row["LVEDV (mL)"] == pytest.approx(np.pi * 20**2 * 10 * vox, rel=0.015)
    assert row["HR (bpm)"] == pytest.approx(75.0) and row["case"] == "seg.npy"
    assert (tmp_path / "ph_qc.png").read_bytes()[:4] == b"\x89PNG"  # the QC figure beside the CSV
    assert "WT_AHA_16 (mm)" in row.index
    # ACDC numbering is converted on request
    acdc = np.choose(ph.labels, [0, 3, 2, 1]).astype(np.uint8)
    np.save(tmp_path / "acdc.npy", acdc)
    argv[2], argv[-1] = str(tmp_path / "acdc.npy"), str(tmp_path / "acdc.csv")
    assert main([*argv, "--acdc-labels", "--no-qc-png"]) == 0
    assert not (tmp_path / "acdc_qc.png").exists()
    assert pd.read_csv(tmp_path / "acdc.csv").iloc[0]["LVEDV (mL)"] == pytest.approx(row["LVEDV (mL)"])


def test_cli_phenotypes_prints_qc_passed_only_when_every_check_passes(
    tmp_path: Path, phantom: Callable[..., object], capsys: pytest.CaptureFixture[str]
) -> None:
    """The ring phantom passes; the same phantom at 2 mm pixels and 10 mm slices with a 16 px wall
    weighs about 1100 g: the failed check is printed with its value and range, and the CSV has the flag."""
    ph = phantom()
    np.save(tmp_path / "seg.npy", ph.labels)
    argv = ["analyse", "phenotypes", str(tmp_path / "seg.npy"), "--frame-dt", "0.08", "--no-qc-png"]
    assert main([*argv, "--spacing", "8,1.5,1.5", "--out", str(tmp_path / "ok.csv")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "QC: passed (Adult ranges)" in out and "failed" not in out
    heavy = phantom(r_ed=18, r_es=12, r_epi=34)
    np.save(tmp_path / "heavy.npy", heavy.labels)
    argv[2] = str(tmp_path / "heavy.npy")
    assert main([*argv, "--spacing", "10,2,2", "--out", str(tmp_path / "heavy_ph.csv")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "QC: passed" not in out
    assert "QC: 1 check(s) failed (Adult ranges): implausible_LVM: LVM 1099 g, expected 30-500 g" in out
    assert pd.read_csv(tmp_path / "heavy_ph.csv").iloc[0]["QC"] == "implausible_LVM"
    # a child's heart gets the paediatric lower limits; the option is checked before any work
    small = [*argv, "--spacing", "6,0.6,0.6", "--out", str(tmp_path / "small_ph.csv")]
    assert main([*small, "--lifespan", "Pediatric"]) == 0
    assert "QC: passed (Pediatric ranges)" in " ".join(capsys.readouterr().out.split())
    assert main(small) == 0
    assert "implausible_LVEDV: LVEDV 21.8 mL, expected 40-500 mL" in " ".join(capsys.readouterr().out.split())
    assert main([*small, "--lifespan", "teen"]) == 2
    assert "unknown lifespan 'teen'" in capsys.readouterr().err


def test_cli_phenotypes_images_without_segmenter_use_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Float images without --segmenter are segmented with the default segmenter, not read as labels."""
    import cardiomm.analysis.segmentation as segmentation
    from cardiomm.analysis.segmentation import base

    class Threshold(base.Segmenter):
        def segment(self, images: object, spacing_mm: tuple[float, float, float]) -> np.ndarray:
            return (np.asarray(images) > 0.5).astype(np.uint8)  # "LV" wherever bright

    monkeypatch.setitem(base._REGISTRY, "threshold-stub", Threshold)
    monkeypatch.setattr(segmentation, "DEFAULT_SEGMENTER", "threshold-stub")
    img = np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "img.npy", img)
    out = tmp_path / "p.csv"
    argv = ["analyse", "phenotypes", str(tmp_path / "img.npy"), "--spacing", "8,1,1", "--out", str(out)]
    assert main(argv) == 0
    assert "the default segmenter 'threshold-stub'" in " ".join(capsys.readouterr().out.split())
    lv_voxels = (img > 0.5).sum(axis=(1, 2, 3)).max()
    assert pd.read_csv(out).iloc[0]["LVEDV (mL)"] == pytest.approx(lv_voxels * 8e-3)


def test_cli_phenotypes_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "seg.npy", np.zeros((2, 3, 8, 8), np.uint8))
    assert main(["analyse", "phenotypes", str(tmp_path / "seg.npy")]) == 2
    assert "spacing unknown" in capsys.readouterr().err
    np.save(tmp_path / "img.npy", np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32))
    argv = ["analyse", "phenotypes", str(tmp_path / "img.npy"), "--spacing", "8,1,1", "--segmenter", "nope"]
    assert main(argv) == 2
    assert "unknown segmenter" in capsys.readouterr().err
    # backend options must match the backend; missing user weights are a typed error
    argv[-1] = "myopari"
    assert main([*argv, "--weights", str(tmp_path)]) == 2
    assert "--weights is for --segmenter acdcunet or simunet" in capsys.readouterr().err
    argv[-1] = "simunet"
    assert main([*argv, "--model-folder", str(tmp_path)]) == 2
    assert "--model-folder is for --segmenter nnunet" in capsys.readouterr().err
    out = tmp_path / "ph.csv"
    assert main([*argv, "--weights", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "segmenter weights not found" in capsys.readouterr().err
    assert not out.exists()


def test_cli_agreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    rows = [
        {
            "case": c,
            "method": "m",
            "pattern": "Uniform",
            "accel": r,
            "phenotype": "LVEF",
            "value_ref": 50.0 + c,
            "value_recon": 50.0 + c + rng.normal(0, 1),
        }
        for c in range(6)
        for r in (8, 16)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "pairs.csv", index=False)
    assert main(["analyse", "agreement", str(tmp_path / "pairs.csv"), "--out-dir", str(tmp_path / "ag")]) == 0
    stats = pd.read_csv(tmp_path / "ag" / "agreement.csv")
    assert len(stats) == 2
    assert {"pearson_r", "bias", "loa_low", "loa_high", "icc", "mae"} <= set(stats.columns)
    assert (tmp_path / "ag" / "figures" / "LVEF_m_Uniform.png").is_file()
    pd.DataFrame(rows).drop(columns=["accel"]).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["analyse", "agreement", str(tmp_path / "bad.csv"), "--no-plots"]) == 2
    assert "missing column(s) accel" in capsys.readouterr().err


def test_cli_mapping_and_phenotypes_from_simulate_sidecar(
    tmp_path: Path, phantom: Callable[..., object]
) -> None:
    truth_mod = pytest.importorskip("cardiomm.simulate.truth")
    ph = phantom(n_frames=4, n_slices=6, size=80, r_ed=12, r_es=9, r_epi=17)
    ti_s = [t / 1e3 for t in TI_MS]
    t1 = np.where(ph.labels == 2, 1.1, 1.7).astype(np.float32)
    gt = tmp_path / "T1map_gt.h5"
    meta = {
        "modality": "T1map",
        "ti_s": ti_s,
        "frame_dt_s": ph.frame_dt_s,
        "voxel_spacing_mm": {"z": ph.spacing_mm[0], "y": ph.spacing_mm[1], "x": ph.spacing_mm[2]},
    }
    truth_mod.write_ground_truth(gt, labels=ph.labels, tissue=ph.labels, maps={"t1": t1}, metadata=meta)
    series = np.abs(molli_signal(np.array(ti_s)[:, None, None, None], 400.0, 800.0, t1[0])).astype(np.float32)
    np.save(tmp_path / "T1map.npy", series)
    argv = ["analyse", "mapping", str(tmp_path / "T1map.npy"), "--gt", str(gt), "--out-dir", str(tmp_path)]
    assert main(argv) == 0
    row = pd.read_csv(tmp_path / "T1map_t1.csv").iloc[-1]
    assert row["mean_ms"] == pytest.approx(row["true_mean_ms"], rel=1e-3)
    assert row["true_mean_ms"] == pytest.approx(1100, rel=1e-4)
    assert main(["analyse", "phenotypes", str(gt), "--out", str(tmp_path / "p.csv")]) == 0
    res = pd.read_csv(tmp_path / "p.csv").iloc[0]
    assert res["HR (bpm)"] == pytest.approx(60 / (4 * ph.frame_dt_s))
    # spacing and frame time came from the sidecar's metadata
    assert res["LVEDV (mL)"] == pytest.approx((ph.labels[0] == 1).sum() * np.prod(ph.spacing_mm) * 1e-3)


@pytest.mark.parametrize("ti_in_comments", [False, True])
def test_cli_mapping_t1_from_a_dicom_molli_series(
    tmp_path: Path,
    phantom: Callable[..., object],
    write_dicom_series: Callable[..., None],
    ti_in_comments: bool,
) -> None:
    """A DICOM MOLLI series (TIs in ``InversionTime`` or Siemens-style ``ImageComments``): no --times."""
    ph = phantom(n_frames=1, n_slices=2, size=32, r_ed=6, r_epi=9)
    labels = ph.labels[0]
    t1 = np.where(labels == 2, 1.2, np.where(labels == 1, 1.8, 0.9))
    ti = np.array(TI_MS)[:, None, None, None] / 1e3
    series = np.rint(np.abs(molli_signal(ti, 2000.0, 3800.0, t1 / 0.9))).astype(np.uint16)  # B/A = 1.9
    write_dicom_series(
        tmp_path / "molli",
        series,
        positions=[0.0, 8.0],
        inversion_times_ms=TI_MS,
        ti_in_comments=ti_in_comments,
    )
    np.save(tmp_path / "labels.npy", labels)
    argv = [
        "analyse",
        "mapping",
        str(tmp_path / "molli"),
        "--labels",
        str(tmp_path / "labels.npy"),
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    glob = pd.read_csv(tmp_path / "out" / "molli_t1.csv").iloc[-1]
    assert glob["mean_ms"] == pytest.approx(1200.0, rel=2e-3) and glob["n_pixels"] == int((labels == 2).sum())


def test_cli_mapping_multislice_dicom_molli_with_per_slice_tis(
    tmp_path: Path, phantom: Callable[..., object], write_dicom_series: Callable[..., None]
) -> None:
    """Slices of one MOLLI series inverted at different times (slice 1 is 60 ms later) are fitted slice
    by slice with their own TIs: both recover the true T1 (a common TI list would bias slice 1)."""
    ph = phantom(n_frames=1, n_slices=2, size=32, r_ed=6, r_epi=9)
    labels = ph.labels[0]
    t1 = np.where(labels == 2, 1.2, np.where(labels == 1, 1.8, 0.9))
    tis = np.stack([np.array(TI_MS, float), np.array(TI_MS, float) + 60.0], axis=1)  # (t, z) in ms
    series = np.abs(molli_signal(tis[:, :, None, None] / 1e3, 2000.0, 3800.0, t1 / 0.9))
    write_dicom_series(
        tmp_path / "molli", np.rint(series).astype(np.uint16), positions=[0.0, 8.0], inversion_times_ms=tis
    )
    np.save(tmp_path / "labels.npy", labels)
    argv = [
        "analyse",
        "mapping",
        str(tmp_path / "molli"),
        "--labels",
        str(tmp_path / "labels.npy"),
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 0
    df = pd.read_csv(tmp_path / "out" / "molli_t1.csv")
    per_slice = df[df["slice"] != "all"]["mean_ms"].to_numpy(float)
    np.testing.assert_allclose(per_slice, 1200.0, rtol=2e-3)


def test_cli_mapping_t2star_from_dicom_echo_times_and_missing_times(
    tmp_path: Path, write_dicom_series: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    te_ms = [2.0, 5.0, 9.0, 14.0, 20.0]
    te = np.array(te_ms)[:, None, None, None] / 1e3
    decay = np.rint(exponential_decay_signal(te, 3000.0, np.full((1, 6, 6), 0.030))).astype(np.uint16)
    write_dicom_series(tmp_path / "t2s", decay, positions=[0.0], echo_times_ms=te_ms)
    argv = ["analyse", "mapping", str(tmp_path / "t2s"), "--kind", "t2star", "--out-dir", str(tmp_path)]
    assert main(argv) == 0
    assert pd.read_csv(tmp_path / "t2s_t2star.csv").iloc[-1]["mean_ms"] == pytest.approx(30.0, rel=5e-3)
    # the same series has no inversion times: T1 needs --times
    assert main(["analyse", "mapping", str(tmp_path / "t2s"), "--out-dir", str(tmp_path)]) == 2
    assert "no inversion times" in capsys.readouterr().err


def test_cli_phenotypes_from_a_dicom_cine_series(
    tmp_path: Path,
    phantom: Callable[..., object],
    write_dicom_series: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DICOM cine folder is segmented (here by a stand-in segmenter that reads the labels back from the
    intensities) with the geometry of its headers: slice distance from the positions (10 mm, not the 8 mm
    thickness), in-plane spacing from PixelSpacing, frame time from TriggerTime."""
    from cardiomm.analysis.phenotypes import compute_phenotypes
    from cardiomm.analysis.segmentation import base

    ph = phantom(n_frames=6, n_slices=4, size=96, r_ed=16, r_es=11, r_epi=22)
    seen: dict[str, object] = {}

    class FromIntensity(base.Segmenter):
        def segment(self, images: object, spacing_mm: tuple[float, float, float]) -> np.ndarray:
            seen["spacing"] = spacing_mm
            return (np.asarray(images) // 500).astype(np.uint8)

    monkeypatch.setitem(base._REGISTRY, "from-intensity", FromIntensity)
    images = ph.labels.astype(np.uint16) * 500
    positions = [0.0, 10.0, 20.0, 30.0]
    write_dicom_series(tmp_path / "cine", images, positions=positions, thickness=8.0, trigger_dt=45.0)
    out = tmp_path / "ph.csv"
    argv = ["analyse", "phenotypes", str(tmp_path / "cine"), "--segmenter", "from-intensity", "--out"]
    assert main([*argv, str(out)]) == 0
    assert seen["spacing"] == pytest.approx((10.0, 1.5, 1.25))
    row = pd.read_csv(out).iloc[0]
    expected = compute_phenotypes(ph.labels, (10.0, 1.5, 1.25), 0.045).values()
    for name in ("LVEDV", "LVESV", "LVEF", "LVM", "RVEDV", "LVCO"):
        col = next(c for c in row.index if c.startswith(name + " "))
        assert row[col] == pytest.approx(expected[name], rel=1e-6), name
    assert expected["LVEDV"] == pytest.approx(np.pi * 16**2 * 4 * 10 * 1.5 * 1.25 * 1e-3, rel=0.03)
    # prospective gating: 6 frames 45 ms apart in an R-R interval of 300 ms -> HR 200 bpm, not 222
    write_dicom_series(
        tmp_path / "pro",
        images,
        positions=positions,
        thickness=8.0,
        trigger_dt=45.0,
        nominal_interval_ms=300.0,
    )
    assert main([*argv[:2], str(tmp_path / "pro"), *argv[3:], str(tmp_path / "pro.csv")]) == 0
    assert pd.read_csv(tmp_path / "pro.csv").iloc[0]["HR (bpm)"] == pytest.approx(200.0)
    assert row["HR (bpm)"] == pytest.approx(60 / (6 * 0.045))
    # no trigger times (all 0) but the R-R interval recorded: the heart rate still comes from it
    write_dicom_series(
        tmp_path / "rr", images, positions=positions, trigger_dt=0.0, nominal_interval_ms=300.0
    )
    assert main([*argv[:2], str(tmp_path / "rr"), *argv[3:], str(tmp_path / "rr.csv")]) == 0
    assert pd.read_csv(tmp_path / "rr.csv").iloc[0]["HR (bpm)"] == pytest.approx(200.0)


@pytest.fixture
def from_intensity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register segmenter ``from-intensity``: labels read back from DICOM intensities (label x 500)."""
    from cardiomm.analysis.segmentation import base

    class FromIntensity(base.Segmenter):
        def segment(self, images: object, spacing_mm: tuple[float, float, float]) -> np.ndarray:
            return (np.asarray(images) // 500).astype(np.uint8)

    monkeypatch.setitem(base._REGISTRY, "from-intensity", FromIntensity)


def test_cli_phenotypes_dicom_series_selects_one_series_of_a_study(
    tmp_path: Path,
    phantom: Callable[..., object],
    write_dicom_series: Callable[..., None],
    from_intensity: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A study folder with two cine stacks (short-axis and sagittal): refused with the series listed,
    measured with ``--dicom-series``, exactly as the short-axis cine alone."""
    import pydicom

    ph = phantom(n_frames=6, n_slices=4, size=96, r_ed=16, r_es=11, r_epi=22)
    images = ph.labels.astype(np.uint16) * 500
    write_dicom_series(tmp_path / "study" / "cine", images, positions=[0.0, 10.0, 20.0, 30.0])
    write_dicom_series(tmp_path / "study" / "sag", images, positions=[0.0, 10.0, 20.0, 30.0], uid="1.2.8")
    for f in (tmp_path / "study").rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.SeriesDescription = "SAX cine" if f.parent.name == "cine" else "sagittal cine"
        if f.parent.name == "sag":  # slices along x
            ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
            ds.ImagePositionPatient = [ds.ImagePositionPatient[2], 0, 0]
        ds.save_as(f, enforce_file_format=True)
    argv = ["analyse", "phenotypes", str(tmp_path / "study"), "--segmenter", "from-intensity", "--no-qc-png"]
    assert main([*argv, "--out", str(tmp_path / "no.csv")]) != 0  # two cine stacks: which one?
    assert "'sagittal cine' (24 images)" in capsys.readouterr().err
    assert not (tmp_path / "no.csv").exists()
    assert main([*argv, "--dicom-series", "sax", "--out", str(tmp_path / "sel.csv")]) == 0
    alone = [*argv[:2], str(tmp_path / "study" / "cine"), *argv[3:], "--out", str(tmp_path / "alone.csv")]
    assert main(alone) == 0
    sel, ref = (pd.read_csv(tmp_path / n).drop(columns="case") for n in ("sel.csv", "alone.csv"))
    pd.testing.assert_frame_equal(sel, ref)


def test_cli_phenotypes_refuse_a_dicom_stack_with_a_missing_slice(
    tmp_path: Path,
    phantom: Callable[..., object],
    write_dicom_series: Callable[..., None],
    from_intensity: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Slices at 0, 10, 30, 40 mm (20 missing): the median gap would silently drop a slice of every
    volume, so the stack is refused, nothing is written, and --spacing is the way to insist."""
    ph = phantom(n_frames=4, n_slices=4, size=64, r_ed=12, r_es=8, r_epi=18)
    write_dicom_series(
        tmp_path / "cine", ph.labels.astype(np.uint16) * 500, positions=[0.0, 10.0, 30.0, 40.0]
    )
    out = tmp_path / "ph.csv"
    argv = [
        "analyse",
        "phenotypes",
        str(tmp_path / "cine"),
        "--segmenter",
        "from-intensity",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not evenly spaced: 20.00 mm between slices 1 and 2, 10.00 mm elsewhere" in err
    assert str(tmp_path / "cine") in err and not out.exists()
    assert main([*argv, "--spacing", "10,1.5,1.25"]) == 0 and out.exists()


def test_cli_phenotypes_use_the_slice_spacing_of_the_info_csv(
    tmp_path: Path, phantom: Callable[..., object]
) -> None:
    """Volumes take the centre-to-centre distance (``SliceSpacing``, written by ``simulate from-images``)
    over the thickness when the CSV has both (8 mm slices with a 2 mm gap)."""
    ph = phantom(n_frames=4, n_slices=3, size=64, r_ed=12, r_es=8, r_epi=18)
    np.save(tmp_path / "seg.npy", ph.labels)
    csv = (
        "Parameter,Value\nFOVx(mm),96\nFOVy(mm),96\nReconMatrix_X,64\nReconMatrix_Y,64\n"
        "SliceThickness(mm),8\nSliceSpacing(mm),10\nTR(ms),50\n"
    )
    (tmp_path / "seg_info.csv").write_text(csv)
    assert main(["analyse", "phenotypes", str(tmp_path / "seg.npy"), "--out", str(tmp_path / "p.csv")]) == 0
    row = pd.read_csv(tmp_path / "p.csv").iloc[0]
    assert row["LVEDV (mL)"] == pytest.approx((ph.labels[0] == 1).sum() * 10 * 1.5 * 1.5 * 1e-3)
