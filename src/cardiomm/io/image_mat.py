"""Magnitude image volumes in ``.mat`` files: reconstructions and reference images.

Keys: ``reconimage`` (method outputs), ``img4ranking`` (CMRxRecon ranking references), ``gtsosimage``
(MMCMR-427K ``GTSOS`` root-sum-of-squares references). All are MATLAB ``[nx, ny, nz, nt]`` magnitude,
which is ``(t, z, y, x)`` in h5py order; MATLAB drops trailing singleton dims, so ``[nx, ny]`` reads as
``(1, 1, y, x)`` and ``[nx, ny, nz]`` as ``(1, z, y, x)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io
import torch

from cardiomm.errors import DataValueError, MissingKeyError, ShapeError
from cardiomm.io.checks import reading
from cardiomm.io.mat import list_mat_variables, load_mat_variables, save_mat
from cardiomm.utils.atomic import atomic_path

__all__ = ["IMAGE_KEYS", "read_image_mat", "write_recon_mat", "as_volume"]

PathLike = str | os.PathLike[str]

#: Accepted image variable names, in order of preference.
IMAGE_KEYS: tuple[str, ...] = ("reconimage", "img4ranking", "gtsosimage")


def as_volume(
    image: np.ndarray | torch.Tensor, *, path: PathLike | None = None, name: str = "image"
) -> np.ndarray:
    """Promote a magnitude image to ``(t, z, y, x)`` float32 numpy.

    ``(y, x)`` -> ``(1, 1, y, x)``; ``(z, y, x)`` -> ``(1, z, y, x)``. Complex input is rejected.

    Raises
    ------
    ShapeError
        Not 2-D to 4-D.
    DataValueError
        Complex values or NaN/Inf.
    """
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.dtype.kind == "c":
        raise DataValueError(f"{name} is complex; a magnitude image is expected (take abs first)", path=path)
    if arr.dtype.kind not in "fiub":
        raise DataValueError(f"{name} has non-numeric dtype {arr.dtype}", path=path)
    if not 2 <= arr.ndim <= 4:
        msg = f"{name} has shape {arr.shape}; expected (t, z, y, x), (z, y, x) or (y, x)"
        raise ShapeError(msg, path=path)
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise DataValueError(f"{name} has NaN/Inf values", path=path)
    return arr.reshape((1,) * (4 - arr.ndim) + arr.shape)


def read_image_mat(path: PathLike, key: str | None = None) -> torch.Tensor:
    """Read a magnitude image volume (``reconimage`` | ``img4ranking`` | ``gtsosimage``).

    Parameters
    ----------
    path
        v5 or v7.3 ``.mat`` file.
    key
        Variable name; by default the first of :data:`IMAGE_KEYS` present.

    Returns
    -------
    torch.Tensor
        ``(t, z, y, x)`` float32 (MATLAB ``[nx, ny, nz, nt]``). Complex-stored images are converted to
        their magnitude.

    Raises
    ------
    MissingKeyError
        No image variable.
    ShapeError
        Not 2-D to 4-D.
    DataValueError
        NaN/Inf values.
    """
    p = Path(path)
    with reading(p, "image MAT file"):
        return _read_image_mat(p, key)


def _read_image_mat(p: Path, key: str | None) -> torch.Tensor:
    if key is None:
        names = list(list_mat_variables(p))
        found = [k for k in IMAGE_KEYS if k in names]
        if not found:
            raise MissingKeyError(
                f"no image variable ({', '.join(IMAGE_KEYS)}); found: {', '.join(names) or 'none'}", path=p
            )
        key = found[0]
    arr = load_mat_variables(p, [key])[key]
    if arr.dtype.kind == "c":
        arr = np.abs(arr)
    return torch.from_numpy(np.ascontiguousarray(as_volume(arr, path=p, name=f"variable {key!r}")))


def write_recon_mat(
    path: PathLike,
    volume: np.ndarray | torch.Tensor,
    *,
    key: str = "reconimage",
    version: Literal["7.3", "5"] = "7.3",
) -> Path:
    """Write a magnitude reconstruction as MATLAB ``[nx, ny, nz, nt]`` single, atomically.

    Parameters
    ----------
    path
        Destination ``.mat`` file.
    volume
        ``(t, z, y, x)`` (or ``(z, y, x)``, ``(y, x)``) real magnitude, any float dtype; stored float32.
    key
        Variable name (``reconimage`` for submissions).
    version
        ``"7.3"`` (HDF5, :func:`~cardiomm.io.mat.save_mat`) or ``"5"`` (:func:`scipy.io.savemat`, as the
        published scripts write; needs < 2 GiB).

    Returns
    -------
    Path
        The written file.
    """
    p = Path(path)
    vol = as_volume(volume, path=p, name="reconstruction")
    if version == "7.3":
        return save_mat(p, {key: vol})
    if version != "5":
        raise DataValueError(f"unknown MAT version {version!r} (use '7.3' or '5')", path=p)

    with atomic_path(p) as tmp, open(tmp, "wb") as fh:
        scipy.io.savemat(fh, {key: np.asfortranarray(vol.T)}, do_compression=True)
    return p
