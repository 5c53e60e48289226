"""``cardiomm reconstruct``: reconstruct a file or an MMCMR TestSet tree with CardioMM or a baseline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cardiomm.cli.app import DC_HELP, app, console, err_console, parse_floats
from cardiomm.errors import ConfigError, InputFileError
from cardiomm.types import DataConsistency
from cardiomm.utils.device import DEVICE_HELP, resolve_device
from cardiomm.utils.isolation import RECON_TIMEOUT_S, write_failures
from cardiomm.utils.precision import PRECISION_HELP, precision_note, resolve_precision
from cardiomm.utils.shard import SHARD_HELP, parse_shard, shard_device, shard_tasks

if TYPE_CHECKING:
    from cardiomm.recon.batch import TaskFailure
    from cardiomm.recon.pipeline import MaskSpec

__all__ = ["reconstruct", "mask_spec_from_options"]

#: Exit code of a folder run that finished but could not reconstruct some files (usage errors: 2).
EXIT_SOME_FAILED = 1


@app.command("reconstruct")
def reconstruct(
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help=(
            "CMRxRecon .mat, ISMRMRD/fastMRI .h5, Siemens twix .dat, "
            "or a TestSet folder (FullSample + Mask_TaskAll)."
        ),
    ),
    out: Path = typer.Option(..., "--out", help="Output .mat (single file) or folder."),
    mask: Path | None = typer.Option(
        None, "--mask", help="Mask .mat (key `mask`) for retrospective undersampling of a single file."
    ),
    pattern: str | None = typer.Option(
        None,
        "--pattern",
        help=(
            "Undersample a fully sampled file with a generated mask: "
            "Uniform, ktGaussian, ktRadial or ktUniform."
        ),
    ),
    accel: int | None = typer.Option(None, "--accel", help="Acceleration R of --pattern (ACS not counted)."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of a random --pattern (default: from the file name: same file, same mask)."
    ),
    method: list[str] = typer.Option(
        ["cardiomm"],
        "--method",
        help="cardiomm | zf | sense | cs | varnet | promptmr (repeat or comma-separate for several).",
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Checkpoint for learned methods (default: the shipped one)."
    ),
    prompt: str | None = typer.Option(
        None, "--prompt", help="Metadata prompt text (default: built from path and header metadata)."
    ),
    show_prompt: bool = typer.Option(False, "--show-prompt", help="Print the prompts used for each file."),
    acs: int = typer.Option(
        20, "--acs", help="Size of the fully sampled calibration region (lines / square)."
    ),
    batch_size: int = typer.Option(4, "--batch-size", help="Frames per forward pass."),
    formats: list[str] = typer.Option(
        [],
        "--format",
        help=(
            "Output formats, repeat or comma-separate: mat (default), nifti, dicom "
            "(one MR image series folder <name>_dicom per stack), png, gif."
        ),
    ),
    nifti: bool = typer.Option(False, "--nifti", help="Also write NIfTI (.nii.gz)."),
    png: bool = typer.Option(False, "--png", help="Also write a PNG of the middle slice, first frame."),
    gif: bool = typer.Option(False, "--gif", help="Also write an animated cine GIF of the middle slice."),
    spacing: str | None = typer.Option(
        None,
        "--spacing",
        help="Voxel size dz,dy,dx [mm] for NIfTI / DICOM / pictures when the source records none.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace outputs that exist already."),
    include: list[str] = typer.Option(
        [],
        "--include",
        help=(
            "TestSet folders: only mask files whose name or relative path matches this glob "
            "(repeatable), e.g. 'cine_sax_mask_ktGaussian*' or '*/Center106/*'."
        ),
    ),
    device: str = typer.Option("auto", "--device", help=f"Device of the learned methods: {DEVICE_HELP}"),
    precision: str = typer.Option(
        "fp32", "--precision", help=f"Arithmetic of the learned methods: {PRECISION_HELP}"
    ),
    dc: DataConsistency = typer.Option(DataConsistency.SOFT, "--dc", help=DC_HELP),
    compile_unets: bool = typer.Option(
        False,
        "--compile",
        help=(
            "torch.compile the learned methods' U-Nets: ~0.7x the time per frame on the CPU after a first "
            "call that compiles for minutes (docs/gpu.md); for long runs."
        ),
    ),
    shard: str | None = typer.Option(None, "--shard", help=SHARD_HELP),
    timeout: float = typer.Option(
        RECON_TIMEOUT_S,
        "--timeout",
        min=0,
        help=(
            "Folders: seconds per file and method before the file's worker process is killed and the "
            "file recorded as failed (0: no limit)."
        ),
    ),
) -> None:
    """Reconstruct undersampled multi-coil k-space; writes `reconimage` .mat (MATLAB order nx, ny, nz, nt),
    or the formats of --format.

    A folder is reconstructed in a worker process that keeps the models loaded: a file that fails, crashes
    or hangs is recorded in OUT/failures.json and the run goes on (exit code 1 when some files failed).
    With --shard K/N only part K of the folder's files (failures: OUT/failures.shard-K-of-N.json), so
    that N processes (one per GPU or node) share a tree (docs/gpu.md)."""
    from cardiomm.recon.batch import (  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
        ANY_METHOD,
        build_reconstructors,
        check_destinations,
        check_methods,
        reconstruct_tasks,
        reconstruct_tasks_isolated,
    )
    from cardiomm.recon.outputs import parse_formats  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
    from cardiomm.recon.pipeline import ReconTask, discover_tasks, filter_tasks  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    mask_spec = mask_spec_from_options(input_path, mask, pattern, accel, seed, acs)
    single = not input_path.is_dir()
    part = None if shard is None else parse_shard(shard)
    if part is not None:
        if single:
            raise ConfigError("--shard splits a TestSet folder; INPUT is a single file")
        device = shard_device(device)
    spacing_mm = None if spacing is None else parse_floats(spacing, "--spacing")
    outputs = parse_formats(formats, nifti=nifti, png=png, gif=gif, info_csv=single, spacing_mm=spacing_mm)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[_rich_handler()])
    methods = list(dict.fromkeys(m.strip() for item in method for m in item.split(",") if m.strip()))
    if not methods:
        raise ConfigError(f"--method names no method (got {method!r}); e.g. --method cardiomm")
    torch_device = resolve_device(device)
    prec = resolve_precision(precision, torch_device)
    if note := precision_note(prec, torch_device):
        console.print(f"[yellow]{note}[/]")
    if single:  # one file: in this process, errors propagate
        recons = build_reconstructors(methods, model, torch_device, prec, dc=dc, compile=compile_unets)
    else:  # a tree: the models are loaded in the worker process
        check_methods(methods, model)
    # one method on one file writes to --out itself; otherwise each method gets its own folder
    per_method = not (single and len(methods) == 1)
    listed_under = out / ANY_METHOD if single and per_method else out
    folder = ANY_METHOD if per_method else methods[0]
    tasks = discover_tasks(input_path, listed_under, folder, mask, mask_spec)
    if include and not single:
        tasks = filter_tasks(tasks, include)
        if not tasks:
            raise InputFileError(f"no mask file matches --include {' '.join(include)}", path=input_path)
    if part is not None:
        n_all = len(tasks)
        tasks = shard_tasks(tasks, part)
        console.print(f"part {part.index} of {part.count}: {len(tasks)} of {n_all} (file, mask) pairs")
    inputs = [input_path] if mask is None else [input_path, mask]
    root = out if per_method else None
    check_destinations(inputs, out, tasks, methods, outputs, root=root, overwrite=overwrite)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())

    def show(task: ReconTask, meta: str, us: str) -> None:
        if show_prompt:
            console.print(f"[dim]{task.rel_path}[/]\n  metadata: {meta!r}\n  undersampling: {us!r}")

    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(",".join(methods), total=len(tasks) * len(methods))

        def done(name: str, task: ReconTask, per_frame: float) -> None:
            logging.getLogger("cardiomm").info("%s  %s: %.3f s/frame", name, task.out_path.name, per_frame)
            progress.advance(bar)

        if single:
            n_written = reconstruct_tasks(
                tasks, recons, root=root, n_acs=acs, prompt=prompt, batch_size=batch_size,
                outputs=outputs, on_prompts=show, on_done=done,
            )  # fmt: skip
        else:
            n_written, failed = reconstruct_tasks_isolated(
                tasks, methods, model, root=root, n_acs=acs, prompt=prompt, batch_size=batch_size,
                outputs=outputs, timeout=timeout or None, on_prompts=show, on_done=done, device=torch_device,
                precision=prec, dc=dc, compile=compile_unets,
            )  # fmt: skip
            progress.advance(bar, len(failed) * len(methods))
    console.print(f"wrote {n_written} reconstruction(s) under {out}")
    if not single:
        name = "failures.json" if part is None else f"failures.shard-{part.label}.json"
        _report_failures(failed, input_path, out / name)


def _report_failures(failed: list[TaskFailure], input_path: Path, target: Path) -> None:
    """Write ``target`` (OUT/failures.json; also when empty: it describes this run); exit 1 if some files
    failed."""
    from cardiomm.recon.batch import failure_records  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    path = write_failures(target, failure_records(failed, input_path))
    if not failed:
        return
    err_console.print(f"[yellow]{len(failed)} file(s) failed (recorded in {path}):[/]", highlight=False)
    for f in failed:
        err_console.print(f"  {f.task.rel_path}: {f.failure.message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_SOME_FAILED)


#: Largest --accel accepted (the protocol uses 8-24; beyond 64 hardly a line is left besides the ACS).
MAX_ACCEL = 64


def mask_spec_from_options(
    input_path: Path, mask: Path | None, pattern: str | None, accel: int | None, seed: int | None, acs: int
) -> MaskSpec | None:
    """The generated-mask request of ``--pattern/--accel/--seed``, checked before any file is read."""
    from cardiomm.recon.pipeline import MaskSpec  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
    from cardiomm.sampling import parse_pattern  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    if acs < 0:
        raise ConfigError(f"--acs must be >= 0, got {acs}")
    if accel is not None and not 1 <= accel <= MAX_ACCEL:
        raise ConfigError(f"--accel must be between 1 and {MAX_ACCEL}, got {accel}")

    if pattern is None:
        if accel is not None or seed is not None:
            raise ConfigError("--accel and --seed go with --pattern")
        return None
    if accel is None:
        raise ConfigError("--pattern needs --accel (e.g. 8, 16 or 24)")
    if mask is not None:
        raise ConfigError("give --mask or --pattern, not both")
    if input_path.is_dir():
        raise ConfigError("--pattern undersamples one fully sampled file; TestSet folders bring their masks")
    return MaskSpec(parse_pattern(pattern).value, accel, acs=acs, seed=seed)


def _rich_handler() -> logging.Handler:
    return RichHandler(console=console, show_path=False, show_time=False)
