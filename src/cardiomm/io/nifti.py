"""NIfTI export of magnitude volumes (``nibabel``, imported lazily).

A cardiomm volume ``(t, z, y, x)`` is stored as the NIfTI array ``(x, y, z, t)`` (``x`` fastest, the
same order MATLAB shows), with the affine ``diag(dx, dy, dz, 1)`` from the voxel size in mm, spatial
unit mm and temporal unit s (the 4th zoom is the frame time). Single-frame volumes are written 3-D.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from cardiomm.errors import DataValueError, FileFormatError, InputFileError
from cardiomm.io.checks import check_finite, check_size, reading
from cardiomm.io.image_mat import as_volume
from cardiomm.utils.atomic import atomic_path

__all__ = ["NiftiVolume", "write_nifti", "read_nifti", "read_nifti_array"]

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
    affine: np.ndarray | None = None,
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
    affine
        4x4 voxel-to-world (RAS, mm) affine, e.g. :meth:`cardiomm.io.geometry.ImageGeometry.nifti_affine`;
        default ``diag(dx, dy, dz, 1)`` (no orientation known). Its column norms must match
        ``voxel_size_mm``.

    Returns
    -------
    Path
        The written file.
    """
    import nibabel as nib  # noqa: PLC0415 - lazy: importing this module loads no nibabel

    p = Path(path)
    vol = as_volume(volume, path=p, name="volume")
    spacing = [float(v) for v in voxel_size_mm]
    if len(spacing) != 3 or min(spacing) <= 0:
        raise DataValueError(f"voxel_size_mm must be 3 positive numbers, got {voxel_size_mm}", path=p)
    data = np.ascontiguousarray(vol.T)  # (x, y, z, t)
    if data.shape[3] == 1:
        data = data[..., 0]
    if affine is None:
        affine = np.diag([*spacing, 1.0])
    else:
        affine = np.asarray(affine, dtype=np.float64)
        norms = np.linalg.norm(affine[:3, :3], axis=0) if affine.shape == (4, 4) else None
        if norms is None or not np.all(np.isfinite(affine)) or not np.allclose(norms, spacing, rtol=1e-3):
            raise DataValueError(f"affine must be a finite 4x4 with column norms {spacing} mm", path=p)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    zooms = (*spacing, float(frame_time_s)) if data.ndim == 4 else tuple(spacing)
    img.header.set_zooms(zooms)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    with atomic_path(p) as tmp:
        nib.save(img, tmp)
    return p


def _raw_header(p: Path) -> tuple[str, bytes, str] | None:
    """``(kind, header bytes, byte order)`` of a NIfTI-1 / NIfTI-2 file, ``None`` for another file."""
    opener = gzip.open if p.name.endswith(".gz") else open
    with opener(p, "rb") as fh:
        head = fh.read(540)
    for order in "<>":
        for kind, size in (("nifti1", 348), ("nifti2", 540)):
            if len(head) >= size and struct.unpack_from(f"{order}i", head)[0] == size:
                return kind, head[:size], order
    return None


def _check_header(p: Path) -> None:
    """Check the header as stored: nibabel silently "fixes" a zero or negative voxel size and invalid
    codes on loading, so the raw bytes are checked instead."""
    import nibabel as nib  # noqa: PLC0415 - lazy: importing this module loads no nibabel

    raw = _raw_header(p)
    if raw is None:  # nibabel would guess the byte order and reset sizeof_hdr
        raise FileFormatError("not a NIfTI-1 or NIfTI-2 header (sizeof_hdr is not 348 or 540)", path=p)
    kind, block, order = raw
    if kind == "nifti1":
        n_dims = struct.unpack_from(f"{order}h", block, 40)[0]
        pixdim = [float(v) for v in struct.unpack_from(f"{order}8f", block, 76)[1:]]
    else:
        n_dims = struct.unpack_from(f"{order}q", block, 16)[0]
        pixdim = [float(v) for v in struct.unpack_from(f"{order}8d", block, 104)[1:]]
    zooms = pixdim[: min(max(int(n_dims), 0), 7)]
    bad_space = not all(math.isfinite(z) and z > 0 for z in zooms[:3])
    if bad_space or not all(math.isfinite(z) and z >= 0 for z in zooms[3:4]):
        raise DataValueError(f"voxel sizes {zooms} must be finite and positive", path=p)
    header_class = nib.Nifti1Header if kind == "nifti1" else nib.Nifti2Header
    report = header_class.diagnose_binaryblock(block)
    problems = [line for line in report.splitlines() if line and not line.startswith(("pixdim", "qfac"))]
    if problems:  # pixdim/qfac: checked above, or harmless for absent dimensions
        raise FileFormatError(f"damaged NIfTI header ({'; '.join(problems)})", path=p)


def read_nifti_array(path: PathLike) -> tuple[Any, np.ndarray]:
    """Load a NIfTI file as ``(nibabel image, float32 array in NIfTI order)``, checked.

    The declared shape passes the size guard (:func:`~cardiomm.io.checks.check_size`) before any data
    is read; the values must be finite; the spatial voxel sizes of the dimensions present must be
    finite and positive **as stored** (nibabel would silently replace a zero or negative one), the
    time step (4th zoom) finite and non-negative, the affine finite; header codes nibabel would reset
    (``sizeof_hdr``, ``datatype``/``bitpix``, magic, ``vox_offset``, ``qform_code``/``sform_code``)
    must be valid.

    Raises
    ------
    InputFileError
        Missing file.
    FileFormatError
        Unreadable, truncated or corrupt file (any nibabel / gzip error).
    DataValueError
        NaN/Inf values, a bad voxel size or affine.
    SizeLimitError
        Declared shape over the size guard.
    """
    import nibabel as nib  # noqa: PLC0415 - lazy: importing this module loads no nibabel

    p = Path(path)
    if not p.is_file():
        raise InputFileError("file not found", path=p)
    with reading(p, "NIfTI file"):
        _check_header(p)
        # nib.load is typed as any image format; NIfTI-1 / -2 images are Nifti1Image
        img = cast(nib.Nifti1Image, nib.load(p))
        shape = tuple(int(d) for d in img.header.get_data_shape())
        check_size(shape, "NIfTI image", p)
        if not np.isfinite(np.asarray(img.affine, dtype=float)).all():
            raise DataValueError("the affine has NaN/Inf values", path=p)
        data = np.asarray(img.dataobj, dtype=np.float32)
        check_finite(data, "NIfTI image", p)
    return img, data


def read_nifti(path: PathLike) -> NiftiVolume:
    """Read a NIfTI magnitude volume back to ``(t, z, y, x)`` float32.

    Raises
    ------
    InputFileError, FileFormatError
        Missing or unreadable file.
    DataValueError, SizeLimitError
        See :func:`read_nifti_array`.
    """
    p = Path(path)
    img, data = read_nifti_array(p)
    while data.ndim < 4:
        data = data[..., None]
    if data.ndim > 4:
        raise DataValueError(f"NIfTI image has {data.ndim} dimensions; expected up to 4", path=p)
    with reading(p, "NIfTI file"):
        zooms = [float(z) for z in img.header.get_zooms()]
    while len(zooms) < 3:
        zooms.append(1.0)
    return NiftiVolume(
        volume=torch.from_numpy(np.ascontiguousarray(data[:, :, :, :].T)),
        voxel_size_mm=(zooms[0], zooms[1], zooms[2]),
        frame_time_s=zooms[3] if len(zooms) > 3 else 0.0,
        affine=np.asarray(img.affine),
    )
