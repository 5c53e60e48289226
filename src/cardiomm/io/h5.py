"""Training HDF5 files (fastMRI-style, one file per k-space volume) and plain fastMRI files.

cardiomm training ``.h5`` layout
--------------------------------
The content follows the published CardioMM schema (reference section 4.3) but in **cardiomm's axis
order**, recorded in the file so no reader has to guess:

======================  =========  ===============================================================
item                    kind       content
======================  =========  ===============================================================
``kspace``              dataset    ``(b, c, ky, kx)`` complex64, ``b = t * n_slices + z`` (t-major);
                                   chunked one frame per chunk
``reconstruction_rss``  dataset    ``(b, y, x)`` float32: RSS over coils of the centred orthonormal
                                   IFFT, full FOV (optional)
``axis_order``          attr       ``"b,c,ky,kx"``
``recon_axis_order``    attr       ``"b,y,x"``
``frame_order``         attr       ``"t-major: b = t * n_slices + z"``
``n_frames``            attr       ``t``
``n_slices``            attr       ``z``
``max``, ``norm``       attrs      max and Frobenius norm of the RSS volume (fastMRI convention)
``shape``               attr       volume k-space shape ``(t, z, c, ky, kx)``
``matlab_shape``        attr       the source variable's MATLAB shape ``[nx, ny, nc, nz, nt]``
``encoding_size``       attr       ``(nx, ny, 1)``; ``recon_size`` the same
``padding_left/right``  attrs      ``0`` and ``ny`` (no effect, as published)
``prompt``              attr       text prompt (may be empty)
metadata strings        attrs      ``center``, ``vendor``, ``field``, ``scanner``, ``modality``,
                                   ``view``, ``lifespan``, ``patient_id``, ``medcon`` ...
``format``              attr       ``"cardiomm-training-h5"``; ``format_version`` ``1``
======================  =========  ===============================================================

Plain fastMRI files store ``kspace`` as ``(slices, coils, kx, ky)`` (height = readout) or
``(slices, kx, ky)`` for single-coil data; :func:`read_fastmri_h5` swaps the last two axes so that the
result is in cardiomm order ``(b, c, ky, kx)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from cardiomm.errors import (
    DataValueError,
    FileFormatError,
    InputFileError,
    MaskError,
    MissingKeyError,
    ShapeError,
)
from cardiomm.io.checks import check_finite, check_h5_dataset, h5_attrs, h5_member, reading
from cardiomm.io.h5_btree import check_btrees
from cardiomm.io.kspace import KSpaceVolume
from cardiomm.utils.atomic import atomic_path
from cardiomm.utils.rss import rss as coil_rss

__all__ = [
    "TrainingH5Record",
    "FastMRIRecord",
    "write_training_h5",
    "training_h5_attrs",
    "read_training_h5",
    "read_fastmri_h5",
    "rss_from_kspace",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

PathLike = str | os.PathLike[str]

FORMAT_NAME = "cardiomm-training-h5"
FORMAT_VERSION = 1
_RESERVED = {
    "axis_order", "recon_axis_order", "frame_order", "n_frames", "n_slices", "max", "norm", "shape",
    "matlab_shape", "encoding_size", "recon_size", "padding_left", "padding_right", "prompt", "format",
    "format_version", "source", "undersampled",
}  # fmt: skip


@dataclass(frozen=True)
class TrainingH5Record:
    """Content of a cardiomm training ``.h5`` file (possibly a subset of its frames).

    Attributes
    ----------
    kspace
        ``(b, c, ky, kx)`` complex64, ``b`` t-major over ``(t, z)`` (only the frames read).
    reconstruction_rss
        ``(b, y, x)`` float32, or ``None`` when the file has none.
    n_frames, n_slices
        ``t`` and ``z`` of the whole volume (``b_total = n_frames * n_slices``).
    frame_indices
        Indices into ``b_total`` of the frames in :attr:`kspace`.
    max, norm
        Max and norm of the whole RSS volume (``nan`` when unknown).
    prompt
        Text prompt stored with the file.
    metadata
        Metadata string attributes (``center``, ``vendor``, ``modality``, ...).
    matlab_shape
        MATLAB shape of the source variable (empty when unknown).
    source
        The ``.h5`` file.
    attrs
        Every other attribute, as stored.
    """

    kspace: torch.Tensor
    reconstruction_rss: torch.Tensor | None
    n_frames: int
    n_slices: int
    frame_indices: tuple[int, ...]
    max: float
    norm: float
    prompt: str
    metadata: dict[str, str]
    matlab_shape: tuple[int, ...]
    source: Path
    attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_coils(self) -> int:
        """Number of coils ``c``."""
        return int(self.kspace.shape[1])

    def to_volume(self) -> KSpaceVolume:
        """Return the whole file as a :class:`~cardiomm.io.kspace.KSpaceVolume` ``(t, z, c, ky, kx)``.

        Raises
        ------
        ShapeError
            Only a subset of the frames was read.
        """
        if self.frame_indices != tuple(range(self.n_frames * self.n_slices)):
            raise ShapeError("only a subset of the frames was read; read all frames first", path=self.source)
        _, c, ky, kx = self.kspace.shape
        return KSpaceVolume(
            kspace=self.kspace.reshape(self.n_frames, self.n_slices, c, ky, kx),
            source=self.source,
            key="kspace",
            matlab_shape=self.matlab_shape,
            undersampled=bool(self.attrs.get("undersampled", False)),
        )


@dataclass(frozen=True)
class FastMRIRecord:
    """Content of a plain fastMRI ``.h5`` file, converted to cardiomm order.

    Attributes
    ----------
    kspace
        ``(b, c, ky, kx)`` complex64 (``c = 1`` for single-coil files), ``b`` = slices.
    reconstructions
        Name -> ``(b, y, x)`` float32 (``reconstruction_rss``, ``reconstruction_esc`` when present).
    mask
        ``(ky,)`` bool sampling mask of test/challenge files, else ``None``.
    attrs
        File attributes (``acquisition``, ``max``, ``norm``, ``patient_id``...).
    ismrmrd_header
        The XML header text, if any.
    source
        The file.
    """

    kspace: torch.Tensor
    reconstructions: dict[str, torch.Tensor]
    mask: torch.Tensor | None
    attrs: dict[str, Any]
    ismrmrd_header: str | None
    source: Path


def rss_from_kspace(frames: torch.Tensor) -> torch.Tensor:
    """Root-sum-of-squares image of k-space frames.

    Centred orthonormal 2-D IFFT over ``(ky, kx)`` (same convention as
    :func:`cardiomm.physics.fft.ifft2c`, re-implemented here because ``io`` must not import
    ``physics``), then the RSS over coils (:func:`cardiomm.utils.rss.rss`).

    Parameters
    ----------
    frames
        ``(b, c, ky, kx)`` complex.

    Returns
    -------
    torch.Tensor
        ``(b, y, x)`` float32.
    """
    dims = (-2, -1)
    img = torch.fft.ifft2(torch.fft.ifftshift(frames, dim=dims), dim=dims, norm="ortho")
    img = torch.fft.fftshift(img, dim=dims)
    return coil_rss(img, dim=1, eps=0.0).to(torch.float32)


def _np(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().resolve_conj().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _as_str(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    return str(value)


def write_training_h5(
    path: PathLike,
    kspace: KSpaceVolume | np.ndarray | torch.Tensor,
    *,
    n_frames: int | None = None,
    n_slices: int | None = None,
    reconstruction_rss: np.ndarray | torch.Tensor | None | bool = True,
    prompt: str = "",
    metadata: Mapping[str, str] | None = None,
    extra_attrs: Mapping[str, Any] | None = None,
    matlab_shape: Sequence[int] | None = None,
    compress: bool = False,
) -> Path:
    """Write a cardiomm training ``.h5`` file atomically (layout in the module docstring).

    Parameters
    ----------
    path
        Destination file.
    kspace
        A :class:`~cardiomm.io.kspace.KSpaceVolume`, a ``(t, z, c, ky, kx)`` array, or ``(b, c, ky, kx)``
        frames (then ``n_frames``/``n_slices`` default to ``b``/1). Stored complex64.
    n_frames, n_slices
        ``t`` and ``z`` for frame input (``n_frames * n_slices`` must equal ``b``).
    reconstruction_rss
        ``(b, y, x)`` target; ``True`` computes it with :func:`rss_from_kspace`; ``None``/``False``
        stores none (``max`` and ``norm`` are then ``nan``).
    prompt
        Text prompt stored as attribute ``prompt``.
    metadata
        String attributes (keys must not collide with the layout attributes).
    extra_attrs
        Further attributes (numbers, strings, small arrays).
    matlab_shape
        MATLAB shape of the source variable (taken from a ``KSpaceVolume`` when given one).
    compress
        Gzip-compress the per-frame chunks (level 4).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ShapeError
        Inconsistent shapes.
    DataValueError
        Real-valued or non-finite k-space; a metadata key that collides with a layout attribute.
    """
    p = Path(path)
    source = ""
    undersampled = False
    if isinstance(kspace, KSpaceVolume):
        t, z = kspace.n_frames, kspace.n_slices
        frames = kspace.frames().numpy()
        matlab_shape = matlab_shape if matlab_shape is not None else kspace.matlab_shape
        source, undersampled = str(kspace.source), kspace.undersampled
    else:
        arr = _np(kspace)
        if arr.ndim == 5:
            t, z = arr.shape[:2]
            frames = arr.reshape(-1, *arr.shape[2:])
        elif arr.ndim == 4:
            b = arr.shape[0]
            t = n_frames if n_frames is not None else (b // n_slices if n_slices else b)
            z = n_slices if n_slices is not None else b // t
            frames = arr
        else:
            raise ShapeError(f"k-space must be (t, z, c, ky, kx) or (b, c, ky, kx), got {arr.shape}", path=p)
        if t * z != frames.shape[0]:
            raise ShapeError(f"n_frames * n_slices = {t} * {z} != {frames.shape[0]} frames", path=p)
    if frames.dtype.kind != "c":
        raise DataValueError(f"k-space is real-valued ({frames.dtype}); complex expected", path=p)
    frames = np.ascontiguousarray(frames, dtype=np.complex64)
    if not np.isfinite(frames).all():
        raise DataValueError("k-space has NaN/Inf values", path=p)
    b, c, ky, kx = frames.shape

    rss: np.ndarray | None
    if reconstruction_rss is True:
        rss = rss_from_kspace(torch.from_numpy(frames)).numpy()
    elif reconstruction_rss is None or reconstruction_rss is False:
        rss = None
    else:
        rss = np.ascontiguousarray(_np(reconstruction_rss), dtype=np.float32)
        if rss.ndim != 3 or rss.shape[0] != b:
            raise ShapeError(f"reconstruction_rss must be (b={b}, y, x), got {rss.shape}", path=p)
    meta = dict(metadata or {})
    clash = (set(meta) | set(extra_attrs or {})) & _RESERVED
    if clash:
        raise DataValueError(f"attribute name(s) {sorted(clash)} are reserved by the file layout", path=p)

    opts: dict[str, Any] = {"compression": "gzip", "compression_opts": 4} if compress else {}
    with atomic_path(p) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("kspace", data=frames, chunks=(1, c, ky, kx), **opts)
        if rss is not None:
            f.create_dataset("reconstruction_rss", data=rss, chunks=(1, *rss.shape[1:]), **opts)
        rss_max = float(rss.max()) if rss is not None else float("nan")
        rss_norm = float(np.linalg.norm(rss.astype(np.float64))) if rss is not None else float("nan")
        layout = training_h5_attrs(
            (t, z, c, ky, kx), matlab_shape=matlab_shape, rss_max=rss_max, rss_norm=rss_norm,
            prompt=prompt, source=source, undersampled=undersampled,
        )  # fmt: skip
        for k, v in layout.items():
            f.attrs[k] = v
        for k, v in meta.items():
            f.attrs[k] = str(v)
        for k, v in (extra_attrs or {}).items():
            f.attrs[k] = v
    return p


def training_h5_attrs(
    shape: tuple[int, int, int, int, int],
    *,
    matlab_shape: Sequence[int] | None,
    rss_max: float,
    rss_norm: float,
    prompt: str = "",
    source: str = "",
    undersampled: bool = False,
) -> dict[str, Any]:
    """The layout attributes of a training ``.h5`` file (module docstring), in writing order.

    Parameters
    ----------
    shape
        Volume k-space shape ``(t, z, c, ky, kx)``.
    matlab_shape
        MATLAB shape of the source variable (``None``: empty).
    rss_max, rss_norm
        Max and Frobenius norm of the RSS volume (``nan`` without one).
    prompt, source, undersampled
        Attributes ``prompt``, ``source``, ``undersampled``.
    """
    t, z, c, ky, kx = (int(s) for s in shape)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "axis_order": "b,c,ky,kx",
        "recon_axis_order": "b,y,x",
        "frame_order": "t-major: b = t * n_slices + z",
        "n_frames": t,
        "n_slices": z,
        "shape": np.asarray([t, z, c, ky, kx], dtype=np.int64),
        "matlab_shape": np.asarray(list(matlab_shape or []), dtype=np.int64),
        "encoding_size": np.asarray([kx, ky, 1], dtype=np.int64),
        "recon_size": np.asarray([kx, ky, 1], dtype=np.int64),
        "padding_left": 0,
        "padding_right": ky,
        "max": float(rss_max),
        "norm": float(rss_norm),
        "prompt": str(prompt),
        "source": source,
        "undersampled": bool(undersampled),
    }


def _open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise InputFileError("file not found", path=path)
    try:
        check_btrees(path)
        return h5py.File(path, "r")
    except OSError as err:
        msg = f"cannot open as HDF5, truncated or corrupt ({_first_line(err)})"
        raise FileFormatError(msg, path=path) from None


def _frame_selection(frames: Sequence[int] | slice | None, total: int, path: Path) -> np.ndarray:
    if frames is None:
        return np.arange(total)
    if isinstance(frames, slice):
        return np.arange(total)[frames]
    idx = np.asarray(list(frames), dtype=np.int64)
    if idx.size and (idx.min() < -total or idx.max() >= total):
        raise ShapeError(f"frame index out of range for {total} frames", path=path)
    return np.where(idx < 0, idx + total, idx)


def _read_rows(ds: h5py.Dataset, idx: np.ndarray) -> np.ndarray:
    if idx.size == ds.shape[0] and np.array_equal(idx, np.arange(ds.shape[0])):
        return ds[()]
    order = np.argsort(idx, kind="stable")
    uniq, inverse = np.unique(idx[order], return_inverse=True)
    data = ds[uniq.tolist()] if uniq.size else np.empty((0, *ds.shape[1:]), ds.dtype)
    out = np.empty((idx.size, *ds.shape[1:]), ds.dtype)
    out[order] = data[inverse]
    return out


def read_training_h5(path: PathLike, frames: Sequence[int] | slice | None = None) -> TrainingH5Record:
    """Read a cardiomm training ``.h5`` file (all frames or a subset).

    Parameters
    ----------
    path
        The file written by :func:`write_training_h5`.
    frames
        Frame indices ``b`` (t-major) or a slice; ``None`` reads all. Reading one frame touches one
        chunk only.

    Returns
    -------
    TrainingH5Record
        ``kspace`` ``(b, c, ky, kx)`` complex64 and ``reconstruction_rss`` ``(b, y, x)`` float32.

    Raises
    ------
    InputFileError, FileFormatError
        Missing or unreadable file, or not a cardiomm training file (no ``axis_order`` attribute;
        plain fastMRI files go to :func:`read_fastmri_h5`).
    MissingKeyError
        No ``kspace`` dataset.
    ShapeError
        ``n_frames`` / ``n_slices`` / ``shape`` attributes that do not fit the datasets.
    DataValueError
        NaN/Inf values in what was read.
    FileFormatError
        Also: a dataset stored outside the file (external, virtual, external link) or never written,
        damaged variable-length storage, any h5py error (see :mod:`cardiomm.io.checks`).
    """
    p = Path(path)
    with reading(p, "training HDF5 file"), _open_h5(p) as f:
        a = h5_attrs(f, p)
        if "kspace" not in f:
            raise MissingKeyError(f"no 'kspace' dataset; found: {', '.join(f.keys()) or 'none'}", path=p)
        if _as_str(a.get("axis_order", "")) != "b,c,ky,kx":
            raise FileFormatError(
                "not a cardiomm training file (axis_order attribute is not 'b,c,ky,kx'); "
                "use read_fastmri_h5 for fastMRI files",
                path=p,
            )
        ds = _dataset(f, "kspace", p)
        if ds.ndim != 4 or ds.dtype.kind != "c":
            raise ShapeError(f"'kspace' must be complex (b, c, ky, kx), got {ds.dtype} {ds.shape}", path=p)
        total = ds.shape[0]
        n_frames, n_slices = _int_attr(a, "n_frames", total, p), _int_attr(a, "n_slices", 1, p)
        if n_frames < 1 or n_slices < 1 or n_frames * n_slices != total:
            msg = f"attributes n_frames = {n_frames}, n_slices = {n_slices} do not fit {total} k-space frames"
            raise ShapeError(msg, path=p)
        flag = np.asarray(a.get("undersampled", False))
        if flag.size != 1 or flag.dtype.kind not in "biu":
            raise FileFormatError(f"attribute undersampled = {flag!r} is not a boolean", path=p)
        if "shape" in a:
            declared = tuple(int(v) for v in np.asarray(a["shape"]).ravel())
            if declared != (n_frames, n_slices, *ds.shape[1:]):
                raise ShapeError(f"attribute shape {declared} does not match 'kspace' {ds.shape}", path=p)
        rss_ds = _dataset(f, "reconstruction_rss", p) if "reconstruction_rss" in f else None
        if rss_ds is not None and (rss_ds.ndim != 3 or rss_ds.shape[0] != total):
            raise ShapeError(f"'reconstruction_rss' {rss_ds.shape} must be ({total}, y, x)", path=p)
        idx = _frame_selection(frames, total, p)
        kspace = _read_rows(ds, idx).astype(np.complex64, copy=False)
        check_finite(kspace, "'kspace'", p)
        rss = None
        if rss_ds is not None:
            rss = _read_rows(rss_ds, idx).astype(np.float32)
            check_finite(rss, "'reconstruction_rss'", p)
        text_types = (str, bytes, np.bytes_)
        meta = {k: _as_str(v) for k, v in a.items() if k not in _RESERVED and isinstance(v, text_types)}
        others = {k: v for k, v in a.items() if k not in meta}
        return TrainingH5Record(
            kspace=torch.from_numpy(np.ascontiguousarray(kspace)),
            reconstruction_rss=None if rss is None else torch.from_numpy(np.ascontiguousarray(rss)),
            n_frames=n_frames,
            n_slices=n_slices,
            frame_indices=tuple(int(i) for i in idx),
            max=float(a.get("max", float("nan"))),
            norm=float(a.get("norm", float("nan"))),
            prompt=_as_str(a.get("prompt", "")),
            metadata=meta,
            matlab_shape=tuple(int(s) for s in np.asarray(a.get("matlab_shape", []), dtype=np.int64).ravel()),
            source=p,
            attrs=others,
        )


def _dataset(f: h5py.File, name: str, path: Path) -> h5py.Dataset:
    """Dataset ``name`` of ``f``, checked (:func:`~cardiomm.io.checks.check_h5_dataset`)."""
    ds = h5_member(f, name, path)
    if not isinstance(ds, h5py.Dataset):
        raise FileFormatError(f"{name!r} is not a dataset", path=path)
    check_h5_dataset(ds, f"{name!r}", path)
    return ds


def _int_attr(attrs: Mapping[str, Any], name: str, default: int, path: Path) -> int:
    value = np.asarray(attrs.get(name, default))
    if value.size != 1 or value.dtype.kind not in "iu":
        raise FileFormatError(f"attribute {name} = {value!r} is not an integer", path=path)
    return int(value.ravel()[0])


def read_fastmri_h5(path: PathLike) -> FastMRIRecord:
    """Read a plain fastMRI ``.h5`` file and convert it to cardiomm order.

    ``kspace`` ``(slices, coils, kx, ky)`` -> ``(b, c, ky, kx)``; single-coil ``(slices, kx, ky)`` ->
    ``(b, 1, ky, kx)``. Reconstructions ``(slices, x, y)`` -> ``(b, y, x)``; the 1-D ``mask`` (over
    ky) is returned as bool.

    Raises
    ------
    InputFileError, FileFormatError
        Missing or unreadable file.
    MissingKeyError
        No ``kspace`` dataset.
    ShapeError
        ``kspace`` not 3-D or 4-D.
    DataValueError
        Real-valued ``kspace``; NaN/Inf in ``kspace`` or a reconstruction.
    MaskError
        A ``mask`` with values other than 0/1 or a length other than ``ky``.
    FileFormatError
        Also: a dataset stored outside the file or never written, any h5py error
        (see :mod:`cardiomm.io.checks`).
    """
    p = Path(path)
    with reading(p, "fastMRI HDF5 file"), _open_h5(p) as f:
        if "kspace" not in f:
            raise MissingKeyError(f"no 'kspace' dataset; found: {', '.join(f.keys()) or 'none'}", path=p)
        ds = _dataset(f, "kspace", p)
        if ds.ndim not in (3, 4):
            raise ShapeError(f"'kspace' has shape {ds.shape}; expected (slices, [coils,] kx, ky)", path=p)
        if ds.dtype.kind != "c":
            raise DataValueError(f"'kspace' is real-valued ({ds.dtype}); complex expected", path=p)
        k = ds[()]
        check_finite(k, "'kspace'", p)
        recons = {}
        for name in f.keys():
            if not name.startswith("reconstruction") or not isinstance(f.get(name), h5py.Dataset):
                continue
            rds = _dataset(f, name, p)
            if rds.ndim < 2 or rds.dtype.kind not in "fiu":
                raise ShapeError(f"{name!r} must be real (slices, x, y), got {rds.dtype} {rds.shape}", path=p)
            recons[name] = np.swapaxes(rds[()], -1, -2).astype(np.float32)
            check_finite(recons[name], repr(name), p)
        mask = None
        if "mask" in f:
            raw_mask = np.asarray(_dataset(f, "mask", p)[()]).ravel()
            if raw_mask.dtype.kind not in "biuf" or not np.isin(raw_mask, (0, 1)).all():
                raise MaskError("'mask' has values other than 0 and 1", path=p)
            mask = raw_mask.astype(bool)
            if mask.size != k.shape[-1]:
                raise MaskError(f"'mask' has {mask.size} entries, k-space has {k.shape[-1]} ky lines", path=p)
        header = _as_str(_dataset(f, "ismrmrd_header", p)[()]) if "ismrmrd_header" in f else None
        attrs = h5_attrs(f, p)
    if k.ndim == 3:
        k = k[:, None]
    k = np.ascontiguousarray(np.swapaxes(k, -1, -2), dtype=np.complex64)
    return FastMRIRecord(
        kspace=torch.from_numpy(k),
        reconstructions={n: torch.from_numpy(np.ascontiguousarray(r)) for n, r in recons.items()},
        mask=None if mask is None else torch.from_numpy(mask),
        attrs=attrs,
        ismrmrd_header=header,
        source=p,
    )
