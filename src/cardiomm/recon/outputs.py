"""Write a reconstructed volume: ``.mat`` (``reconimage``) plus optional NIfTI, PNG and cine GIF."""

from __future__ import annotations

import torch

from cardiomm.io import find_scan_csv, read_scan_csv, write_cine_gif, write_nifti, write_png, write_recon_mat
from cardiomm.recon.pipeline import ReconTask

__all__ = ["write_outputs"]


def write_outputs(task: ReconTask, volume: torch.Tensor, *, nifti: bool = False, png: bool = False, gif: bool = False) -> None:
    """Write ``volume`` ``(t, z, y, x)`` to ``task.out_path`` (+ ``.nii.gz`` / ``.png`` / ``.gif`` siblings).

    NIfTI voxel sizes and frame time come from the scan's ``_info.csv`` when present (reference 3.2
    defaults otherwise).
    """
    out = task.out_path
    write_recon_mat(out, volume)
    stem = out.with_suffix("")
    z = volume.shape[1] // 2
    if nifti:
        csv = find_scan_csv(task.kspace_path)
        params = read_scan_csv(csv) if csv is not None else None
        voxel = params.voxel_size_mm if params is not None else (2.0, 2.0, 8.0)
        frame_time = params.tr_s if params is not None and params.tr_s else 1.0
        write_nifti(stem.with_suffix(".nii.gz"), volume, voxel_size_mm=voxel, frame_time_s=frame_time)
    if png:
        write_png(stem.with_suffix(".png"), volume[0, z])
    if gif:
        write_cine_gif(stem.with_suffix(".gif"), volume[:, z])
