"""NIfTI export of magnitude volumes (``nibabel``, imported lazily).

A cardiomm volume ``(t, z, y, x)`` is stored as the NIfTI array ``(x, y, z, t)`` (``x`` fastest, the
same order MATLAB shows), with the affine ``diag(dx, dy, dz, 1)`` from the voxel size in mm, spatial
unit mm and temporal unit s (the 4th zoom is the frame time). Single-frame volumes are written 3-D.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch

from cardiomm.errors import DataValueError, FileFormatError, InputFileError
from cardiomm.io.recon import as_volume
from cardiomm.utils.atomic import atomic_path

__all__ = ["NiftiVolume", "write_nifti", "read_nifti"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class NiftiVolume:
    """A magnitude volume read from NIfTI.

    Attributes
    ----------
    volume
        ``(t, z, y, x)`` float32.
    voxel_size_mm
        ``(dx, dy, dz)`` [mm].
    frame_time_s
        Time between frames [s] (0 when unknown).
    affine
        4x4 voxel-to-world affine [mm].
    """

    volume: torch.Tensor
    voxel_size_mm: tuple[float, float, float]
    frame_time_s: float
    affine: np.ndarray


def write_nifti(
    path: PathLike,
    volume: np.ndarray | torch.Tensor,
    *,
    voxel_size_mm: Sequence[float] = (2.0, 2.0, 8.0),
    frame_time_s: float = 0.0,
) -> Path:
    """Write a magnitude volume to ``.nii`` / ``.nii.gz``, atomically.

    Parameters
    ----------
    path
        Destination (``.nii`` or ``.nii.gz``).
    volume
        ``(t, z, y, x)`` (or ``(z, y, x)``, ``(y, x)``) real magnitude; stored float32.
    voxel_size_mm
        ``(dx, dy, dz)`` [mm]: readout pixel, phase-encode pixel, slice thickness (e.g.
        :attr:`cardiomm.io.scan_csv.ScanParameters.voxel_size_mm`).
    frame_time_s
        Frame interval [s] (e.g. TR for cine), stored as the 4th zoom.

    Returns
    -------
    Path
        The written file.
    """
    import nibabel as nib

    p = Path(path)
    vol = as_volume(volume, path=p, name="volume")
    spacing = [float(v) for v in voxel_size_mm]
    if len(spacing) != 3 or min(spacing) <= 0:
        raise DataValueError(f"voxel_size_mm must be 3 positive numbers, got {voxel_size_mm}", path=p)
    data = np.ascontiguousarray(vol.T)  # (x, y, z, t)
    if data.shape[3] == 1:
        data = data[..., 0]
    affine = np.diag([*spacing, 1.0])
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    zooms = (*spacing, float(frame_time_s)) if data.ndim == 4 else tuple(spacing)
    img.header.set_zooms(zooms)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    with atomic_path(p) as tmp:
        nib.save(img, tmp)
    return p


def read_nifti(path: PathLike) -> NiftiVolume:
    """Read a NIfTI magnitude volume back to ``(t, z, y, x)`` float32.

    Raises
    ------
    InputFileError, FileFormatError
        Missing or unreadable file.
    """
    import nibabel as nib

    p = Path(path)
    if not p.is_file():
        raise InputFileError("file not found", path=p)
    try:
        # nib.load is typed as any image format; NIfTI-1 / -2 images are Nifti1Image
        img = cast(nib.Nifti1Image, nib.load(p))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as err:  # nibabel raises several types on damaged files
        raise FileFormatError(f"cannot read NIfTI file ({str(err).splitlines()[0]})", path=p) from None
    while data.ndim < 4:
        data = data[..., None]
    zooms = [float(z) for z in img.header.get_zooms()]
    while len(zooms) < 3:
        zooms.append(1.0)
    return NiftiVolume(
        volume=torch.from_numpy(np.ascontiguousarray(data[:, :, :, :].T)),
        voxel_size_mm=(zooms[0], zooms[1], zooms[2]),
        frame_time_s=zooms[3] if len(zooms) > 3 else 0.0,
        affine=np.asarray(img.affine),
    )
