"""Write a reconstructed volume: ``.mat`` (``reconimage``) plus optional NIfTI, PNG, cine GIF, info CSV."""

from __future__ import annotations

import shutil

import torch

from cardiomm.io import find_scan_csv, read_scan_csv, write_cine_gif, write_nifti, write_png, write_recon_mat
from cardiomm.recon.pipeline import ReconTask
from cardiomm.utils.atomic import atomic_path

__all__ = ["write_outputs"]


def write_outputs(
    task: ReconTask,
    volume: torch.Tensor,
    *,
    nifti: bool = False,
    png: bool = False,
    gif: bool = False,
    info_csv: bool = False,
) -> None:
    """Write ``volume`` ``(t, z, y, x)`` to ``task.out_path`` (+ ``.nii.gz`` / ``.png`` / ``.gif`` siblings).

    NIfTI voxel sizes and frame time come from the scan's ``_info.csv`` when present (reference 3.2
    defaults otherwise). ``info_csv`` copies that CSV to ``<out stem>_info.csv``, so that
    ``cardiomm analyse`` finds the geometry of a single-file reconstruction.
    """
    out = task.out_path
    write_recon_mat(out, volume)
    if info_csv and (src := find_scan_csv(task.kspace_path)) is not None:
        with atomic_path(out.with_name(out.stem + "_info.csv")) as tmp:
            shutil.copyfile(src, tmp)
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
