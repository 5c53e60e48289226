"""``cardiomm demo``: the whole story on a laptop CPU in a few minutes.

1. Simulate a small multi-center test set (3 internal and 3 external, zero-shot centers; cine plus one
   other modality each), with the nine protocol masks per file (Uniform / ktGaussian / ktRadial at
   8x / 16x / 24x, ACS 20).
2. Reconstruct every (file, mask) with the shipped CardioMM checkpoint and every baseline; the test
   sets of steps 4 and 5 are synthesised first and reconstructed in the same pool of worker processes
   (:func:`cardiomm.scoring.reconstruct_trees`: one job per method and source file, longest first).
3. Evaluate with the CMRxRecon2025 / CardioMM metric protocol and write the report (tables, radar
   charts, example images).
4. Real anatomy: one real CC0 heart (three slices, ED / ES) turned into k-space at an unseen center and
   reconstructed zero-shot by every method (:mod:`cardiomm.demo.real`).
5. Clinical measurements: one subject's full short-axis cine stack at 8x / 16x / 24x (CardioMM and zero
   filling), segmented with ``simunet``; phenotypes vs fully sampled and truth
   (:mod:`cardiomm.demo.phenotypes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cardiomm.demo.real import prepare_real_demo, score_real_demo
from cardiomm.scoring import ReconTree, build_methods, evaluate_and_report, reconstruct_trees
from cardiomm.utils.precision import resolve_precision

if TYPE_CHECKING:
    from rich.progress import Progress


__all__ = ["DemoResult", "run_demo", "DEMO_METHODS", "DEMO_SEED"]

#: Methods of the demo, in report order.
DEMO_METHODS: tuple[str, ...] = ("zf", "sense", "cs", "varnet", "promptmr", "cardiomm")
#: Seed of the demo data (the demo model was trained on ``simulate mini --size small --seed 0``).
DEMO_SEED = 2026


@dataclass
class DemoResult:
    """Paths and numbers produced by :func:`run_demo`."""

    data: Path
    recon: Path
    metrics_csv: Path
    report: Path
    table_markdown: str
    seconds: float
    skipped: list[str]
    real_table_markdown: str = ""
    real_report: Path | None = None
    phenotypes_csv: Path | None = None
    phenotypes_markdown: str = ""
    #: Seconds of reconstruction per method, summed over the worker processes (simulated centers; the
    #: real heart; the clinical step's cine stack).
    recon_seconds: dict[str, float] = field(default_factory=dict)
    real_seconds: dict[str, float] = field(default_factory=dict)
    clinical_seconds: dict[str, float] = field(default_factory=dict)
    #: Wall seconds per step: ``simulate`` (all three test sets), ``reconstruct`` (all of them, one pool of
    #: worker processes), ``evaluate`` (simulated centers), ``real``, ``clinical`` (their evaluation).
    steps: dict[str, float] = field(default_factory=dict)
    #: Arithmetic the learned methods ran at (``auto`` resolved: ``fp32`` or ``bf16``).
    precision: str = "fp32"


def run_demo(
    out: Path,
    *,
    methods: Sequence[str] = DEMO_METHODS,
    seed: int = DEMO_SEED,
    log: Callable[[str], None] = print,
    progress: Progress | None = None,
    phenotypes: bool = True,
    real: bool = True,
    workers: int = 2,
    device: str = "cpu",
    precision: str = "auto",
) -> DemoResult:
    """Run the demo into ``out`` (``data/``, ``recon/``, ``metrics.csv``, ``report/``, ``real/``,
    ``clinical/``); learned methods on ``device`` at ``precision`` (:mod:`cardiomm.utils.precision`;
    ``auto``: bf16 on a CPU that computes it natively, else fp32)."""
    from cardiomm.evaluation.aggregate import group_table, markdown_table  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch
    from cardiomm.simulate import generate_mini  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    t0 = time.perf_counter()
    precision = resolve_precision(precision, device).value
    out = Path(out)
    data = out / "data"
    if not (data / "manifest.json").is_file():
        log(f"[1/6] simulating the multi-center test set -> {data}")
        generate_mini(data, size="demo", seed=seed)
    else:
        log(f"[1/6] reusing the simulated test set in {data}")
    recons, skipped = build_methods(methods, log=log, device=device, precision=precision)
    names = [m for m in methods if m in recons]
    trees = [ReconTree(data, out, tuple(names))]
    if real and recons:
        log("      real anatomy: a real heart (Sunnybrook, CC0), k-space at an unseen center")
        trees.append(ReconTree(prepare_real_demo(out / "real", seed=seed), out / "real", tuple(names)))
    clinical = tuple(m for m in ("cardiomm", "zf") if m in recons) if phenotypes else ()
    if clinical:
        from cardiomm.demo.phenotypes import PHENOTYPE_MASKS, prepare_phenotype_demo  # noqa: PLC0415 - lazy: importing this module loads no numpy, scipy, torch

        log("      clinical measurements: one subject's short-axis cine stack")
        clinical_data = prepare_phenotype_demo(out / "clinical", seed=seed)
        trees.append(ReconTree(clinical_data, out / "clinical", clinical, PHENOTYPE_MASKS))
    steps = {"simulate": time.perf_counter() - t0}
    t_step = time.perf_counter()
    log(f"[2/6] reconstructing with {', '.join(names)} ({workers} processes; learned ones at {precision})")
    bar = _Bar(progress, None, "reconstructing (simulated centers, real heart, clinical stack)")
    spent = reconstruct_trees(trees, workers=workers, reuse=False, device=device, precision=precision)
    steps["reconstruct"] = time.perf_counter() - t_step
    bar.done()
    t_step = time.perf_counter()
    log("[3-4/6] evaluating and reporting the simulated centers")
    scores = evaluate_and_report(
        data, out, title="cardiomm demo: zero-shot multi-center reconstruction", log=log
    )
    df, recon_root, metrics_csv, report = scores.metrics, scores.recon, scores.metrics_csv, scores.report
    table = markdown_table(
        group_table(df, ["Role", "Mask", "AF"], "PSNR", [m for m in DEMO_METHODS if m in recons]), 2
    )
    result = DemoResult(data, recon_root, metrics_csv, report, table, 0.0, skipped)
    result.recon_seconds, result.steps, result.precision = spent[0], steps, precision
    steps["evaluate"] = time.perf_counter() - t_step
    if real and recons:
        log("[5/6] real anatomy: scoring every method on the real heart")
        t_step = time.perf_counter()
        rd = score_real_demo(out / "real", names, method_order=DEMO_METHODS, seconds=spent[1], log=log)
        steps["real"] = time.perf_counter() - t_step
        result.real_table_markdown, result.real_report = rd.table_markdown, rd.report
        result.real_seconds = rd.seconds
    if clinical:
        from cardiomm.demo.phenotypes import phenotype_table  # noqa: PLC0415 - lazy: importing this module loads no numpy, scipy, torch

        log("[6/6] clinical measurements: phenotypes at 8x / 16x / 24x")
        t_step = time.perf_counter()
        ph = phenotype_table(out / "clinical", log=log)
        steps["clinical"] = time.perf_counter() - t_step
        result.phenotypes_csv, result.phenotypes_markdown = ph.csv, ph.table_markdown
        result.clinical_seconds = spent[-1]
    result.seconds = time.perf_counter() - t0
    return result


class _Bar:
    """Adapter over an optional rich Progress."""

    def __init__(self, progress: Progress | None, total: int | None, label: str = "reconstructing") -> None:
        self.progress = progress
        self.label = label
        self.task = progress.add_task(label, total=total) if progress is not None else None

    def done(self) -> None:
        """Mark an open-ended (``total=None``) task finished."""
        if self.progress is not None and self.task is not None:  # both set, or neither
            self.progress.update(self.task, total=1, completed=1)

    def advance(self, name: str) -> None:
        if self.progress is not None and self.task is not None:  # both set, or neither
            self.progress.update(self.task, advance=1, description=f"{self.label} ({name})")
