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
    assert main(["evaluate", "--pred", str(rec), "--ref", str(out / "data"), "--out", str(tmp_path / "m.csv")]) == 0
    rows = {r["File"]: r for r in csv.DictReader((tmp_path / "m.csv").open())}
    assert rows.keys() == demo_rows.keys()
    for key, row in rows.items():
        for col in ("PSNR", "SSIM", "NMSE"):
            assert float(row[col]) == float(demo_rows[key][col]), (key, col)
