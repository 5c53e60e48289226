"""Reconstruct a list of tasks with one or several methods: the one loop behind ``cardiomm reconstruct``,
``cardiomm demo`` and the benchmarks.

Each file is read once and reconstructed by every method; the pattern and R come from the mask (file or
generated), the prompts from the path and header (or an override), and each result is written by
:func:`cardiomm.recon.outputs.write_outputs`. Tasks listed for several methods carry the placeholder
method folder :data:`ANY_METHOD` (``discover_tasks(..., method=ANY_METHOD)``), replaced by each method's
name on writing.

:func:`reconstruct_tasks_isolated` runs the same loop for ``cardiomm reconstruct`` on a tree in a
long-lived worker process (models loaded once, again only after a crash): a file that crashes or hangs
the reader or a method costs that file only and is returned as a :class:`TaskFailure`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardiomm.errors import CardiommError, CheckpointError, ConfigError, UnknownChoiceError
from cardiomm.recon.base import Reconstructor
from cardiomm.recon.learned import shipped_checkpoint
from cardiomm.recon.outputs import OutputOptions, output_paths, series_description, write_outputs
from cardiomm.recon.pipeline import DEFAULT_ACS, ReconTask, infer_pattern, load_task, reconstruct_volume
from cardiomm.recon.prompts import task_prompts
from cardiomm.recon.registry import LEARNED_METHODS, METHODS, get_reconstructor
from cardiomm.sampling import parse_mask_filename
from cardiomm.utils.isolation import RECON_TIMEOUT_S, Failure, run_isolated
from cardiomm.utils.precision import Precision, parse_precision

if TYPE_CHECKING:
    import torch

    from cardiomm.io.kspace import KSpaceVolume

__all__ = [
    "ANY_METHOD",
    "OutputOptions",
    "reconstruct_tasks",
    "loaded_tasks",
    "method_output",
    "acceleration_token",
    "check_destinations",
    "build_reconstructors",
    "check_methods",
    "reconstruct_tasks_isolated",
    "TaskFailure",
    "failure_records",
]

#: Method folder of tasks listed once for several methods (see :func:`method_output`).
ANY_METHOD = "_"


def method_output(task: ReconTask, method: str, root: Path) -> ReconTask:
    """``task`` with its output moved from ``root/_/...`` to ``root/<method>/...``."""
    return replace(task, out_path=root / method / task.out_path.relative_to(root / ANY_METHOD))


def check_destinations(
    inputs: Sequence[Path],
    out: Path,
    tasks: Sequence[ReconTask],
    methods: Sequence[str],
    outputs: OutputOptions,
    *,
    root: Path | None = None,
    overwrite: bool = False,
) -> None:
    """Refuse, before any work, a destination that would destroy data or cannot be written.

    :class:`~cardiomm.errors.ConfigError` when ``out`` equals or lies inside an input (a file or a
    folder), when an output would replace an input file, when outputs already exist and ``overwrite`` is
    false, or when ``out`` cannot be created (an existing file on its path, or no write permission).
    Arguments as for :func:`reconstruct_tasks`; ``inputs`` are the given input paths.
    """
    out_r = out.resolve()
    for src in inputs:
        src_r = Path(src).resolve()
        if out_r == src_r or (src_r.is_dir() and out_r.is_relative_to(src_r)):
            raise ConfigError(f"the output must not be, or be inside, the input {src}", path=out)
    targets = [
        path
        for task in tasks
        for name in methods
        for path in output_paths(task if root is None else method_output(task, name, root), outputs)
    ]
    sources = {Path(p).resolve() for t in tasks for p in (t.kspace_path, t.mask_path) if p is not None}
    if clash := next((p for p in targets if p.resolve() in sources), None):
        raise ConfigError("an output would overwrite an input file", path=clash)
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{len(existing)} output(s) exist already (first: {existing[0]}); "
            "pass --overwrite to replace them",
            path=out,
        )
    # `out` is a file target (one method, one file) or a folder to create
    ancestor = out_r.parent if any(p.resolve() == out_r for p in targets) else out_r
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"cannot create the output: {ancestor} is a file", path=out)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write the output: no write permission in {ancestor}", path=out)


def acceleration_token(task: ReconTask, accel: int) -> str:
    """Pattern and R for labels: ``ktGaussian16`` (generated mask, mask file name), else ``R16``."""
    if task.mask_spec is not None:
        return task.mask_spec.token
    if task.mask_path is not None:
        try:
            pattern, r = parse_mask_filename(task.mask_path)
            return f"{pattern}{r}"
        except CardiommError:
            pass
    return f"R{accel}"


def reconstruct_tasks(
    tasks: Sequence[ReconTask],
    recons: Mapping[str, Reconstructor],
    *,
    root: Path | None = None,
    n_acs: int = DEFAULT_ACS,
    prompt: str | None = None,
    batch_size: int = 8,
    outputs: OutputOptions | None = None,
    on_prompts: Callable[[ReconTask, str, str], None] | None = None,
    on_done: Callable[[str, ReconTask, float], None] | None = None,
) -> int:
    """Reconstruct every task with every method; returns the number of outputs written.

    Parameters
    ----------
    tasks
        From :func:`cardiomm.recon.pipeline.discover_tasks`.
    recons
        Methods by name.
    root
        ``None``: each task's ``out_path`` is used as is (one method). Otherwise the tasks were listed
        under ``root`` with method :data:`ANY_METHOD` and method ``m`` writes to ``root/m/...``.
    n_acs, prompt, batch_size
        ACS size, metadata-prompt override, frames per forward pass.
    outputs
        Output formats (default :class:`~cardiomm.recon.outputs.OutputOptions`: ``.mat`` only).
    on_prompts, on_done
        Callbacks: ``(task, metadata_prompt, undersampling_prompt)`` once per file;
        ``(method, written_task, seconds_per_frame)`` after each output.
    """
    outputs = outputs if outputs is not None else OutputOptions()
    n_written = 0
    for task, (volume, mask) in zip(tasks, loaded_tasks(tasks), strict=True):
        mask_type, accel = infer_pattern(mask, task.mask_path, task.mask_spec)
        meta, us = task_prompts(task, mask_type, accel, override=prompt)
        if on_prompts is not None:
            on_prompts(task, meta, us)
        token = acceleration_token(task, accel)
        for number, (name, recon) in enumerate(recons.items(), start=1):
            vol, per_frame = reconstruct_volume(
                volume,
                mask,
                recon,
                mask_type=mask_type,
                acceleration=accel,
                n_acs=n_acs,
                metadata_prompt=meta,
                undersampling_prompt=us,
                batch_size=batch_size,
            )
            target = task if root is None else method_output(task, name, root)
            write_outputs(
                target, vol, outputs, description=series_description(name, token), series_number=number
            )
            n_written += 1
            if on_done is not None:
                on_done(name, target, per_frame)
    return n_written


def loaded_tasks(tasks: Sequence[ReconTask]) -> Iterator[tuple[KSpaceVolume, torch.Tensor]]:
    """``load_task`` of each task in order, read one task ahead in a background thread.

    Reading the next file (h5py, the conversion to complex64) then overlaps the reconstruction of the
    current one (torch releases the GIL), and consecutive tasks of one source file (its masks) read it
    once. At most two volumes are held (the current and the next). A task that cannot be read raises its
    typed error when its turn comes, after every task before it.
    """
    last: tuple[Path, KSpaceVolume] | None = None  # the file read last (only the loader thread uses it)

    def load(task: ReconTask) -> tuple[KSpaceVolume, torch.Tensor]:
        nonlocal last
        reuse = last[1] if last is not None and last[0] == task.kspace_path else None
        volume, mask = load_task(task, reuse)
        last = (task.kspace_path, volume)
        return volume, mask

    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cardiomm-read") as pool:
        pending: Future[tuple[KSpaceVolume, torch.Tensor]] = pool.submit(load, tasks[0])
        for i in range(len(tasks)):
            current = pending.result()
            if i + 1 < len(tasks):
                pending = pool.submit(load, tasks[i + 1])
            yield current


def build_reconstructors(
    methods: Sequence[str],
    model: str | Path | None = None,
    device: str = "cpu",
    precision: str | Precision = Precision.FP32,
    dc: str = "soft",
    compile: bool = False,
) -> dict[str, Reconstructor]:
    """Reconstructors by name; ``model`` is the checkpoint of the one learned method when ``methods``
    has a single entry (several methods use their shipped checkpoints); learned methods on ``device``
    at ``precision`` (:mod:`cardiomm.utils.precision`), with the data consistency ``dc`` and, with
    ``compile``, compiled U-Nets (:class:`~cardiomm.recon.learned.LearnedRecon`)."""
    ckpt = model if len(methods) == 1 else None
    return {
        m: get_reconstructor(m, ckpt, device=device, precision=precision, dc=dc, compile=compile)
        for m in methods
    }


def check_methods(methods: Sequence[str], model: str | Path | None = None) -> None:
    """Refuse unknown methods and missing checkpoints without loading anything (as
    :func:`build_reconstructors` would, with the same typed errors)."""
    for name in methods:
        if name not in METHODS:
            raise UnknownChoiceError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
        if name in LEARNED_METHODS:
            if model is None or len(methods) > 1:
                shipped_checkpoint(name)
            elif not Path(model).exists():
                raise CheckpointError("checkpoint not found", path=model)


@dataclass(frozen=True)
class TaskFailure:
    """A task that gave no output: its worker raised (``error``), crashed or timed out."""

    task: ReconTask
    failure: Failure


@dataclass(frozen=True)
class _Job:
    task: ReconTask
    root: Path | None
    n_acs: int
    prompt: str | None
    batch_size: int
    outputs: OutputOptions


#: Modules the fork server of a folder run imports once (torch and h5py with the readers), so that a
#: worker replaced after a crash or a timeout starts without importing them again (named here, not left
#: to ``cardiomm.io``, whose package import loads nothing).
RECON_PRELOAD = ("cardiomm.io.any_kspace", "cardiomm.io.kspace", "cardiomm.recon.batch")

#: The reconstructors of this worker process (set once by :func:`_init_worker`).
_WORKER_RECONS: dict[str, Reconstructor] = {}


def _init_worker(
    methods: tuple[str, ...],
    model: str | None,
    device: str = "cpu",
    precision: str = Precision.FP32.value,
    dc: str = "soft",
    compile: bool = False,
) -> None:
    _WORKER_RECONS.clear()
    _WORKER_RECONS.update(build_reconstructors(methods, model, device, precision, dc, compile))


def _run_job(job: _Job) -> tuple[tuple[str, str], list[tuple[str, ReconTask, float]]]:
    """Worker: reconstruct one task with every method; ``((meta, us), [(method, target, s/frame)])``."""
    prompts: list[tuple[str, str]] = []
    done: list[tuple[str, ReconTask, float]] = []
    reconstruct_tasks(
        [job.task], _WORKER_RECONS, root=job.root, n_acs=job.n_acs, prompt=job.prompt,
        batch_size=job.batch_size, outputs=job.outputs,
        on_prompts=lambda _, meta, us: prompts.append((meta, us)),
        on_done=lambda name, target, per_frame: done.append((name, target, per_frame)),
    )  # fmt: skip
    return prompts[0], done


def reconstruct_tasks_isolated(
    tasks: Sequence[ReconTask],
    methods: Sequence[str],
    model: str | Path | None = None,
    *,
    root: Path | None = None,
    n_acs: int = DEFAULT_ACS,
    prompt: str | None = None,
    batch_size: int = 8,
    outputs: OutputOptions | None = None,
    timeout: float | None = RECON_TIMEOUT_S,
    on_prompts: Callable[[ReconTask, str, str], None] | None = None,
    on_done: Callable[[str, ReconTask, float], None] | None = None,
    device: str = "cpu",
    precision: str | Precision = Precision.FP32,
    dc: str = "soft",
    compile: bool = False,
) -> tuple[int, list[TaskFailure]]:
    """:func:`reconstruct_tasks` in a worker process that survives bad files.

    The reconstructors (:func:`build_reconstructors` of ``methods`` and ``model``) are built once in
    one long-lived worker process, which then reconstructs the tasks one by one. A task whose
    reconstruction raises is a failure of kind ``error``; one that kills the worker (a segfault) is a
    ``crash`` and one that takes longer than ``timeout`` seconds per method a ``timeout``: the worker is
    replaced (models loaded again) and the next task goes on. Callbacks run in this process after each
    task. Errors while building the reconstructors (unknown method, bad checkpoint) are raised. Learned
    methods run on ``device`` at ``precision`` (:mod:`cardiomm.utils.precision`) in the worker, with
    ``dc`` and ``compile`` as in :func:`build_reconstructors`.

    Returns
    -------
    tuple
        Number of outputs written and the failed tasks (in task order).
    """
    outputs = outputs if outputs is not None else OutputOptions()
    jobs = [_Job(t, root, n_acs, prompt, batch_size, outputs) for t in tasks]
    limit = timeout * len(methods) if timeout else None
    failures: dict[int, TaskFailure] = {}
    n_written = 0
    ckpt = None if model is None else str(model)
    results = run_isolated(
        _run_job, jobs, workers=1, timeout=limit, initializer=_init_worker,
        initargs=(tuple(methods), ckpt, device, parse_precision(precision).value, dc, compile),
        preload=RECON_PRELOAD,
    )  # fmt: skip
    for res in results:
        task = jobs[res.index].task
        if res.value is None:
            failures[res.index] = TaskFailure(task, res.failure or Failure("error", "no result"))
            continue
        (meta, us), done = res.value
        if on_prompts is not None:
            on_prompts(task, meta, us)
        for name, target, per_frame in done:
            n_written += 1
            if on_done is not None:
                on_done(name, target, per_frame)
    return n_written, [failures[i] for i in sorted(failures)]


def failure_records(failures: Sequence[TaskFailure], input_root: Path) -> list[dict[str, Any]]:
    """``failures.json`` entries: ``path`` (the task's path below ``input_root``: the mask file of a tree
    task), ``kspace`` (the k-space file below ``input_root``), ``kind``, ``error``, maybe ``signal``."""

    def rel(path: Path) -> str:
        try:
            return Path(path).relative_to(input_root).as_posix()
        except ValueError:
            return Path(path).as_posix()

    return [
        {"path": f.task.rel_path, "kspace": rel(f.task.kspace_path), **f.failure.record()} for f in failures
    ]
