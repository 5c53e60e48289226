"""The real-anatomy step of ``cardiomm demo``: one real CC0 subject, zero-shot, every method.

The package ships three short-axis slices of a real Sunnybrook cine at end-diastole and end-systole
(``assets/real_anatomy``, CC0; a subject of the project's real-anatomy test split). Its k-space is
synthesised by :func:`cardiomm.simulate.real_anatomy.build_corpus` at the external synthetic center
(a Canon 1.5 T 16-element two-ring array: a vendor and coil layout no shipped model was trained on), with
the nine protocol masks, and every method reconstructs it (:func:`cardiomm.scoring.reconstruct_methods`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from cardiomm.scoring import evaluate_and_report, reconstruct_methods

if TYPE_CHECKING:
    from cardiomm.simulate.anatomy_centers import AnatomyCenter

__all__ = [
    "RealDemoResult",
    "REAL_SUBJECT",
    "prepare_real_demo",
    "run_real_demo",
    "score_real_demo",
    "real_subject_path",
]

#: File name of the shipped real subject (under ``cardiomm/assets/real_anatomy``).
REAL_SUBJECT = "sunnybrook_SCD0000101.nii.gz"


@dataclass
class RealDemoResult:
    """What the real-anatomy step wrote and measured."""

    data: Path
    metrics_csv: Path
    report: Path
    table_markdown: str
    n_reconstructions: int
    #: Seconds of reconstruction per method, summed over the worker processes.
    seconds: dict[str, float] = field(default_factory=dict)


def real_subject_path() -> Path:
    """Path of the shipped real subject (NIfTI ``(x, y, z, t)``, three slices x ED / ES)."""
    return Path(str(resources.files("cardiomm") / "assets" / "real_anatomy" / REAL_SUBJECT))


def prepare_real_demo(out: Path, *, seed: int, max_slices: int | None = 1) -> Path:
    """Synthesise the real subject's k-space at the external center into ``out/data`` (kept if it is
    already there); returns that TestSet tree. ``max_slices`` of the three shipped slices are used
    (default the middle one, both frames: the demo's time budget)."""
    from cardiomm.simulate.real_anatomy import build_corpus  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    data = Path(out) / "data"
    if not (data / "manifest.json").is_file():
        build_corpus(
            [real_subject_path()],
            data,
            default_role="test",
            centers=(_external_center(),),
            seed=seed,
            max_slices=max_slices,
        )
    return data


def _external_center() -> AnatomyCenter:
    """The demo's center: the first external (zero-shot) synthetic center."""
    from cardiomm.simulate.anatomy_centers import ANATOMY_CENTERS  # noqa: PLC0415 - lazy: importing this module loads no numpy

    return next(c for c in ANATOMY_CENTERS if not c.internal)


def score_real_demo(
    out: Path,
    methods: Sequence[str],
    *,
    method_order: Sequence[str],
    seconds: Mapping[str, float] | None = None,
    log: Callable[[str], None] = print,
) -> RealDemoResult:
    """Evaluate and report the reconstructions of ``out/recon`` (:func:`prepare_real_demo`'s tree)."""
    from cardiomm.evaluation.aggregate import group_table, markdown_table  # noqa: PLC0415 - lazy: importing this module loads no skimage, torch

    out = Path(out)
    scores = evaluate_and_report(
        out / "data",
        out,
        title="cardiomm demo: a real heart (Sunnybrook SCD0000101), zero-shot",
        roles={_external_center().code: "external"},
        log=log,
    )
    df = scores.metrics
    table = markdown_table(
        group_table(df, ["Mask", "AF"], "PSNR", [m for m in method_order if m in methods]), 2
    )
    seconds = dict(seconds or {})
    return RealDemoResult(out / "data", scores.metrics_csv, scores.report, table, len(df), seconds)


def run_real_demo(
    out: Path,
    methods: Sequence[str],
    *,
    method_order: Sequence[str],
    seed: int,
    log: Callable[[str], None] = print,
    models: Mapping[str, str | Path] | None = None,
    workers: int = 1,
    max_slices: int | None = 1,
    device: str = "cpu",
    precision: str = "fp32",
) -> RealDemoResult:
    """Synthesise the real subject's k-space at the external center and score every method on it
    (:func:`prepare_real_demo`, :func:`cardiomm.scoring.reconstruct_methods` in ``workers`` processes,
    learned methods on ``device`` at ``precision``, then :func:`score_real_demo`)."""
    data = prepare_real_demo(out, seed=seed, max_slices=max_slices)
    seconds = reconstruct_methods(
        data, out, methods, models, workers=workers, reuse=False, device=device, precision=precision
    )
    return score_real_demo(out, methods, method_order=method_order, seconds=seconds, log=log)
