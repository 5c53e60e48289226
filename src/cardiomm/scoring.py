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
    "ReconTree",
    "reconstruct_methods",
    "reconstruct_trees",
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


#: Relative cost per byte of source k-space and mask, only to order the jobs (slowest first); from the
#: demo's timings before SENSE / CS reused their coil maps across masks (CS ~2x a learned method, SENSE
#: ~1.5x, zero filling ~0; since then SENSE ~0.5x, CS ~1.1x; the order barely matters at the demo's
#: 0.99 scheduling efficiency).
_JOB_COST = {"cs": 2.0, "sense": 1.5, "zf": 0.05}

#: Methods that compute the same ESPIRiT coil maps of a frame (:func:`cardiomm.recon.classical.espirit_maps`,
#: memoised in each process): one job runs them together on a file, frame by frame, so a worker
#: computes the maps once for both instead of two workers computing them once each.
_SHARED_MAPS = ("sense", "cs")

#: Reconstructors built in this process, by (method, model, device, precision, dc): a worker process
#: builds each method once, however many of its jobs it runs.
_RECONS: dict[tuple[str, str | None, str, str, str], Reconstructor] = {}


@dataclass(frozen=True)
class ReconTree:
    """One TestSet tree to reconstruct (:func:`reconstruct_trees`): every ``(file, mask)`` of ``data``
    (only mask files matching one of ``include`` when given) with every method of ``methods``, into
    ``out/recon/<method>``."""

    data: Path
    out: Path
    methods: tuple[str, ...]
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Job:
    """The tasks of one source file for one method, or for the methods that share coil maps
    (:data:`_SHARED_MAPS`), written under ``root``: a file's masks together, so SENSE and CS reuse their
    coil maps across the masks and each other."""

    methods: tuple[str, ...]
    tasks: tuple[ReconTask, ...]
    cost: float
    root: Path = Path()


def _plan_jobs(tasks: Sequence[ReconTask], methods: Sequence[str], root: Path = Path()) -> list[_Job]:
    """One job per (method, source file), the longest first (estimated from the file size, its number of
    masks and the method), so that workers taking the next job when free all finish at about the same
    time. The methods of :data:`_SHARED_MAPS` among ``methods`` share one job per file."""
    by_file: dict[Path, list[ReconTask]] = {}
    for task in tasks:
        by_file.setdefault(Path(task.kspace_path), []).append(task)
    work = {}  # bytes x masks per file, read once
    for path, group in by_file.items():
        try:
            size = path.stat().st_size
        except OSError:
            size = 1
        work[path] = max(size, 1) * len(group)
    shared = tuple(m for m in methods if m in _SHARED_MAPS)
    units = [(m,) for m in methods if m not in shared] + ([shared] if shared else [])
    jobs = [
        _Job(unit, tuple(group), sum(_JOB_COST.get(m, 1.0) for m in unit) * work[path], root)
        for unit in units
        for path, group in by_file.items()
    ]
    return sorted(jobs, key=lambda j: -j.cost)


def _run_job(
    job: _Job,
    models: Mapping[str, str | Path],
    threads: int | None,
    device: str = "cpu",
    precision: str = "fp32",
    dc: str = "soft",
) -> dict[str, float | None]:
    """Reconstruct one job in this process (each method is built once per process); the wall seconds of
    each of its methods (the time from one output to the next is charged to the method that wrote it),
    or None for a method without a model (skipped, as :func:`build_methods` skips it)."""
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    from cardiomm.recon.batch import reconstruct_tasks  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, scipy, torch
    from cardiomm.recon.registry import get_reconstructor  # noqa: PLC0415 - lazy: importing this module loads no numpy, torch

    if threads is not None:
        torch.set_num_threads(threads)
    took: dict[str, float | None] = {}
    recons = {}
    for method in job.methods:
        model = models.get(method)
        key = (method, None if model is None else str(model), str(device), str(precision), str(dc))
        if key not in _RECONS:
            try:
                _RECONS[key] = get_reconstructor(method, model, device=device, precision=precision, dc=dc)
            except ModelNotFoundError:
                took[method] = None
                continue
        recons[method] = _RECONS[key]
        took[method] = 0.0
    last = time.perf_counter()

    def charge(method: str, _task: ReconTask, _per_frame: float) -> None:
        nonlocal last
        now = time.perf_counter()
        took[method] = (took[method] or 0.0) + now - last
        last = now

    if recons:
        reconstruct_tasks(job.tasks, recons, root=job.root, on_done=charge)
    return took


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
    """Reconstruct the TestSet tree ``data`` with every method into ``out/recon/<method>``, in parallel
    (:func:`reconstruct_trees` of one tree; same arguments and result)."""
    tree = ReconTree(Path(data), Path(out), tuple(methods))
    return reconstruct_trees(
        [tree], models, workers=workers, reuse=reuse, device=device, precision=precision, dc=dc
    )[0]


