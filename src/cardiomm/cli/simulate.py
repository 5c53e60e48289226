"""``cardiomm simulate``: synthetic MMCMR-style k-space trees and k-space from real magnitude images."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cardiomm.cli.app import app, console
from cardiomm.errors import ConfigError

__all__ = ["simulate_app"]

simulate_app = typer.Typer(
    help="Synthetic multi-center, multi-modality cardiac k-space with ground truth.",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")


@simulate_app.command("mini")
def mini_command(
    out: Path = typer.Argument(..., help="Output folder of the MMCMR-style tree."),
    size: str = typer.Option(
        "tiny",
        "--size",
        help=(
            "tiny (tests, ~37 MB), small (demo-model training, ~1.5 GB) "
            "or demo (test scans of 6 centers for `cardiomm demo`)"
        ),
    ),
    seed: int = typer.Option(0, "--seed", help="Global seed (same seed -> identical k-space bytes)."),
    modality: list[str] = typer.Option(
        None, "--modality", help="Only these modalities (repeatable): Cine, T1map, ... or a folder (Mapping)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Write a synthetic MMCMR tree: k-space .mat, _info.csv, _gt.h5 sidecars, test masks, manifest.json."""
    from cardiomm.simulate.tree import MANIFEST_NAME, generate_mini  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    start = time.perf_counter()
    manifest = generate_mini(out, size=size, seed=seed, modalities=modality or None, progress=progress)
    elapsed = time.perf_counter() - start
    total = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    n_masks = sum(len(f["masks"]) for f in manifest["files"])
    console.print(
        f"[bold]{len(manifest['files'])}[/] scans, {n_masks} masks, {len(manifest['centers'])} centers -> "
        f"{Path(out) / MANIFEST_NAME} ({total / 1e6:.1f} MB, {elapsed:.1f} s)",
        highlight=False,
    )


@simulate_app.command("from-images")
def from_images_command(
    source: Path = typer.Argument(..., help="DICOM series folder or NIfTI file of magnitude images."),
    out: Path = typer.Argument(..., help="Output .mat file (kspace_full); OUT_info.csv goes beside it."),
    coils: int = typer.Option(10, "--coils", help="Number of synthetic receive coils."),
    seed: int = typer.Option(0, "--seed", help="Seed of phase, coil maps and noise."),
    noise: bool = typer.Option(True, "--noise/--no-noise", help="Add complex Gaussian noise."),
    snr: float = typer.Option(30.0, "--snr", help="Mean object signal over noise standard deviation."),
) -> None:
    """Synthesise multi-coil k-space (CMRxRecon format) from real magnitude images."""
    from cardiomm.simulate.from_images import images_to_kspace_file  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    if not 1 <= coils <= 64:
        raise ConfigError(f"--coils must be between 1 and 64, got {coils}")
    if snr <= 0:
        raise ConfigError(f"--snr must be positive, got {snr}")
    mat, csv = images_to_kspace_file(source, out, n_coils=coils, seed=seed, noise=noise, snr=snr)
    console.print(f"k-space -> {mat}\nscan parameters -> {csv}", highlight=False)


@simulate_app.command("real-anatomy")
def real_anatomy_command(
    sources: list[Path] = typer.Argument(
        ..., help="NIfTI volumes, DICOM series folders, or folders of them."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder of the MMCMR-style k-space tree."),
    split: Path = typer.Option(
        None,
        "--split",
        help="Split file (JSON: train / val / test subject lists); subjects it does not list are skipped.",
    ),
    role: list[str] = typer.Option(
        None, "--role", help="Write only subjects of this role (repeatable: train, val, test)."
    ),
    default_role: str = typer.Option(
        "train", "--default-role", help="Role of every subject without --split."
    ),
    seed: int = typer.Option(0, "--seed", help="Corpus seed (center assignment, phase, coils, noise)."),
    max_frames: int = typer.Option(
        None, "--max-frames", help="At most this many frames per subject, evenly spread over the cycle."
    ),
    max_slices: int = typer.Option(
        None,
        "--max-slices",
        help="At most this many slices per subject, evenly "
        "spread inside the stack (quick benchmark subsets).",
    ),
    snr_spread: float = typer.Option(
        1.0,
        "--snr-spread",
        help="Per-scan SNR factor drawn log-uniformly in [1/S, S] around the center's SNR (1: off).",
    ),
    tissue_phase: float = typer.Option(
        0.0,
        "--tissue-phase",
        help="Largest tissue phase offset [rad], a random function of the image intensity (chemical "
        "shift, flow, susceptibility steps; docs/real_anatomy.md); 0: off.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Turn real magnitude images into multi-coil k-space of synthetic vendor-like centers (MMCMR layout)."""
    from cardiomm.simulate.real_anatomy import build_corpus, find_subjects, select_subjects  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        advance = None
        if progress:
            wanted = select_subjects(
                find_subjects(sources), split=split, roles=role or None, default_role=default_role
            )
            columns = (TextColumn("real-anatomy"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            bar = stack.enter_context(Progress(*columns, console=console))
            task = bar.add_task("subjects", total=len(wanted))
            advance = lambda _: bar.advance(task)  # noqa: E731
        manifest = build_corpus(
            sources,
            out,
            split=split,
            roles=role or None,
            default_role=default_role,
            seed=seed,
            max_frames=max_frames,
            max_slices=max_slices,
            on_subject=advance,
            snr_spread=snr_spread,
            tissue_phase_rad=tissue_phase,
        )
    files = manifest["files"]
    by_set: dict[str, int] = {}
    for entry in files:
        by_set[entry["split"]] = by_set.get(entry["split"], 0) + 1
    sets = ", ".join(f"{n} {s}" for s, n in sorted(by_set.items()))
    console.print(
        f"[bold]{len(files)}[/] scans ({sets}) over {len(manifest['centers'])} centers -> {out} "
        f"({time.perf_counter() - start:.1f} s)",
        highlight=False,
    )
