"""Compare every method on one k-space file under one mask, against its fully sampled reference."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cardiomm.evaluation.metrics import evaluate_volume
from cardiomm.evaluation.report import image_grid
from cardiomm.io import rss_from_kspace, write_png, write_recon_mat
from cardiomm.recon.pipeline import MaskSpec, ReconTask, infer_pattern, load_task, reconstruct_volume
from cardiomm.recon.prompts import task_prompts
from cardiomm.recon.registry import get_reconstructor
from cardiomm.utils.atomic import atomic_dir

__all__ = ["MethodScore", "Comparison", "compare_methods", "run_comparison", "write_comparison"]


@dataclass(frozen=True)
class MethodScore:
    """Protocol metrics of one method on one file (means over frames) and its time per frame [s]."""

    method: str
    psnr: float
    ssim: float
    nmse: float
    seconds_per_frame: float


@dataclass
class Comparison:
    """Everything one comparison produced: scores, prompts, the reference and each reconstruction.

    Volumes are magnitudes ``(t, z, y, x)`` float32 on the full reconstructed grid.
    """

    scores: list[MethodScore]
    metadata_prompt: str
    undersampling_prompt: str
    reference: torch.Tensor
    recons: dict[str, torch.Tensor]


def compare_methods(
    kspace_path: Path,
    mask_path: Path | None,
    methods: Sequence[str],
    *,
    n_acs: int = 20,
    prompt: str | None = None,
    mask_spec: MaskSpec | None = None,
    models: Mapping[str, str | Path] | None = None,
) -> tuple[list[MethodScore], str, str]:
    """Reconstruct ``kspace_path`` under ``mask_path`` (or a generated ``mask_spec`` mask) with each method
    and score it (reference: RSS of the fully sampled k-space). Returns the scores and the two prompts.
    ``models`` maps a learned method to its checkpoint (default: the shipped one)."""
    result = run_comparison(
        kspace_path, mask_path, methods, n_acs=n_acs, prompt=prompt, mask_spec=mask_spec, models=models
    )
    return result.scores, result.metadata_prompt, result.undersampling_prompt


def write_comparison(result: Comparison, out: Path, title: str) -> list[Path]:
    """Write ``out/``: ``metrics.csv`` (protocol metrics and s/frame per method, the prompts),
    ``<method>.mat`` and ``reference.mat`` (``reconimage``, full grid), ``images/<method>.png`` and
    ``errors/<method>.png`` (middle slice, first frame; error = |recon - reference| after the protocol's
    per-frame 99.5th-percentile normalisation, x5) and ``comparison.png`` (all images and error maps).
    Written into a temporary folder that replaces ``out`` only when complete. Returns the files."""

    def norm(x: np.ndarray) -> np.ndarray:
        p = float(np.percentile(x, 99.5))
        return x / p if p > 0 else x

    z = result.reference.shape[1] // 2
    ref = result.reference[0, z].numpy()
    with atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        (tmp / "errors").mkdir()
        with (tmp / "metrics.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["method", "psnr_db", "ssim", "nmse", "seconds_per_frame", "metadata_prompt",
                             "undersampling_prompt"])  # fmt: skip
            for s in result.scores:
                writer.writerow([s.method, f"{s.psnr:.4f}", f"{s.ssim:.6f}", f"{s.nmse:.6f}",
                                 f"{s.seconds_per_frame:.4f}", result.metadata_prompt,
                                 result.undersampling_prompt])  # fmt: skip
        write_recon_mat(tmp / "reference.mat", result.reference)
        write_png(tmp / "images" / "reference.png", ref)
        for name, vol in result.recons.items():
            write_recon_mat(tmp / f"{name}.mat", vol)
            img = vol[0, z].numpy()
            write_png(tmp / "images" / f"{name}.png", img)
            error = np.clip(np.abs(norm(img) - norm(ref)) * 5.0, 0.0, 1.0)
            write_png(tmp / "errors" / f"{name}.png", error, vmax=1.0)
        image_grid(ref, {n: v[0, z].numpy() for n, v in result.recons.items()}, tmp / "comparison.png", title)
    return sorted(p for p in out.rglob("*") if p.is_file())


def run_comparison(
    kspace_path: Path,
    mask_path: Path | None,
    methods: Sequence[str],
    *,
    n_acs: int = 20,
    prompt: str | None = None,
    mask_spec: MaskSpec | None = None,
    models: Mapping[str, str | Path] | None = None,
    device: str = "cpu",
    precision: str = "fp32",
    dc: str = "soft",
) -> Comparison:
    """As :func:`compare_methods`, keeping the reference and every reconstruction; learned methods run
    on ``device`` at ``precision`` (``fp32`` / ``tf32`` / ``bf16``, :mod:`cardiomm.utils.precision`),
    with the data consistency ``dc`` of their output
    (:class:`~cardiomm.recon.learned.LearnedRecon`)."""
    mask_file = None if mask_path is None else Path(mask_path)
    rel = (mask_file or Path(kspace_path)).as_posix()
    task = ReconTask(Path(kspace_path), mask_file, Path("unused.mat"), rel, mask_spec=mask_spec)
    volume, mask = load_task(task)
    mask_type, accel = infer_pattern(mask, task.mask_path, task.mask_spec)
    meta, us = task_prompts(task, mask_type, accel, override=prompt)
    reference = rss_from_kspace(volume.frames()).view(volume.n_frames, volume.n_slices, volume.ny, volume.nx)
    scores = []
    recons: dict[str, torch.Tensor] = {}
    for name in methods:
        recon = get_reconstructor(name, (models or {}).get(name), device=device, precision=precision, dc=dc)
        out, per_frame = reconstruct_volume(
            volume,
            mask,
            recon,
            mask_type=mask_type,
            acceleration=accel,
            n_acs=n_acs,
            metadata_prompt=meta,
            undersampling_prompt=us,
        )
        recons[name] = out.to(torch.float32)
        m = evaluate_volume(reference, recons[name])
        scores.append(MethodScore(name, m.psnr, m.ssim, m.nmse, per_frame))
    return Comparison(scores, meta, us, reference.to(torch.float32), recons)
