"""Reconstruct a list of tasks with one or several methods: the one loop behind ``cardiomm reconstruct``,
``cardiomm demo`` and the benchmarks.

Each file is read once and reconstructed by every method; the pattern and R come from the mask (file or
generated), the prompts from the path and header (or an override), and each result is written by
:func:`cardiomm.recon.outputs.write_outputs`. Tasks listed for several methods carry the placeholder
method folder :data:`ANY_METHOD` (``discover_tasks(..., method=ANY_METHOD)``), replaced by each method's
name on writing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from cardiomm.errors import CardiommError, ConfigError
from cardiomm.recon.base import Reconstructor
from cardiomm.recon.outputs import OutputOptions, output_paths, series_description, write_outputs
from cardiomm.recon.pipeline import DEFAULT_ACS, ReconTask, infer_pattern, load_task, reconstruct_volume
from cardiomm.recon.prompts import task_prompts
from cardiomm.sampling import parse_mask_filename

__all__ = [
    "ANY_METHOD",
    "OutputOptions",
    "reconstruct_tasks",
    "method_output",
    "acceleration_token",
    "check_destinations",
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
    for task in tasks:
        volume, mask = load_task(task)
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
