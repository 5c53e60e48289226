"""`cardiomm demo` (zero-filled only, for speed) and its reproduction by `reconstruct` + `evaluate`."""

from __future__ import annotations

import csv
from pathlib import Path

from cardiomm.cli.main import main


def test_demo_numbers_are_reproduced_by_reconstruct_and_evaluate(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--methods", "zf"]) == 0
    demo_rows = {r["File"]: r for r in csv.DictReader((out / "metrics.csv").open())}
    assert len(demo_rows) == 99  # 11 test scans x 9 masks
    assert {r["Role"] for r in demo_rows.values()} == {"internal", "external"}
    assert (out / "report" / "report.md").read_text().count("|") > 50
    assert (out / "report" / "radar_psnr_center.png").stat().st_size > 1000
    # the clinical step: phenotypes of one subject's cine stack, fully sampled close to the truth
    ph = {r["phenotype"]: r for r in csv.DictReader((out / "clinical" / "phenotypes.csv").open())}
    assert set(ph) == {"LVEDV", "LVESV", "LVEF", "LVM", "RVEDV", "RVEF", "WT_Global"}
    assert {"zf 8x", "zf 16x", "zf 24x"} <= set(ph["LVEF"])
    for name in ("LVEDV", "RVEDV"):
        assert abs(float(ph[name]["fully sampled"]) / float(ph[name]["truth"]) - 1) < 0.05

    rec = tmp_path / "rec"
    assert main(["reconstruct", str(out / "data"), "--out", str(rec), "--method", "zf"]) == 0
    assert (
        main(["evaluate", "--pred", str(rec), "--ref", str(out / "data"), "--out", str(tmp_path / "m.csv")])
        == 0
    )
    rows = {r["File"]: r for r in csv.DictReader((tmp_path / "m.csv").open())}
    assert rows.keys() == demo_rows.keys()
    for key, row in rows.items():
        for col in ("PSNR", "SSIM", "NMSE"):
            assert float(row[col]) == float(demo_rows[key][col]), (key, col)


def test_demo_real_anatomy_step_matches_its_reconstructions(tmp_path: Path) -> None:
    """The real-anatomy step: the shipped CC0 subject (mid slice) through the external center, nine masks,
    zero filling; its numbers equal `evaluate` on its own reconstructions, and its k-space is the real
    image's."""
    import json

    import nibabel as nib
    import numpy as np

    from cardiomm.demo.real import real_subject_path, run_real_demo
    from cardiomm.io.kspace import read_cmrxrecon
    from cardiomm.physics.fft import ifft2c_np

    result = run_real_demo(tmp_path / "real", ["zf"], method_order=["zf"], seed=2026, log=lambda _: None)
    assert result.n_reconstructions == 9
    assert set(result.seconds) == {"zf"} and result.seconds["zf"] > 0
    manifest = json.loads((result.data / "manifest.json").read_text())
    (entry,) = manifest["files"]
    assert entry["center"] == "Center106" and entry["split"] == "TestSet" and len(entry["masks"]) == 9
    assert nib.load(str(real_subject_path())).shape == (256, 256, 3, 2)
    kspace = read_cmrxrecon(result.data / entry["path"]).frames().numpy()  # (t*z, c, ky, kx)
    assert (
        kspace.shape[0] == 2 and kspace.shape[-1] == 2 * 160
    )  # mid slice at ED and ES  # 2x readout oversampling of a 160 matrix
    rss = np.sqrt((np.abs(ifft2c_np(kspace)) ** 2).sum(1))
    # outside the central FOV only noise: its RSS is sigma sqrt(c) (channel powers sum to c);
    # the object is inside
    floor = entry["noise_std"] * np.sqrt(kspace.shape[1])
    assert 0.9 * floor < rss[:, :, :60].mean() < 1.02 * floor
    assert rss[:, :, 80:240].mean() > 2 * floor
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(tmp_path / "real" / "recon"),
                "--ref",
                str(result.data),
                "--out",
                str(tmp_path / "m.csv"),
            ]
        )
        == 0
    )
    again = {r["File"]: float(r["PSNR"]) for r in csv.DictReader((tmp_path / "m.csv").open())}
    demo = {r["File"]: float(r["PSNR"]) for r in csv.DictReader(result.metrics_csv.open())}
    assert again == demo and len(demo) == 9 and all(20 < v < 40 for v in demo.values())


def test_demo_reports_its_step_times_and_method_seconds(tmp_path: Path) -> None:
    """``run_demo`` times its steps (what ``benchmarks/bench_demo.py`` reports) and the seconds each
    method's reconstructions took (summed over the 2 worker processes, so at most twice the step's wall
    time); the steps add up to no more than the total."""
    from cardiomm.demo import run_demo

    result = run_demo(tmp_path / "demo", methods=["zf"], log=lambda _: None, real=False, phenotypes=False)
    assert set(result.steps) == {"simulate", "reconstruct", "evaluate"}
    assert all(v > 0 for v in result.steps.values())
    assert sum(result.steps.values()) <= result.seconds + 1e-6
    assert set(result.recon_seconds) == {"zf"}
    assert 0 < result.recon_seconds["zf"] <= 2 * result.steps["reconstruct"]  # summed over 2 processes
    assert result.real_seconds == {}
    from cardiomm.utils.precision import native_cpu_bf16

    assert result.precision == ("bf16" if native_cpu_bf16() else "fp32")  # the default, auto, resolved
