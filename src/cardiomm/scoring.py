"""Score reconstruction methods on a TestSet tree: reconstruct every (file, mask), evaluate, report.

One place for what ``cardiomm demo`` (simulated centers, and its real-anatomy part) and the real-anatomy
benchmark (``python benchmarks/run.py real_anatomy``) both do: every method reconstructs every
``(file, mask)`` pair of the tree (:func:`cardiomm.recon.batch.reconstruct_tasks`), the
reconstructions are scored by the CMRxRecon2025 / CardioMM protocol
(:func:`cardiomm.evaluation.tree.evaluate_tree`), and a report with tables, radar charts and example
images with error maps is written.
"""

from __future__ import annotations

import fnmatch
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardiomm.errors import ModelNotFoundError
from cardiomm.utils.atomic import atomic_path
from cardiomm.utils.hashing import sha256_file

if TYPE_CHECKING:
    from cardiomm.recon.base import Reconstructor
    from cardiomm.recon.pipeline import ReconTask

__all__ = [
    "Scores",
    "tree_tasks",
    "evaluate_and_report",
    "build_methods",
    "reconstruct_methods",
]


@dataclass
class Scores:
    """What :func:`evaluate_and_report` wrote and measured."""

    metrics: Any  # pandas DataFrame with the columns of cardiomm.evaluation.tree.COLUMNS
    metrics_csv: Path
    report: Path
    recon: Path


def build_methods(
    methods: Sequence[str],
    models: Mapping[str, str | Path] | None = None,
    *,
    log: Callable[[str], None] = print,
    device: str = "cpu",
    precision: str = "fp32",
    dc: str = "soft",
) -> tuple[dict[str, Reconstructor], list[str]]:
    """Reconstructors by name (``models`` overrides a learned method's checkpoint; learned methods on
    ``device`` at ``precision``, see :mod:`cardiomm.utils.precision`, with the data consistency ``dc``,
    :class:`~cardiomm.recon.learned.LearnedRecon`); missing ones skipped."""
    from cardiomm.recon.registry import get_reconstructor  # noqa: PLC0415 - lazy: importing this module loads no numpy, torch

    recons: dict[str, Reconstructor] = {}
    skipped: list[str] = []
    for name in methods:
        try:
            recons[name] = get_reconstructor(
                name, (models or {}).get(name), device=device, precision=precision, dc=dc
            )
        except ModelNotFoundError as exc:
            skipped.append(name)
            log(f"      skipping {name}: {exc.message}")
    return recons, skipped


def tree_tasks(data: Path, recon_root: Path, include: Sequence[str] = ()) -> list[ReconTask]:
    """Every ``(file, mask)`` task of the TestSet tree ``data`` (listed for any method under
    ``recon_root``), only mask files matching one of ``include`` when given."""
    from cardiomm.recon.batch import ANY_METHOD  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, scipy, torch
    from cardiomm.recon.pipeline import discover_tasks  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, scipy, torch

    tasks = discover_tasks(data, recon_root, ANY_METHOD)
    if include:
        tasks = [
            t
            for t in tasks
            if t.mask_path is not None and any(fnmatch.fnmatch(t.mask_path.name, g) for g in include)
        ]
    return tasks


def _marker(
    method: str, n_tasks: int, model: str | Path | None, precision: str, dc: str = "soft"
) -> dict[str, object]:
    """Content of a method folder's ``.complete`` marker: for a learned method also the SHA-256 of the
    weights it ran (the shipped checkpoint when ``model`` is None, so that new shipped weights are never
    mistaken for old results), and its precision and data consistency unless fp32 / soft."""
    from cardiomm.recon.registry import LEARNED_METHODS  # noqa: PLC0415 - lazy: importing this module loads no numpy, torch

    marker: dict[str, object] = {"tasks": n_tasks, "model": str(model)}
    if method in LEARNED_METHODS:
        marker["weights_sha256"] = _weights_sha256(method, model)
    if method in LEARNED_METHODS and str(precision) != "fp32":
        marker["precision"] = str(precision)
    if method in LEARNED_METHODS and str(dc) != "soft":
        marker["dc"] = str(dc)
    return marker


def _weights_sha256(method: str, model: str | Path | None) -> str | None:
    """SHA-256 of the weights file of ``model`` (or of ``method``'s shipped checkpoint); None if absent."""
    from cardiomm.models.checkpoint import checkpoint_paths  # noqa: PLC0415 - lazy: importing this module loads no torch
    from cardiomm.recon.learned import CHECKPOINT_DIR  # noqa: PLC0415 - lazy: importing this module loads no torch

    weights = checkpoint_paths(model if model is not None else CHECKPOINT_DIR / method)[0]
    return sha256_file(weights) if weights.is_file() else None


