"""Read any supported raw k-space file into a :class:`~cardiomm.io.kspace.KSpaceVolume`.

One entry point for ``cardiomm reconstruct`` (which knows only the path) and ``cardiomm db prepare``
(which knows the format from the catalog): CMRxRecon / MMCMR ``.mat``, ISMRMRD / OCMR ``.h5``, cardiomm
training shards (``.h5`` with ``axis_order``), fastMRI ``.h5`` and Siemens twix ``.dat``.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from cardiomm.errors import FileFormatError, InputFileError
from cardiomm.io.checks import first_line, h5_member, reading
from cardiomm.io.h5 import read_fastmri_h5, read_training_h5
from cardiomm.io.h5_btree import check_btrees
from cardiomm.io.ismrmrd_h5 import read_ismrmrd
from cardiomm.io.kspace import KSpaceVolume, read_cmrxrecon
from cardiomm.io.twix import read_twix_kspace

__all__ = ["KSPACE_FORMATS", "read_kspace", "kspace_format"]

#: Format names (as recorded in the catalog's ``source_format``).
KSPACE_FORMATS = ("cmrxrecon-mat", "ismrmrd-h5", "shard-h5", "fastmri-h5", "twix-dat")


def kspace_format(path: str | os.PathLike[str]) -> str:
    """Format of a k-space file from its suffix and, for ``.h5``, its structure (one of KSPACE_FORMATS)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".dat":
        return "twix-dat"
    if suffix != ".h5":
        return "cmrxrecon-mat"
    try:
        check_btrees(path)
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(f"not a readable HDF5 file ({first_line(exc)})", path=path) from None
    with reading(path, "HDF5 file"), fh:
        group = h5_member(fh, "dataset", path) if fh.get("dataset", getlink=True) is not None else None
        if isinstance(group, h5py.Group) and "xml" in group:
            return "ismrmrd-h5"
        return "shard-h5" if "axis_order" in fh.attrs else "fastmri-h5"


def read_kspace(
    path: str | os.PathLike[str], *, fmt: str | None = None, key: str | None = None
) -> KSpaceVolume:
    """The k-space of ``path`` as ``(t, z, c, ky, kx)`` complex64.

    Parameters
    ----------
    path
        The file.
    fmt
        One of :data:`KSPACE_FORMATS`; ``None`` detects it (:func:`kspace_format`).
    key
        ``.mat`` variable to read (default: the CMRxRecon key rules of :func:`read_cmrxrecon`).

    Notes
    -----
    fastMRI files hold the slices of one time frame: ``(1, slices, c, ky, kx)``; the ``(ky,)`` line mask
    of their test files becomes the volume's ``(1, ky, kx)`` mask.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError("k-space file not found", path=path)
    fmt = fmt or kspace_format(path)
    with reading(path, "k-space file"):
        return _read(path, fmt, key)


def _read(path: Path, fmt: str, key: str | None) -> KSpaceVolume:
    if fmt == "cmrxrecon-mat":
        return read_cmrxrecon(path, key=key)
    if fmt == "ismrmrd-h5":
        return read_ismrmrd(path)
    if fmt == "twix-dat":
        return read_twix_kspace(path)
    if fmt == "shard-h5":
        return read_training_h5(path).to_volume()
    if fmt != "fastmri-h5":
        raise FileFormatError(
            f"unknown k-space format {fmt!r}; one of {', '.join(KSPACE_FORMATS)}", path=path
        )
    rec = read_fastmri_h5(path)
    n_b, n_c, n_ky, n_kx = rec.kspace.shape
    mask = None
    if rec.mask is not None:
        mask = rec.mask.bool().view(1, n_ky, 1).expand(1, n_ky, n_kx)
    return KSpaceVolume(
        kspace=rec.kspace.reshape(1, n_b, n_c, n_ky, n_kx),
        source=path,
        key="kspace",
        matlab_shape=(n_kx, n_ky, n_c, n_b, 1),
        undersampled=rec.mask is not None,
        mask=mask,
    )
