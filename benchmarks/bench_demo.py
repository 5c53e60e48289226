"""``cardiomm demo`` end to end: wall time per step and how well the two worker processes are used.

One run of :func:`cardiomm.demo.run_demo` (every method, the real heart, the clinical step, 2 worker
processes, CPU) into a fresh temporary folder. Reported: the wall time of each step, the seconds of
reconstruction each method took (summed over the processes, one torch thread each), and the scheduling
efficiency of each reconstruction step, ``sum of method seconds / (workers x step wall time)`` (1.0 =
both processes busy from start to end; the baseline is the same run's own work). Issue 14's target
is a demo of <= 180 s on 2 cores. The demo's default precision is ``auto`` (bf16 on a CPU that
computes it natively); where that resolves to bf16, a second run at fp32 gives the baseline, its
total time and the largest PSNR change of any (file, mask, method).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

WORKERS = 2


def run() -> str:
    """Run the demo benchmark and return its Markdown section."""
    from cardiomm.demo import run_demo

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(Path(tmp) / "demo", log=lambda _: None, workers=WORKERS)
        baseline = None
        if result.precision != "fp32":
            fp32 = run_demo(Path(tmp) / "fp32", log=lambda _: None, workers=WORKERS, precision="fp32")
            baseline = (fp32.seconds, _max_psnr_change(result.metrics_csv, fp32.metrics_csv))
    steps = result.steps
    lines = [
        "## `cardiomm demo` (CPU)",
        "",
        "The whole `cardiomm demo` (simulation, 6 methods x 99 (file, mask) pairs, evaluation and report, "
        f"the real heart, the clinical step), {WORKERS} worker processes, one run (1-min load average at "
        f"start {load:.1f}). Target (issue 14): <= 180 s on 2 cores.",
        "",
        f"**Total: {result.seconds:.0f} s** (learned methods at `{result.precision}`, the default "
        "`--precision auto`).",
        "",
        "| step | wall (s) |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in steps.items()]
    lines += [
        "",
        "| method | simulated centers (s) | real heart (s) | clinical stack (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in result.recon_seconds.items():
        real = result.real_seconds.get(name, float("nan"))
        clinical = result.clinical_seconds.get(name, float("nan"))
        lines.append(f"| {name} | {seconds:.1f} | {real:.1f} | {clinical:.1f} |")
    spent = sum(
        sum(part.values()) for part in (result.recon_seconds, result.real_seconds, result.clinical_seconds)
    )
    capacity = WORKERS * steps["reconstruct"]
    lines += [
        "",
        f"Reconstruction (the three test sets in one pool): {spent:.1f} method seconds in {capacity:.1f} "
        f"seconds of {WORKERS} workers' wall time, efficiency {spent / capacity:.2f}.",
        "",
    ]
    if baseline is not None:
        lines += [
            f"The same demo at `--precision fp32` (same run, after it): {baseline[0]:.0f} s; "
            f"{result.precision} / fp32 = {result.seconds / baseline[0]:.2f}. Largest PSNR change of any "
            f"(file, mask, method) of the simulated centers: {baseline[1]:.3f} dB.",
            "",
        ]
    lines += [
        "`simulate` synthesises the three test sets (simulated centers, the real heart's k-space, the "
        "clinical cine stack); `reconstruct` includes starting the worker processes and building the "
        "methods; `evaluate` is the protocol metrics and the report of the simulated centers, `real` the "
        "same for the real heart, `clinical` the segmentation and phenotypes of the cine stack.",
    ]
    return "\n".join(lines)


def _max_psnr_change(a: Path, b: Path) -> float:
    """The largest absolute PSNR difference (dB) between two demo ``metrics.csv`` of the same rows."""
    import pandas as pd

    keys = ["Method", "Modality", "Center", "Mask", "AF", "File"]
    merged = pd.read_csv(a).merge(pd.read_csv(b), on=keys, suffixes=("_a", "_b"))
    return float((merged["PSNR_a"] - merged["PSNR_b"]).abs().max())
