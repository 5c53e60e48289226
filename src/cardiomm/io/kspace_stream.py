"""Raw k-space as a stream of frame blocks ``(n, c, ky, kx)``, so that a converter's memory is bounded.

:func:`open_frame_stream` gives a :class:`FrameStream` for any file :func:`~cardiomm.io.read_kspace`
reads. CMRxRecon / MMCMR-427K ``.mat`` v7.3 files with a 5-D k-space variable ``[nx, ny, nc, nz, nt]``
(or a 4-D ``kspace_single_*`` ``[nx, ny, nz, nt]``; single or double precision) are read block by block
straight from the HDF5 dataset: each block is at most ``max_bytes`` (one frame when a frame is
larger), so the memory a converter needs does not grow with the scan. The checks are those of
:func:`~cardiomm.io.read_cmrxrecon` (key choice, external or unwritten storage, real-valued data,
NaN/Inf, found block by block). Every other file (v5 ``.mat``, ISMRMRD, fastMRI, twix, fewer
dimensions) is read whole with :func:`~cardiomm.io.read_kspace` and served from memory.

Frames are in cardiomm order: ``b = t * n_slices + z`` (t-major), complex64.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cardiomm.errors import DataValueError
from cardiomm.io.any_kspace import read_kspace
from cardiomm.io.checks import check_h5_dataset, h5_attrs, h5_member, reading
from cardiomm.io.h5_btree import check_btrees
from cardiomm.io.kspace import _pick_key
from cardiomm.io.mat import _decode_attr, mat_version

__all__ = ["FrameStream", "open_frame_stream", "BLOCK_BYTES"]

#: Default upper bound of one block [bytes] (a block holds at least one frame).
BLOCK_BYTES = 64 << 20
_PARTS = np.dtype([("real", np.float32), ("imag", np.float32)])


@dataclass
class FrameStream:
    """k-space frames of one file, read in blocks.

    Attributes
    ----------
    n_frames, n_slices
        ``t`` and ``z`` (``b = t * z`` frames).
    frame_shape
        ``(c, ky, kx)``.
    matlab_shape
        The source variable's MATLAB shape ``[nx, ny, nc, nz, nt]`` (as stored).
    streamed
        ``True`` when blocks come from the file (bounded memory), ``False`` when the whole volume
        was read.
    """

    n_frames: int
    n_slices: int
    frame_shape: tuple[int, int, int]
    matlab_shape: tuple[int, ...]
    streamed: bool
    _dataset: Any = field(default=None, repr=False)
    _frames: np.ndarray | None = field(default=None, repr=False)
    _key: str = ""
    _path: Path = field(default_factory=Path)

    @property
    def n_batch(self) -> int:
        """Number of 2-D frames ``b = t * z``."""
        return self.n_frames * self.n_slices

    @property
    def frame_bytes(self) -> int:
        """Bytes of one complex64 frame."""
        c, ky, kx = self.frame_shape
        return 8 * c * ky * kx

    def frames_per_block(self, max_bytes: int = BLOCK_BYTES) -> int:
        """Frames in one block of at most ``max_bytes`` (at least 1)."""
        return max(1, min(self.n_batch, max_bytes // self.frame_bytes))

    def blocks(self, max_bytes: int = BLOCK_BYTES) -> Iterator[np.ndarray]:
        """Yield ``(n, c, ky, kx)`` complex64 C-contiguous blocks of consecutive frames, in order.

        Raises
        ------
        DataValueError
            NaN/Inf values in a block read from the file.
        """
        step = self.frames_per_block(max_bytes)
        for b0 in range(0, self.n_batch, step):
            b1 = min(self.n_batch, b0 + step)
            if self._frames is not None:
                yield self._frames[b0:b1]
            else:
                yield self._read(b0, b1)

    def _read(self, b0: int, b1: int) -> np.ndarray:
        """Frames ``b0:b1`` from the HDF5 dataset (whole time frames in one read where possible)."""
        nz = self.n_slices
        out = np.empty((b1 - b0, *self.frame_shape), dtype=np.complex64)
        parts = out.view(_PARTS).reshape(out.shape)  # real/imag view of the output buffer
        b = b0
        while b < b1:
            t, z = divmod(b, nz)
            if z == 0 and b1 - b >= nz:
                n_t = (b1 - b) // nz
                sel: tuple[Any, ...] = (slice(t, t + n_t),)
                n = n_t * nz
            else:
                n = min(nz - z, b1 - b)
                sel = (t, slice(z, z + n))
            stored = (n_t, nz) if len(sel) == 1 else (n,)
            stored += self._dataset.shape[2:]  # (c, ky, kx), or (ky, kx) without a coil axis
            target = parts[b - b0 : b - b0 + n].reshape(stored)
            with reading(self._path, "k-space MAT file"):  # HDF5 converts the fields by name
                self._dataset.read_direct(target, source_sel=sel)
            b += n
        if not np.isfinite(out).all():
            raise DataValueError(f"variable {self._key!r} has NaN/Inf values", path=self._path)
        return out


def _streamable(ds: Any, key: str, path: Path) -> bool:
    """A compound (real, imag) float dataset of 5 dimensions (4 for single-coil keys)."""
    if not isinstance(ds, h5py.Dataset) or ds.dtype.names is None:
        return False
    if ds.dtype.names != ("real", "imag"):  # blocks are copied field by position
        return False
    if any(ds.dtype.fields[n][0] not in (np.float32, np.float64) for n in ("real", "imag")):
        return False  # single or double precision; blocks are cast to complex64
    attrs = h5_attrs(ds, path)
    if int(np.asarray(attrs.get("MATLAB_empty", 0)).ravel()[0]) == 1:
        return False
    if _decode_attr(attrs.get("MATLAB_class", b"")) in ("cell", "struct", "function_handle"):
        return False
    wanted = 4 if "single" in key else 5
    return ds.ndim == wanted and 0 not in ds.shape


@contextmanager
def open_frame_stream(
    path: str | os.PathLike[str], *, fmt: str, key: str | None = None
) -> Iterator[FrameStream]:
    """Open ``path`` for block reading (see the module docstring).

    Parameters
    ----------
    path
        The raw k-space file.
    fmt
        Its format (one of :data:`cardiomm.io.KSPACE_FORMATS`).
    key
        ``.mat`` variable (default: the rules of :func:`~cardiomm.io.read_cmrxrecon`).

    Yields
    ------
    FrameStream
        Valid until the context ends.

    Raises
    ------
    CardiommError
        What :func:`~cardiomm.io.read_kspace` raises for the same file (typed, naming the file).
    """
    p = Path(path)
    if fmt == "cmrxrecon-mat" and p.is_file() and mat_version(p) == "7.3":
        with reading(p, "k-space MAT file"):
            chosen = key or _pick_key(p)
            check_btrees(p)
            f = h5py.File(p, "r")
        try:
            with reading(p, "k-space MAT file"):
                ds = h5_member(f, chosen, p) if chosen in f else None
                ok = ds is not None and _streamable(ds, chosen, p)
                if ds is not None and ok:
                    check_h5_dataset(ds, f"variable {chosen!r}", p)
            if ds is not None and ok:
                shape = tuple(int(s) for s in ds.shape)
                if len(shape) == 4:  # kspace_single_*: (t, z, ky, kx), no coil axis
                    shape = (shape[0], shape[1], 1, shape[2], shape[3])
                t, z, c, ky, kx = shape
                stream = FrameStream(t, z, (c, ky, kx), tuple(int(s) for s in ds.shape[::-1]), True,
                                     _dataset=ds, _key=chosen, _path=p)  # fmt: skip
                yield stream
                return
        finally:
            f.close()

    vol = read_kspace(p, fmt=fmt, key=key)
    frames = np.ascontiguousarray(vol.frames().numpy())
    shape = (vol.n_coils, vol.ny, vol.nx)
    yield FrameStream(vol.n_frames, vol.n_slices, shape, tuple(vol.matlab_shape), False, _frames=frames,
                      _key=vol.key, _path=p)  # fmt: skip
