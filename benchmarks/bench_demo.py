"""``cardiomm demo`` end to end: wall time per step and how well the two worker processes are used.

One run of :func:`cardiomm.demo.run_demo` (every method, the real heart, the clinical step, 2 worker
processes, CPU) into a fresh temporary folder. Reported: the wall time of each step, the seconds of
reconstruction each method took (summed over the processes, one torch thread each), and the scheduling
efficiency of each reconstruction step, ``sum of method seconds / (workers x step wall time)`` (1.0 =
both processes busy from start to end; the baseline is the same run's own work). Issue 14's target
is a demo of <= 180 s on 2 cores.
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
    steps = result.steps
    lines = [
        "## `cardiomm demo` (CPU)",
        "",
        "The whole `cardiomm demo` (simulation, 6 methods x 99 (file, mask) pairs, evaluation and report, "
        f"the real heart, the clinical step), {WORKERS} worker processes, one run (1-min load average at "
        f"start {load:.1f}). Target (issue 14): <= 180 s on 2 cores.",
        "",
        f"**Total: {result.seconds:.0f} s.**",
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
        "`simulate` synthesises the three test sets (simulated centers, the real heart's k-space, the "
        "clinical cine stack); `reconstruct` includes starting the worker processes and building the "
        "methods; `evaluate` is the protocol metrics and the report of the simulated centers, `real` the "
        "same for the real heart, `clinical` the segmentation and phenotypes of the cine stack.",
    ]
    return "\n".join(lines)