def _reconstruct_group(
    data: Path,
    out: Path,
    methods: Sequence[str],
    models: Mapping[str, str | Path],
    threads: int | None,
    device: str = "cpu",
    precision: str = "fp32",
    dc: str = "soft",
) -> dict[str, float]:
    """Reconstruct every task of ``data`` with ``methods`` in this process; wall seconds per method."""
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    from cardiomm.recon.batch import reconstruct_tasks  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, scipy, torch

    if threads is not None:
        torch.set_num_threads(threads)
    recons, _ = build_methods(methods, models, log=lambda _: None, device=device, precision=precision, dc=dc)
    seconds = {}
    for name, recon in recons.items():
        start = time.perf_counter()
        tasks = tree_tasks(data, out / "recon")
        reconstruct_tasks(tasks, {name: recon}, root=out / "recon")
        marker = _marker(name, len(tasks), models.get(name), precision, dc)
        (out / "recon" / name / ".complete").write_text(json.dumps(marker))
        seconds[name] = time.perf_counter() - start
    return seconds


def reconstruct_methods(
    data: Path,
    out: Path,
    methods: Sequence[str],
    models: Mapping[str, str | Path] | None = None,
    *,
    workers: int = 1,
    reuse: bool = True,
    device: str = "cpu",
    precision: str = "fp32",
    dc: str = "soft",
) -> dict[str, float]:
    """Reconstruct the TestSet tree ``data`` with every method into ``out/recon/<method>``, in parallel.

    Methods are dealt to ``workers`` processes (one torch thread each when ``workers > 1``; the slow
    classical ``sense`` and ``cs`` go to different processes). A method whose folder holds a completion
    marker for the same task count, checkpoint and precision is reused (``reuse=False``: everything is
    redone).
    Returns wall seconds per method (``nan`` for reused ones). Learned methods run on ``device`` at
    ``precision`` (:mod:`cardiomm.utils.precision`) with the data consistency ``dc``.
    """
    models = {k: str(v) for k, v in (models or {}).items()}
    n_tasks = len(tree_tasks(data, Path(out) / "recon"))
    seconds: dict[str, float] = {}
    todo = []
    for m in methods:
        marker = Path(out) / "recon" / m / ".complete"
        try:
            done = json.loads(marker.read_text()) == _marker(m, n_tasks, models.get(m), precision, dc)
        except (OSError, ValueError):
            done = False
        if done and reuse:
            seconds[m] = math.nan
            continue
        shutil.rmtree(Path(out) / "recon" / m, ignore_errors=True)
        todo.append(m)
    order = sorted(todo, key=lambda m: ("sense", "cs").index(m) if m in ("sense", "cs") else 2)
    groups = [order[i :: max(1, workers)] for i in range(max(1, workers)) if order[i :: max(1, workers)]]
    if len(groups) <= 1:
        for group in groups:
            seconds.update(
                _reconstruct_group(Path(data), Path(out), group, models, None, device, precision, dc)
            )
    else:
        with ProcessPoolExecutor(len(groups)) as pool:
            jobs = [
                pool.submit(_reconstruct_group, Path(data), Path(out), g, models, 1, device, precision, dc)
                for g in groups
            ]
            for job in jobs:
                seconds.update(job.result())
    return {m: seconds[m] for m in methods if m in seconds}


def evaluate_and_report(
    data: Path,
    out: Path,
    *,
    title: str,
    roles: Mapping[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> Scores:
    """Evaluate every reconstruction under ``out/recon`` against ``data``;
    write ``metrics.csv``, ``report/``."""
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.evaluation.examples import collect_examples  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch
    from cardiomm.evaluation.report import write_report  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch
    from cardiomm.evaluation.tree import COLUMNS, evaluate_tree  # noqa: PLC0415 - lazy: importing this module loads no numpy, skimage, torch

    out = Path(out)
    recon_root = out / "recon"
    log("      evaluating (per-frame 99.5th-percentile normalisation, PSNR / SSIM / NMSE)")
    df = pd.DataFrame(evaluate_tree(recon_root, data, roles=roles), columns=list(COLUMNS))
    metrics_csv = out / "metrics.csv"
    with atomic_path(metrics_csv) as tmp:
        df.to_csv(tmp, index=False)
    examples = collect_examples(df, recon_root, data)
    report = write_report(df, out / "report", examples=examples, title=title)
    return Scores(metrics=df, metrics_csv=metrics_csv, report=report, recon=recon_root)
