"""CMRxRecon / MMCMR-427K k-space and mask ``.mat`` files -> typed :class:`KSpaceVolume`.

Dimension interpretation
------------------------
Files store MATLAB ``[nx, ny, nc, nz, nt]`` (nx = readout = kx, ny = phase encode = ky). MATLAB drops
trailing singleton dimensions, so fewer dimensions mean the *last* axes are missing. In h5py order
(which is cardiomm's memory order) a file's array is promoted to ``(t, z, c, ky, kx)`` as follows:

========  ==========================  =========================  ===========================
 ndim      MATLAB dims                 stored (h5py order)        interpretation
========  ==========================  =========================  ===========================
 2         ``[nx, ny]``                ``(ky, kx)``               one coil, one slice, one frame
 3         ``[nx, ny, nc]``            ``(c, ky, kx)``            one slice, one frame
 4         ``[nx, ny, nc, nz]``        ``(z, c, ky, kx)``         one frame (e.g. blackblood)
 5         ``[nx, ny, nc, nz, nt]``    ``(t, z, c, ky, kx)``      full layout
========  ==========================  =========================  ===========================

Single-coil CMRxRecon2023 variables (``kspace_single_full``, ``kspace_single_subXX``) have no coil
axis: MATLAB ``[nx, ny, nz, nt]``; for them the coil axis is inserted as ``c = 1`` instead (2-D:
``[nx, ny]``; 3-D: ``[nx, ny, nz]``; 4-D: ``[nx, ny, nz, nt]``).

A 2-D multi-coil file with one coil cannot be told apart from a single-coil file, and both read the
same way. The real demo file ``cmrxrecon2024_demo_cine_sax_1coil_1slice_1frame.mat`` (MATLAB
``(512, 246)`` = ``(kx, ky)``) reads to ``(1, 1, 1, 246, 512)``.

Masks are MATLAB ``[nx, ny, nt]`` or ``[nx, ny]`` -> ``(t, ky, kx)`` with ``t = 1`` for 2-D masks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import numpy as np
import torch

from cardiomm.errors import DataValueError, MaskError, MissingKeyError, ShapeError
from cardiomm.io.checks import reading
from cardiomm.io.mat import list_mat_variables, load_mat_variables
from cardiomm.layout import KSPACE_KEYS

__all__ = [
    "average_acquired_lines",
    "KSpaceVolume",
    "KSPACE_KEYS",
    "read_cmrxrecon",
    "read_mask",
    "check_mask_fits",
    "kspace_to_volume",
]

PathLike = str | os.PathLike[str]

#: Accepted k-space variable names, in order of preference (fully sampled names first).
_SUB_RE = re.compile(r"^kspace(_single)?_sub\d+$")
_MASK_RE = re.compile(r"^mask\d*$")


@dataclass(frozen=True)
class KSpaceVolume:
    """One k-space file: a multi-coil volume with its provenance.

    Attributes
    ----------
    kspace
        ``(t, z, c, ky, kx)`` complex64.
    source
        The file it was read from (or a descriptive path for in-memory data).
    key
        The variable read (``kspace_full``, ``kspace``, ``kus``, ...).
    matlab_shape
        The variable's shape as MATLAB reports it (``[nx, ny, nc, nz, nt]`` minus trailing ones).
    undersampled
        True for undersampled variables (``kus``, ``kspace_subXX``): unsampled entries are zero.
    mask
        Optional sampling mask ``(t, ky, kx)`` bool with ``t`` equal to :attr:`n_frames` (a 2-D mask is
        repeated over frames by :func:`check_mask_fits`).
    """

    kspace: torch.Tensor
    source: Path
    key: str
    matlab_shape: tuple[int, ...]
    undersampled: bool = False
    mask: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kspace.ndim != 5:
            shape = tuple(self.kspace.shape)
            raise ShapeError(f"k-space must be 5-D (t, z, c, ky, kx), got {shape}", path=self.source)
        if self.kspace.dtype != torch.complex64:
            raise DataValueError(f"k-space must be complex64, got {self.kspace.dtype}", path=self.source)

    @property
    def n_frames(self) -> int:
        """Number of time frames / contrasts ``t``."""
        return int(self.kspace.shape[0])

    @property
    def n_slices(self) -> int:
        """Number of slices ``z``."""
        return int(self.kspace.shape[1])

    @property
    def n_coils(self) -> int:
        """Number of receive coils ``c``."""
        return int(self.kspace.shape[2])

    @property
    def ny(self) -> int:
        """Phase-encode size (``ky``, axis -2)."""
        return int(self.kspace.shape[3])

    @property
    def nx(self) -> int:
        """Readout size (``kx``, axis -1)."""
        return int(self.kspace.shape[4])

    @property
    def n_batch(self) -> int:
        """Number of 2-D frames ``b = t * z``."""
        return self.n_frames * self.n_slices

    def frames(self) -> torch.Tensor:
        """Return the k-space as a batch of 2-D frames ``(b, c, ky, kx)``, ``b = t * z`` t-major.

        Frame ``b`` is time ``b // n_slices`` and slice ``b % n_slices``. A view when possible.
        """
        t, z, c, ky, kx = self.kspace.shape
        return self.kspace.reshape(t * z, c, ky, kx)

    def frame_masks(self) -> torch.Tensor:
        """Return the mask as ``(b, 1, ky, kx)`` bool aligned with :meth:`frames`.

        Raises
        ------
        MaskError
            The volume carries no mask.
        """
        if self.mask is None:
            raise MaskError("volume has no mask", path=self.source)
        mask = self.mask
        if mask.shape[0] == 1 and self.n_frames > 1:
            mask = mask.expand(self.n_frames, -1, -1)
        return mask.repeat_interleave(self.n_slices, dim=0)[:, None]

    def with_mask(self, mask: torch.Tensor, *, mask_source: PathLike | None = None) -> KSpaceVolume:
        """Return a copy carrying ``mask`` (checked and broadcast with :func:`check_mask_fits`)."""
        return replace(self, mask=check_mask_fits(self, mask, mask_source=mask_source))


def _pick_key(path: Path) -> str:
    names = list(list_mat_variables(path))
    for key in KSPACE_KEYS:
        if key in names:
            return key
    subs = sorted(n for n in names if _SUB_RE.match(n))
    if len(subs) == 1:
        return subs[0]
    if len(subs) > 1:
        msg = f"several undersampled k-space variables ({', '.join(subs)}); pass key="
        raise MissingKeyError(msg, path=path)
    expected = ", ".join(KSPACE_KEYS) + ", kspace_subXX"
    raise MissingKeyError(f"no k-space variable ({expected}); found: {', '.join(names) or 'none'}", path=path)


def kspace_to_volume(
    arr: np.ndarray,
    *,
    source: PathLike = "<memory>",
    key: str = "kspace",
    undersampled: bool | None = None,
) -> KSpaceVolume:
    """Validate a k-space array in h5py order and promote it to a :class:`KSpaceVolume`.

    Parameters
    ----------
    arr
        Complex array, 2-D to 5-D, in h5py order (see the module docstring for how missing
        dimensions are interpreted; ``key`` containing ``single`` means "no coil axis").
    source, key
        Provenance recorded in the result and used in error messages.
    undersampled
        Defaults to True for ``kus`` and ``kspace_subXX`` keys.

    Raises
    ------
    ShapeError
        Not 2-D to 5-D, or an empty axis.
    DataValueError
        Real-valued data, or NaN/Inf values.
    """
    src = Path(source)
    if arr.dtype.kind != "c":
        msg = f"variable {key!r} is real-valued ({arr.dtype}); complex k-space expected"
        raise DataValueError(msg, path=src)
    if not 2 <= arr.ndim <= 5 or (arr.ndim == 5 and "single" in key):
        raise ShapeError(
            f"variable {key!r} has {arr.ndim} dimensions (MATLAB {list(arr.shape[::-1])}); "
            "expected 2-D to 5-D [nx, ny, nc, nz, nt]",
            path=src,
        )
    if arr.size == 0:
        raise ShapeError(f"variable {key!r} is empty (shape {arr.shape})", path=src)
    finite = np.isfinite(arr)
    if not finite.all():
        raise DataValueError(f"variable {key!r} has {int((~finite).sum())} NaN/Inf values", path=src)
    matlab_shape = tuple(int(s) for s in arr.shape[::-1])
    if "single" in key:  # no coil axis: [nx, ny, nz, nt] -> insert c = 1 before (ky, kx)
        arr = arr[..., None, :, :]
    arr5 = arr.reshape((1,) * (5 - arr.ndim) + arr.shape)
    kspace = torch.from_numpy(np.ascontiguousarray(arr5, dtype=np.complex64))
    if undersampled is None:
        undersampled = key == "kus" or bool(_SUB_RE.match(key))
    return KSpaceVolume(
        kspace=kspace, source=src, key=key, matlab_shape=matlab_shape, undersampled=undersampled
    )


def read_cmrxrecon(
    path: PathLike,
    *,
    key: str | None = None,
    mask: PathLike | torch.Tensor | None = None,
) -> KSpaceVolume:
    """Read a CMRxRecon / MMCMR-427K k-space ``.mat`` file (v5 or v7.3).

    Parameters
    ----------
    path
        The ``.mat`` file.
    key
        Variable to read. By default the first present of ``kspace_full``, ``kspace``, ``kus``,
        ``kspace_single_full``, else a single ``kspace_subXX`` / ``kspace_single_subXX``.
    mask
        Optional mask file (read with :func:`read_mask`) or ``(t, ky, kx)`` / ``(ky, kx)`` tensor,
        checked against the k-space and attached as :attr:`KSpaceVolume.mask`.

    Returns
    -------
    KSpaceVolume
        k-space ``(t, z, c, ky, kx)`` complex64.

    Raises
    ------
    InputFileError, FileFormatError
        Missing, truncated or non-MAT file.
    MissingKeyError
        No k-space variable (the message lists the variables found).
    ShapeError, DataValueError, MaskError
        See :func:`kspace_to_volume` and :func:`check_mask_fits`.
    """
    p = Path(path)
    with reading(p, "k-space MAT file"):
        chosen = key if key is not None else _pick_key(p)
        arr = load_mat_variables(p, [chosen])[chosen]
        volume = kspace_to_volume(arr, source=p, key=chosen)
    if mask is not None:
        if isinstance(mask, torch.Tensor):
            volume = volume.with_mask(mask)
        else:
            volume = volume.with_mask(read_mask(mask), mask_source=mask)
    return volume


def read_mask(path: PathLike, key: str | None = "mask") -> torch.Tensor:
    """Read a sampling mask ``.mat`` file (v5 or v7.3).

    Parameters
    ----------
    path
        The mask file (``<name>_mask_<Pattern><R>.mat``, or a CMRxRecon2023 ``*_mask.mat``).
    key
        Variable name; ``None`` picks ``mask`` or the single ``maskXX`` variable (2023 files hold
        ``mask04``/``mask08``/``mask10``: pass the one wanted).

    Returns
    -------
    torch.Tensor
        ``(t, ky, kx)`` bool (MATLAB ``[nx, ny, nt]``); ``t = 1`` for a 2-D mask.

    Raises
    ------
    MissingKeyError
        No such variable.
    ShapeError
        Not 2-D or 3-D.
    DataValueError
        Values other than 0/1 (or NaN).
    """
    p = Path(path)
    with reading(p, "mask MAT file"):
        return _read_mask(p, key)


def _read_mask(p: Path, key: str | None) -> torch.Tensor:
    if key is None:
        names = list(list_mat_variables(p))
        cands = [n for n in names if _MASK_RE.match(n)]
        if len(cands) != 1:
            msg = f"expected one mask variable (mask, maskXX); found: {', '.join(names) or 'none'}"
            raise MissingKeyError(msg, path=p)
        key = cands[0]
    arr = load_mat_variables(p, [key])[key]
    if arr.ndim not in (2, 3):
        msg = f"mask {key!r} has {arr.ndim} dimensions; expected MATLAB [nx, ny] or [nx, ny, nt]"
        raise ShapeError(msg, path=p)
    if arr.dtype.kind == "c":
        raise DataValueError(f"mask {key!r} is complex-valued", path=p)
    if arr.dtype != np.bool_ and not np.isin(arr, (0, 1)).all():
        raise DataValueError(f"mask {key!r} has values other than 0 and 1", path=p)
    mask = torch.from_numpy(np.ascontiguousarray(arr.astype(np.bool_)))
    return mask[None] if mask.ndim == 2 else mask


def check_mask_fits(
    volume: KSpaceVolume,
    mask: torch.Tensor,
    *,
    mask_source: PathLike | None = None,
) -> torch.Tensor:
    """Check that a mask fits a k-space volume and return it as ``(t, ky, kx)`` bool.

    Parameters
    ----------
    volume
        The k-space volume.
    mask
        ``(t, ky, kx)`` or ``(ky, kx)``; ``t`` must be 1 or :attr:`KSpaceVolume.n_frames`.
    mask_source
        The mask file, named in error messages (defaults to the volume's file).

    Returns
    -------
    torch.Tensor
        ``(n_frames, ky, kx)`` bool (a single-frame mask is repeated over frames).

    Raises
    ------
    MaskError
        Wrong dimensionality or size (a transposed ``(kx, ky)`` mask is reported as such), or a
        mask with no sampled point.
    """
    where = Path(mask_source) if mask_source is not None else volume.source
    kshape = tuple(volume.kspace.shape)
    what = f"mask {tuple(mask.shape)} vs k-space {volume.source.name} (t, z, c, ky, kx) = {kshape}"
    if mask.ndim == 2:
        mask = mask[None]
    if mask.ndim != 3:
        raise MaskError(f"{what}: mask must be (t, ky, kx) or (ky, kx)", path=where)
    t, ky, kx = mask.shape
    if (ky, kx) != (volume.ny, volume.nx):
        hint = " (mask looks transposed: (kx, ky))" if (kx, ky) == (volume.ny, volume.nx) else ""
        raise MaskError(f"{what}: in-plane size differs{hint}", path=where)
    if t not in (1, volume.n_frames):
        raise MaskError(f"{what}: mask has {t} frames, k-space has {volume.n_frames}", path=where)
    mask = mask.to(torch.bool)
    if not bool(mask.any()):
        raise MaskError("mask samples no k-space point", path=where)
    return mask.expand(volume.n_frames, ky, kx).contiguous()


def average_acquired_lines(
    kspace: np.ndarray, hits: np.ndarray, path: PathLike, what: str = "samples"
) -> tuple[torch.Tensor, bool]:
    """Finish a line-by-line raw-data read (ISMRMRD, twix): average repeated lines in place and
    build the mask.

    Parameters
    ----------
    kspace
        ``(t, z, c, ky, kx)`` complex64 sums of the acquired lines (modified in place).
    hits
        ``(t, z, ky)`` number of acquisitions summed into each line.
    path
        The file, for the error message.
    what
        Noun for the error message (``"acquisitions"``, ``"image data"``).

    Returns
    -------
    tuple
        ``mask`` ``(t, ky, kx)`` bool (a line is sampled in frame t when any slice has it) and
        ``undersampled`` (some line is missing in some frame and slice).

    Raises
    ------
    DataValueError
        NaN/Inf samples.
    """
    kspace /= np.maximum(hits, 1).astype(np.float32)[:, :, None, :, None]
    if not np.isfinite(kspace).all():
        raise DataValueError(f"{what} contain NaN/Inf samples", path=path)
    nt, _, _, ny, nx = kspace.shape
    lines = cast(np.ndarray, (hits > 0).any(axis=1))  # (t, ky); the stubs say "scalar | array"
    mask = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(lines[:, :, None], (nt, ny, nx))))
    return mask, not bool((hits > 0).all())
