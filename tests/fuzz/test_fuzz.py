"""Fuzz campaigns over every reader format (issue 16 item 7), and the harness itself.

The fast subset runs in the default test run; the large campaign (30,000 inputs by default,
``CARDIOMM_FUZZ_N`` to change it; about 2 minutes on 2 idle cores) is marked ``slow``. A failure
message lists the failing jobs; ``save_failures`` rebuilds their inputs under the test's tmp folder
(``python -m tests.fuzz --out DIR`` does the same by hand).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .mutators import MUTATORS, applicable, mutate
from .oracle import TARGETS, readers
from .runner import job_stream, run_campaign, run_files, save_failures

FAST_N = 240
LARGE_N = int(os.environ.get("CARDIOMM_FUZZ_N", "30000"))


def _check(report: object, tmp_path: Path) -> None:
    from .runner import Report

    assert isinstance(report, Report)
    print(report.summary())
    saved = save_failures(report, tmp_path / "failures")
    assert not report.failures(), report.summary() + f"\nreproducers: {[str(p) for p in saved]}"


def test_fuzz_fast_subset_has_no_failures(tmp_path: Path) -> None:
    report = run_campaign(FAST_N, seed=0, workers=2, timeout=120.0, workdir=tmp_path)
    assert len(report.inputs) >= FAST_N
    counts = report.counts()
    assert counts["ok"] > 0 and counts["typed"] > 0  # the mutations neither all pass nor all fail
    _check(report, tmp_path)


@pytest.mark.slow
def test_fuzz_large_campaign_has_no_failures(tmp_path: Path) -> None:
    report = run_campaign(LARGE_N, seed=2024, workers=2, timeout=120.0, workdir=tmp_path)
    assert len(report.inputs) >= LARGE_N
    assert (
        sum(r.must_fail for r in report.inputs) > LARGE_N // 10
    )  # structured corruption is well represented
    readers_hit = {r.job.reader for r in report.inputs}
    assert readers_hit >= {reader for _, reader in TARGETS if reader != "read_twix_kspace"}
    _check(report, tmp_path)


def test_fuzz_harness_counts_crashes_and_hangs(tmp_path: Path) -> None:
    """A segfault and a hang in a reader are recorded; the next inputs run in a fresh worker."""
    good = tmp_path / "scan_info.csv"
    good.write_text("Parameter,Value\nTR(ms),3.0\n")
    cases = [("_crash", good), ("read_scan_csv", good), ("_hang", good), ("read_scan_csv", good)]
    results = run_files(cases, timeout=10.0, workdir=tmp_path / "run")
    assert [r.outcome for r in results] == ["crash", "ok", "hang", "ok"], [r.detail for r in results]
    assert "signal 11" in results[0].detail


def test_fuzz_jobs_and_mutations_are_deterministic(tmp_path: Path) -> None:
    first = [j for _, j in zip(range(50), job_stream(7, TARGETS), strict=False)]
    again = [j for _, j in zip(range(50), job_stream(7, TARGETS), strict=False)]
    assert first == again
    from .seeds import make_seeds

    seeds = make_seeds(tmp_path / "seeds")
    for seed in ("mat5", "training", "ismrmrd", "dicom", "niftigz", "csv"):
        for name, _ in applicable(seed):
            dst = tmp_path / "case" / seeds[seed].name
            outs = []
            for _ in range(2):
                shutil.rmtree(dst.parent, ignore_errors=True)
                dst.parent.mkdir()
                mutate(seed, seeds[seed], dst, name, 123, "read_kspace")
                files = sorted(dst.rglob("*")) if dst.is_dir() else [dst]
                outs.append([f.read_bytes() for f in files if f.is_file()])
            if seed != "dicom" or name != "dicom_field":  # pydicom writes fresh UIDs when it saves
                assert outs[0] == outs[1], (seed, name)


def test_fuzz_covers_every_reader_and_format() -> None:
    assert {reader for _, reader in TARGETS} | {"_crash", "_hang"} == set(readers())
    seeds_with_structure = {s for _, (_, seeds, _) in MUTATORS.items() if seeds for s in seeds}
    assert seeds_with_structure >= {s for s, _ in TARGETS} - {"mat4"}