def reconstruct_trees(
    trees: Sequence[ReconTree],
    models: Mapping[str, str | Path] | None = None,
    *,
    workers: int = 1,
    reuse: bool = True,
    device: str = "cpu",
    precision: str = "fp32",
    dc: str = "soft",
) -> list[dict[str, float]]:
    """Reconstruct several TestSet trees with their methods in one pool of worker processes.

    The work of every tree is cut into one job per (method, source file) (:func:`_plan_jobs`; SENSE and
    CS of a file share one, and with it their coil maps), and all
    jobs are handed out together, longest first, to ``workers`` processes (one torch thread each when
    ``workers > 1``) as they become free, so the processes finish together and start once; each process
    builds a method once. A method whose folder of a tree holds a completion marker for the same task
    count, checkpoint and precision is reused (``reuse=False``: everything is redone). Returns, per tree,
    the seconds each method's jobs took, summed over the processes (``nan`` for reused ones; a learned
    method without a model is skipped and absent). Learned methods run on ``device`` at ``precision``
    (:mod:`cardiomm.utils.precision`) with the data consistency ``dc``. A job that fails stops the
    pool (no new job starts) and raises; no completion marker is written then.
    """
    models = {k: str(v) for k, v in (models or {}).items()}
    seconds: list[dict[str, float]] = [{} for _ in trees]
    todo: list[tuple[Path, int, list[str]]] = []  # per tree: recon root, task count, methods to run
    jobs: list[_Job] = []
    for tree, sec in zip(trees, seconds, strict=True):
        root = Path(tree.out) / "recon"
        tasks = tree_tasks(tree.data, root, tree.include)
        names = []
        for m in tree.methods:
            marker = root / m / ".complete"
            try:
                done = json.loads(marker.read_text()) == _marker(m, len(tasks), models.get(m), precision, dc)
            except (OSError, ValueError):
                done = False
            if done and reuse:
                sec[m] = math.nan
                continue
            shutil.rmtree(root / m, ignore_errors=True)
            names.append(m)
        todo.append((root, len(tasks), names))
        jobs += _plan_jobs(tasks, names, root)
    jobs.sort(key=lambda j: -j.cost)
    spent: dict[tuple[Path, str], float | None] = {(j.root, m): 0.0 for j in jobs for m in j.methods}

    def account(job: _Job, took: Mapping[str, float | None]) -> None:
        for method, seconds in took.items():
            before = spent[job.root, method]
            spent[job.root, method] = None if seconds is None or before is None else before + seconds

    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                account(job, _run_job(job, models, None, device, precision, dc))
        else:
            with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
                futures = [
                    (job, pool.submit(_run_job, job, models, 1, device, precision, dc)) for job in jobs
                ]
                try:
                    for job, future in futures:
                        account(job, future.result())
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)  # no new job starts after a failure
                    raise
    finally:
        _RECONS.clear()
    for sec, (root, n_tasks, names) in zip(seconds, todo, strict=True):
        for name in names:
            took = spent.get((root, name), 0.0)  # a method with no task of this tree: nothing to do
            if took is None:  # no model: skipped, nothing of it kept
                shutil.rmtree(root / name, ignore_errors=True)
                continue
            (root / name).mkdir(parents=True, exist_ok=True)
            done_marker = _marker(name, n_tasks, models.get(name), precision, dc)
            (root / name / ".complete").write_text(json.dumps(done_marker))
            sec[name] = took
    return [{m: sec[m] for m in tree.methods if m in sec} for tree, sec in zip(trees, seconds, strict=True)]


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
