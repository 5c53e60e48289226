"""Compare every method on one k-space file under one mask, against its fully sampled reference."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from cardiomm.evaluation.metrics import evaluate_volume
from cardiomm.io import rss_from_kspace
from cardiomm.recon.pipeline import MaskSpec, ReconTask, infer_pattern, load_task, reconstruct_volume
from cardiomm.recon.prompts import task_prompts

__all__ = ["MethodScore", "compare_methods"]


@dataclass(frozen=True)
class MethodScore:
    """Protocol metrics of one method on one file (means over frames) and its time per frame [s]."""

    method: str
    psnr: float
    ssim: float
    nmse: float
    seconds_per_frame: float


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
    from cardiomm.recon.registry import get_reconstructor

    mask_file = None if mask_path is None else Path(mask_path)
    rel = (mask_file or Path(kspace_path)).as_posix()
    task = ReconTask(Path(kspace_path), mask_file, Path("unused.mat"), rel, mask_spec=mask_spec)
    volume, mask = load_task(task)
    mask_type, accel = infer_pattern(mask, task.mask_path, task.mask_spec)
    meta, us = task_prompts(task, mask_type, accel, override=prompt)
    reference = rss_from_kspace(volume.frames()).view(volume.n_frames, volume.n_slices, volume.ny, volume.nx)
    scores = []
    for name in methods:
        recon = get_reconstructor(name, (models or {}).get(name))
        t0 = time.perf_counter()
        out, _ = reconstruct_volume(
            volume,
            mask,
            recon,
            mask_type=mask_type,
            acceleration=accel,
            n_acs=n_acs,
            metadata_prompt=meta,
            undersampling_prompt=us,
        )
        per_frame = (time.perf_counter() - t0) / max(1, volume.n_frames * volume.n_slices)
        m = evaluate_volume(reference, out.to(torch.float32))
        scores.append(MethodScore(name, m.psnr, m.ssim, m.nmse, per_frame))
    return scores, meta, us
