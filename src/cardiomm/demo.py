"""``cardiomm demo``: the whole story on a laptop CPU in a few minutes.

1. Simulate a small multi-center test set (3 internal and 3 external, zero-shot centers; cine plus one
   other modality each), with the nine protocol masks per file (Uniform / ktGaussian / ktRadial at
   8x / 16x / 24x, ACS 20).
2. Reconstruct every (file, mask) with the shipped CardioMM checkpoint and every baseline.
3. Evaluate with the CMRxRecon2025 / CardioMM metric protocol and write the report (tables, radar
   charts, example images).
4. Clinical measurements: one subject's full short-axis cine stack at 8x / 16x / 24x (CardioMM and zero
   filling), segmented with ``simunet``; phenotypes vs fully sampled and truth
   (:mod:`cardiomm.demo_phenotypes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cardiomm.recon.base import Reconstructor
    from cardiomm.recon.pipeline import ReconTask

__all__ = ["DemoResult", "run_demo", "reconstruct_tasks", "DEMO_METHODS", "DEMO_SEED"]

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
    phenotypes_csv: Path | None = None
    phenotypes_markdown: str = ""


def run_demo(
    out: Path,
    *,
    methods: Sequence[str] = DEMO_METHODS,
    seed: int = DEMO_SEED,
    log: Callable[[str], None] = print,
    progress: object | None = None,
    phenotypes: bool = True,
) -> DemoResult:
    """Run the demo into ``out`` (``data/``, ``recon/``, ``metrics.csv``, ``report/``, ``clinical/``)."""
    import pandas as pd

    from cardiomm.errors import ModelNotFoundError
    from cardiomm.evaluation.aggregate import group_table, markdown_table
    from cardiomm.evaluation.examples import collect_examples
    from cardiomm.evaluation.report import write_report
    from cardiomm.evaluation.tree import COLUMNS, evaluate_tree
    from cardiomm.recon.pipeline import discover_tasks
    from cardiomm.recon.registry import get_reconstructor
    from cardiomm.simulate import generate_mini

    t0 = time.perf_counter()
    out = Path(out)
    data, recon_root = out / "data", out / "recon"
    if not (data / "manifest.json").is_file():
        log(f"[1/5] simulating the multi-center test set -> {data}")
        generate_mini(data, size="demo", seed=seed)
    else:
        log(f"[1/5] reusing the simulated test set in {data}")
    recons, skipped = {}, []
    for name in methods:
        try:
            recons[name] = get_reconstructor(name)
        except ModelNotFoundError as exc:
            skipped.append(name)
            log(f"      skipping {name}: {exc.message}")
    tasks = discover_tasks(data, recon_root, "_")  # one task per (file, mask); outputs per method below
    total = len(tasks) * len(recons)
    log(f"[2/5] reconstructing {len(tasks)} (file, mask) pairs with {', '.join(recons)}")
    reconstruct_tasks(tasks, recons, recon_root, on_recon=_Bar(progress, total).advance)
    log("[3/5] evaluating (per-frame 99.5th-percentile normalisation, PSNR / SSIM / NMSE)")
    rows = evaluate_tree(recon_root, data)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    metrics_csv = out / "metrics.csv"
    from cardiomm.utils.atomic import atomic_path

    with atomic_path(metrics_csv) as tmp:
        df.to_csv(tmp, index=False)
    log("[4/5] writing the report")
    examples = collect_examples(df, recon_root, data)
    report = write_report(df, out / "report", examples=examples, title="cardiomm demo: zero-shot multi-center reconstruction")
    table = markdown_table(group_table(df, ["Role", "Mask", "AF"], "PSNR", [m for m in DEMO_METHODS if m in recons]), 2)
    result = DemoResult(data, recon_root, metrics_csv, report, table, 0.0, skipped)
    clinical = {m: recons[m] for m in ("cardiomm", "zf") if m in recons}
    if phenotypes and clinical:
        from cardiomm.demo_phenotypes import run_phenotype_demo

        log("[5/5] clinical measurements: one subject's short-axis cine stack at 8x / 16x / 24x")
        bar5 = _Bar(progress, 3 * len(clinical), "reconstructing the cine stack")
        ph = run_phenotype_demo(out / "clinical", clinical, seed=seed, log=log, on_recon=bar5.advance)
        result.phenotypes_csv, result.phenotypes_markdown = ph.csv, ph.table_markdown
    result.seconds = time.perf_counter() - t0
    return result


def reconstruct_tasks(
    tasks: Sequence[ReconTask],
    recons: Mapping[str, Reconstructor],
    recon_root: Path,
    *,
    on_recon: Callable[[str], None] | None = None,
) -> None:
    """Reconstruct every task (listed with method ``"_"`` under ``recon_root``) with every method; each
    file is loaded once and written to ``recon_root/<method>/...``."""
    from cardiomm.recon.outputs import write_outputs
    from cardiomm.recon.pipeline import infer_pattern, load_task, reconstruct_volume
    from cardiomm.recon.prompts import task_prompts

    for task in tasks:
        volume, mask = load_task(task)
        mask_type, accel = infer_pattern(mask, task.mask_path)
        meta, us = task_prompts(task, mask_type, accel)
        for name, recon in recons.items():
            vol, _ = reconstruct_volume(
                volume, mask, recon, mask_type=mask_type, acceleration=accel,
                metadata_prompt=meta, undersampling_prompt=us, batch_size=8,
            )
            write_outputs(replace(task, out_path=recon_root / name / task.out_path.relative_to(recon_root / "_")), vol)
            if on_recon is not None:
                on_recon(name)


class _Bar:
    """Adapter over an optional rich Progress."""

    def __init__(self, progress: object | None, total: int, label: str = "reconstructing") -> None:
        self.progress = progress
        self.label = label
        self.task = progress.add_task(label, total=total) if progress is not None else None  # type: ignore[attr-defined]

    def advance(self, name: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, description=f"{self.label} ({name})")  # type: ignore[attr-defined]
