"""Write a complete synthetic MMCMR-427K-style tree (``cardiomm simulate mini``).

Layout (reference sections 3.3, 10)::

    OUT/manifest.json
    OUT/<ModalityFolder>/{TrainingSet,TestSet}/FullSample/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/
        <stem>.mat          kspace_full, MATLAB [nx, ny, nc, nz, nt] (4-D [nx, ny, nc, nz] when nt = 1)
        <stem>_info.csv     Parameter/Value scan parameters
        <stem>_gt.h5        ground truth (labels, maps, phenotypes, metadata)
    OUT/<ModalityFolder>/TestSet/Mask_TaskAll/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/
        <stem>_mask_{Uniform,ktGaussian,ktRadial}{8,16,24}.mat   mask, [nx, ny, nt] or [nx, ny]

Internal centers get TrainingSet and TestSet patients, external centers TestSet only; patient IDs
are unique per center. Every file is written atomically. Seeds: subject = ``sha256("<seed>/<center>/
<patient>")``, scan = ``sha256("<seed>/<relative path>")``, test masks = ``sha256(<relative path of
the .mat>)`` (independent of ``seed``, one per file for all nine masks; recorded in the sidecar and
manifest), all via :func:`cardiomm.sampling.seed_from_string`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cardiomm.errors import UnknownChoiceError
from cardiomm.layout import FULL_DIR
from cardiomm.sampling import seed_from_string
from cardiomm.simulate.anatomy import Disease, sample_heart
from cardiomm.simulate.centers import DEFAULT_CENTERS, Center
from cardiomm.simulate.protocols import ScanSpec, SizePreset, get_spec
from cardiomm.simulate.writer import write_scan
from cardiomm.types import Modality
from cardiomm.utils.atomic import atomic_path

__all__ = ["FileJob", "plan_mini", "generate_mini", "resolve_modalities", "MANIFEST_NAME", "CENTER_SCANS"]

MANIFEST_NAME = "manifest.json"

#: Scans offered per center (``cine_lax`` resolves to 2ch/3ch/4ch by patient).
CENTER_SCANS: dict[str, tuple[str, ...]] = {
    "Center015": ("cine_lax", "T1map", "T2map", "aorta_sag", "aorta_tra", "tagging", "flow2d", "blackblood"),
    "Center007": ("cine_lax", "T1map", "T2map", "lge", "blackblood"),
    "Center010": ("cine_lax", "flow2d", "T1map", "T2w", "aorta_tra"),
    "Center012": ("cine_lax", "T1map", "T2map", "T1rho", "perfusion", "tagging"),
}
_CLINICAL = ("cine_lax", "T1map", "T2map", "lge", "perfusion", "T1w", "T2w", "T1rho")


@dataclass(frozen=True)
class FileJob:
    """One file of the tree to simulate."""

    center: Center
    split: str
    patient: str
    disease: Disease
    spec: ScanSpec
    subject_seed: int
    relpath: str


def _seed(text: str) -> int:
    return int(seed_from_string(text))


def _lax(index: int) -> str:
    return ("cine_lax_4ch", "cine_lax_2ch", "cine_lax_3ch")[index % 3]


def _tiny_plan() -> list[tuple[str, str, list[str]]]:
    every = [
        "cine_sax",
        "cine_lax_2ch",
        "cine_lax_3ch",
        "cine_lax_4ch",
        "T1map",
        "T2map",
        "T1rho",
        "lge",
        "perfusion",
        "T1w",
        "T2w",
        "blackblood",
        "flow2d",
        "aorta_sag",
        "aorta_tra",
        "tagging",
    ]
    return [
        ("Center001", "TrainingSet", ["cine_sax", "cine_lax_4ch", "T1map", "T2map", "lge", "aorta_sag"]),
        ("Center001", "TestSet", every),
        ("Center002", "TrainingSet", ["cine_sax", "T1map"]),
        ("Center002", "TestSet", ["cine_sax"]),
        ("Center007", "TestSet", ["cine_sax", "T1map", "cine_lax_2ch"]),
    ]


def _small_plan(centers: tuple[Center, ...]) -> list[tuple[str, str, list[str]]]:
    plan = []
    for center in centers:
        offered = CENTER_SCANS.get(center.code, _CLINICAL)
        splits = ["TrainingSet"] * 2 + ["TestSet"] if center.internal else ["TestSet"] * 2
        n_picks = max(2, -(-len(offered) // len(splits)))  # every offered scan appears at least once
        for i, split in enumerate(splits):
            picks = [offered[(n_picks * i + k) % len(offered)] for k in range(n_picks)]
            stems = ["cine_sax"] + [_lax(i) if p == "cine_lax" else p for p in picks]
            plan.append((center.code, split, stems))
    return plan


def _demo_plan() -> list[tuple[str, str, list[str]]]:
    """Test scans only, from 3 internal and 3 external centers (the ``cardiomm demo`` data: one
    mid-ventricular cine slice of 4 phases plus a single-frame scan per center, sized for minutes
    on a CPU)."""
    return [
        ("Center001", "TestSet", ["cine_sax", "lge"]),
        ("Center002", "TestSet", ["cine_sax"]),
        ("Center015", "TestSet", ["cine_sax", "T2w"]),
        ("Center007", "TestSet", ["cine_sax", "blackblood"]),
        ("Center010", "TestSet", ["cine_sax", "T2w"]),
        ("Center012", "TestSet", ["cine_sax", "lge"]),
    ]


def resolve_modalities(names: Iterable[str]) -> set[Modality]:
    """Map modality keys (``Cine``, ``T1map``...) or folder names (``Mapping``) to :class:`Modality`.

    Raises
    ------
    UnknownChoiceError
        A name that is neither (the message lists the choices).
    """
    out: set[Modality] = set()
    for name in names:
        hits = {m for m in Modality if name in (m.value, m.folder)}
        if not hits:
            choices = sorted({m.value for m in Modality} | {m.folder for m in Modality})
            raise UnknownChoiceError(f"unknown modality {name!r}; choose from {', '.join(choices)}")
        out |= hits
    return out


def plan_mini(
    size: SizePreset | str,
    seed: int,
    centers: tuple[Center, ...] = DEFAULT_CENTERS,
    modalities: Iterable[str] | None = None,
) -> list[FileJob]:
    """List the files of a mini tree (deterministic for ``size``, ``seed`` and ``centers``).

    ``modalities`` restricts the tree to some modalities (keys or folder names; see
    :func:`resolve_modalities`); patients and seeds are unchanged by the restriction.
    """
    size = SizePreset(size)
    keep = None if modalities is None else resolve_modalities(modalities)
    by_code = {c.code: c for c in centers}
    raw = {SizePreset.TINY: _tiny_plan, SizePreset.DEMO: _demo_plan}.get(size, lambda: _small_plan(centers))()
    counters: dict[str, int] = {}
    jobs: list[FileJob] = []
    for code, split, stems in raw:
        if code not in by_code:
            continue
        center = by_code[code]
        counters[code] = counters.get(code, 0) + 1
        patient = f"P{counters[code]:03d}"
        subject_seed = _seed(f"{seed}/{code}/{patient}")
        rng = np.random.default_rng(subject_seed)
        mix = list(center.disease_mix.items())
        probs = np.asarray([w for _, w in mix], float)
        disease = Disease(mix[int(rng.choice(len(mix), p=probs / probs.sum()))][0])
        for stem in stems:
            spec = get_spec(stem)
            if keep is not None and spec.modality not in keep:
                continue
            rel = "/".join(
                [
                    spec.modality.folder,
                    split,
                    FULL_DIR,
                    code,
                    center.scanner_folder,
                    patient,
                    f"{stem}.mat",
                ]
            )
            jobs.append(FileJob(center, split, patient, disease, spec, subject_seed, rel))
    return jobs


def generate_mini(
    out: str | os.PathLike[str],
    *,
    size: SizePreset | str = SizePreset.TINY,
    seed: int = 0,
    centers: tuple[Center, ...] = DEFAULT_CENTERS,
    modalities: Iterable[str] | None = None,
    progress: bool = False,
    on_file: Callable[[FileJob], None] | None = None,
    select: Callable[[FileJob], bool] | None = None,
) -> dict[str, Any]:
    """Simulate a complete MMCMR-style tree under ``out``.

    Parameters
    ----------
    out
        Root folder (created; existing files with the same names are replaced atomically).
    size
        ``tiny`` (tests: 28 scans, about 37 MB, seconds) or ``small`` (demo training: 96 scans over
        9 centers, about 1.5 GB, about a minute).
    seed
        Global seed; the same seed gives byte-identical k-space.
    centers
        Centers to draw from (default :data:`~cardiomm.simulate.centers.DEFAULT_CENTERS`).
    modalities
        Restrict to these modalities (keys such as ``Cine``/``T1map`` or folders such as ``Mapping``).
    progress
        Show a rich progress bar over files.
    on_file
        Called after each file is written.
    select
        Keep only the planned files for which this returns True (subjects and seeds unchanged), e.g.
        ``lambda job: job.split == "TestSet"``.

    Returns
    -------
    dict
        The manifest (also written to ``out/manifest.json``).

    Raises
    ------
    UnknownChoiceError
        Unknown size or modality (raised before anything is written).
    """
    try:
        size = SizePreset(size)
    except ValueError:
        choices = ", ".join(s.value for s in SizePreset)
        raise UnknownChoiceError(f"unknown size {size!r}; choose {choices}") from None
    jobs = plan_mini(size, seed, centers, modalities)
    if select is not None:
        jobs = [j for j in jobs if select(j)]
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []

    def run(advance: Callable[[], None]) -> None:
        for job in jobs:
            heart = sample_heart(job.disease, job.center.population, np.random.default_rng(job.subject_seed))
            entries.append(
                write_scan(
                    root,
                    job.relpath,
                    job.spec,
                    job.center,
                    heart,
                    size=size,
                    scan_seed=_seed(f"{seed}/{job.relpath}"),
                    coil_seed=job.subject_seed,
                    split=job.split,
                    patient=job.patient,
                    disease=job.disease,
                    global_seed=seed,
                )
            )
            if on_file is not None:
                on_file(job)
            advance()

    if progress:
        columns = (TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("files", total=len(jobs))
            run(lambda: bar.advance(task))
    else:
        run(lambda: None)
    manifest = {
        "format": "cardiomm-simulate/1",
        "size": size.value,
        "seed": seed,
        "centers": [
            dict(
                asdict(c),
                scanner_folder=c.scanner_folder,
                split=c.split,
                disease_mix={str(k): v for k, v in c.disease_mix.items()},
            )
            for c in centers
            if any(j.center.code == c.code for j in jobs)
        ],
        "files": entries,
    }
    with atomic_path(root / MANIFEST_NAME) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
    return manifest
