"""Siemens twix ``.dat`` raw data (VB and VD/VE) -> Cartesian :class:`~cardiomm.io.kspace.KSpaceVolume`.

A reader for 2-D Cartesian acquisitions, built on ``twixtools`` and following the rules of
:mod:`cardiomm.io.ismrmrd_h5`:

- Only the **last** measurement of a multi-RAID file is read (earlier ones are adjustment scans).
  Its protocol comes from ``twixtools.read_twix(..., parse_data=False)``; its measurement data
  blocks (mdbs) are then walked with ``twixtools.mdb.Mdb`` exactly as ``read_twix`` does, but with
  guards that turn a truncated file or a zero-length block into :class:`FileFormatError` instead of
  an endless loop. ``twixtools.map_twix`` sorts the mdbs; only its ``'image'`` category is used
  (noise, phase-correction, phase-stabilisation, feedback and pure PAT reference scans
  (``PATREFSCAN`` without ``PATREFANDIMASCAN``) are skipped, so GRAPPA data keep their missing
  lines as zeros).
- Counters: ``Sli`` -> ``z``; the time axis ``t`` flattens ``(Eco, Set, Rep, Phs)`` in that order
  (``Phs`` fastest; the twix names of ISMRMRD's contrast, set, repetition, phase); repeated
  acquisitions of a line differing only in ``Ave``, ``Seg`` or the free indices ``Ida``..``Ide``
  are averaged (as twixtools does for ``Ave`` and ``Seg`` by default).
- Phase encode: line ``Lin`` goes to ``ky = Lin - CenterLin + ny // 2`` with ``CenterLin`` from the
  mdh (``ushKSpaceCentreLineNo``; when it is 0 everywhere, ``Lin`` is taken as an index of the full
  matrix). ``ny`` is the protocol's ``sKSpace.lPhaseEncodingLines``, enlarged if the acquired lines
  need more room around the centre (at most to twice the protocol's size: more is a corrupt
  counter); partial Fourier leaves zero lines at the unacquired end. Phase oversampling is kept
  (part of ``lPhaseEncodingLines``).
- Plausibility (corrupt counters, :class:`ShapeError`): the counters may not span more
  (frame, slice) combinations than there are image blocks, and the k-space passes the size guard
  of :mod:`cardiomm.io.checks`.
- Readout: ``Col`` -> ``kx``. With ``remove_os`` (default) the readout oversampling is removed with
  ``twixtools.recon_helpers.remove_oversampling`` (FFT, keep the central half of the image, FFT
  back: ``kx`` halves), unless the protocol's ``Dicom.flReadoutOSFactor`` is 1. Lines flagged
  ``REFLECT`` are reversed (after oversampling removal, as twixtools does). The column
  ``CenterCol`` (halved with ``remove_os``) is placed on ``nx // 2``; an asymmetric echo leaves
  zeros at the start.
- Rejected with :class:`ShapeError`: 3-D encoding (``sKSpace.ucDimension`` 4 with more than one
  partition, or any ``Par`` counter > 0), non-Cartesian trajectories (``sKSpace.ucTrajectory`` other
  than 1: radial, spiral, PROPELLER) and ramp-sampled readouts that need regridding
  (``Meas.alRegridMode`` >= 2, typically EPI). No EPI/TSE phase correction is applied.

Sign and orientation conventions
--------------------------------
No reorientation to patient or scanner display coordinates is made. ``ky`` increases with ``Lin``
and ``kx`` with ``Col`` (after ``REFLECT``). The image is ``cardiomm.physics.fft.ifft2c`` of the
k-space (centred, orthonormal: ``fftshift(ifft2(ifftshift(k)))``), rows = phase-encode direction,
columns = readout direction; it may be flipped or rotated relative to the scanner's DICOM images.
Sample values are the raw ADC values (complex64), unscaled.

The result's mask is ``(t, ky, kx)`` bool: a ky line counts as sampled in frame ``t`` when an image
mdb of any slice has it (constant over kx). ``undersampled`` is True when some line is missing in
some frame and slice.

PHI: only numeric encoding fields of the protocol (``sKSpace``, ``Meas.alRegridMode``,
``Dicom.flReadoutOSFactor``) are read; no header text reaches the result or an error message, and
twixtools' console output is captured and discarded.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cardiomm.errors import (
    CardiommError,
    FileFormatError,
    InputFileError,
    MissingKeyError,
    ShapeError,
)
from cardiomm.io.checks import check_size
from cardiomm.io.kspace import KSpaceVolume, average_acquired_lines

__all__ = ["read_twix_kspace"]

PathLike = str | os.PathLike[str]

#: Largest accepted phase-encode / readout size.
_MAX_MATRIX = 65535
#: Counters flattened into the time axis, slowest first.
_TIME_COUNTERS = ("Eco", "Set", "Rep", "Phs")


def _num(d: Any, *keys: str, default: float | None = None) -> float | None:
    """Numeric protocol value ``d[k0][k1]...`` (first element of a list), else ``default``."""
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return default
        d = d[k]
    if isinstance(d, list | tuple):
        d = d[0] if d else None
    try:
        return float(d)
    except (TypeError, ValueError):
        return default


def _read_protocol(p: Path) -> tuple[dict[str, Any], int, int, bool]:
    """Protocol of the last measurement: ``(hdr, data_start, data_end, version_is_ve)``."""
    import twixtools  # noqa: PLC0415 - lazy: importing this module loads no twixtools
    from twixtools import helpers  # noqa: PLC0415 - lazy: importing this module loads no twixtools

    scans = twixtools.read_twix(
        str(p), include_scans=[-1], parse_data=False, parse_pmu=False, parse_geometry=False, verbose=False
    )
    if not scans or not isinstance(scans[-1], Mapping):
        raise FileFormatError("not a Siemens twix file (no measurement)", path=p)
    meas = scans[-1]
    hdr = meas.get("hdr")
    if not isinstance(hdr, Mapping) or not isinstance(hdr.get("MeasYaps"), Mapping) or "Meas" not in hdr:
        raise FileFormatError("not a Siemens twix file (no protocol header)", path=p)
    size = p.stat().st_size
    with open(p, "rb") as fid:
        version_is_ve, _ = helpers.idea_version_check(fid)
    if version_is_ve:
        entry = meas["raidfile_hdr"]
        start, length = int(entry["off_"]), int(entry["len_"])
        if length == 0:
            length = size - start
    else:
        start, length = 0, size
    data_start = start + len(meas["hdr_str"])
    return dict(hdr), data_start, start + length, version_is_ve


def _walk_mdbs(fid: Any, start: int, end: int, size: int, version_is_ve: bool, p: Path) -> list[Any]:
    """The measurement data blocks from ``start`` to ACQEND/``end`` (``twixtools.read_twix``'s loop).

    ``end`` is the measurement's end according to the multi-RAID header; a file that stops before it
    without an ACQEND block is truncated.
    """
    from twixtools.mdb import Mdb  # noqa: PLC0415 - lazy: importing this module loads no twixtools

    mdbs = []
    pos = start
    while pos + 128 < end:
        if pos + 128 > size:
            raise FileFormatError(f"truncated: data end at byte {size}, measurement ends at {end}", path=p)
        fid.seek(pos, os.SEEK_SET)
        try:
            mdb = Mdb(fid, version_is_ve)
        except ValueError:  # channel headers cut short
            msg = f"truncated or corrupt measurement data block at byte {pos}"
            raise FileFormatError(msg, path=p) from None
        step = int(mdb.dma_len)
        if mdb.is_flag_set("ACQEND"):
            break
        if step <= 0:
            raise FileFormatError(f"corrupt measurement data block at byte {pos}", path=p)
        if pos + step > size:
            msg = f"truncated: measurement data block at byte {pos} ends past the file"
            raise FileFormatError(msg, path=p)
        if not mdb.is_flag_set("SYNCDATA"):
            mdbs.append(mdb)
        pos += step
    return mdbs


def _counter(mdbs: list[Any], name: str) -> np.ndarray:
    return np.fromiter((getattr(m.mdh.Counter, name) for m in mdbs), dtype=np.int64, count=len(mdbs))


def _mdh(mdbs: list[Any], name: str) -> np.ndarray:
    return np.fromiter((getattr(m.mdh, name) for m in mdbs), dtype=np.int64, count=len(mdbs))


def read_twix_kspace(path: PathLike, *, remove_os: bool = True) -> KSpaceVolume:
    """Read the 2-D Cartesian image data of a Siemens twix ``.dat`` file into a k-space volume.

    Parameters
    ----------
    path
        Siemens raw data file (VB or VD/VE, single or multi-RAID; the last measurement is read).
    remove_os
        Remove the readout oversampling (``kx`` halves), as Siemens' own reconstruction does.

    Returns
    -------
    KSpaceVolume
        ``kspace`` ``(t, z, c, ky, kx)`` complex64, ``key`` = ``"image"`` (the twixtools data
        category), ``matlab_shape`` = ``[nx, ny, nc, nz, nt]`` minus trailing ones, ``mask``
        ``(t, ky, kx)``, ``undersampled`` True when some ky line is missing in some frame and slice.

    Raises
    ------
    InputFileError
        Missing file.
    FileFormatError
        Not a twix file, a damaged header, a truncated or corrupt data section, or a path without
        a suffix (twixtools would append ``.dat`` to it).
    MissingKeyError
        No image data in the measurement.
    ShapeError
        3-D encoding, non-Cartesian trajectory or ramp-sampled readout.
    DataValueError
        NaN/Inf samples.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("file not found", path=p)
    if p.is_dir():
        raise FileFormatError("a folder, not a twix file", path=p)
    if not p.suffix:
        raise FileFormatError("a twix file needs a suffix such as .dat (twixtools appends one)", path=p)
    sink = io.StringIO()  # twixtools prints progress and warnings that may echo header text
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return _read(p, remove_os=remove_os)
    except CardiommError:
        raise
    except Exception as err:  # twixtools raises assorted types on damaged files
        raise FileFormatError(f"cannot parse as Siemens twix ({type(err).__name__})", path=p) from None


def _read(p: Path, *, remove_os: bool) -> KSpaceVolume:
    import twixtools  # noqa: PLC0415 - lazy: importing this module loads no twixtools
    from twixtools.recon_helpers import remove_oversampling  # noqa: PLC0415 - lazy: importing this module loads no twixtools

    hdr, data_start, data_end, version_is_ve = _read_protocol(p)
    kspace_prot = hdr["MeasYaps"].get("sKSpace", {})
    dimension = int(_num(kspace_prot, "ucDimension", default=2) or 2)
    partitions = int(_num(kspace_prot, "lPartitions", default=1) or 1)
    if dimension == 4 and partitions > 1:
        raise ShapeError(f"3-D encoding ({partitions} partitions) is not supported", path=p)
    trajectory = int(_num(kspace_prot, "ucTrajectory", default=1) or 1)
    if trajectory != 1:
        msg = f"non-Cartesian trajectory (sKSpace.ucTrajectory = {trajectory}) is not supported"
        raise ShapeError(msg, path=p)
    regrid = int(_num(hdr["Meas"], "alRegridMode", default=1) or 1)
    if regrid >= 2:
        msg = "ramp-sampled readout (regridding, e.g. EPI) is not supported"
        raise ShapeError(msg, path=p)
    os_factor = _num(hdr.get("Dicom", {}), "flReadoutOSFactor", default=2.0)
    remove_os = remove_os and os_factor != 1.0

    size = p.stat().st_size
    with open(p, "rb") as fid:
        mdbs = _walk_mdbs(fid, data_start, data_end, size, version_is_ve, p)
        meas = {"mdb": mdbs, "hdr": hdr, "hdr_str": np.zeros(0, dtype="S1")}
        image = twixtools.map_twix(meas, verbose=False).get("image") if mdbs else None
        if image is None or not image.mdb_list:
            raise MissingKeyError("no image data in the last measurement", path=p)
        mdbs = [m for m in image.mdb_list if m.mdh.UsedChannels > 0 and m.mdh.SamplesInScan > 0]
        if not mdbs:
            raise MissingKeyError("no image data in the last measurement", path=p)
        if _counter(mdbs, "Par").max() > 0:
            raise ShapeError("3-D encoding (partition counter > 0) is not supported", path=p)

        # ---- geometry from the mdh counters (no data read yet)
        z = _counter(mdbs, "Sli")
        nz = int(z.max()) + 1
        counts = [int(_counter(mdbs, name).max()) + 1 for name in _TIME_COUNTERS]
        t = np.zeros(len(mdbs), dtype=np.int64)
        for name, n in zip(_TIME_COUNTERS, counts, strict=True):
            t = t * n + _counter(mdbs, name)
        nt = int(np.prod(counts))
        n_ch = _mdh(mdbs, "UsedChannels")
        nc = int(n_ch.max())

        lin = _counter(mdbs, "Lin")
        ny_prot = int(_num(kspace_prot, "lPhaseEncodingLines", default=0) or 0)
        centre_lin = _mdh(mdbs, "CenterLin")
        if not centre_lin.any() and lin.max() > 0:  # centre line not recorded: Lin indexes the full matrix
            centre_lin[:] = max(ny_prot, int(lin.max()) + 1) // 2
        rel = lin - centre_lin
        ny = max(ny_prot, int(lin.max()) + 1, 2 * max(-int(rel.min()), 0), 2 * (int(rel.max()) + 1))
        ky = rel + ny // 2

        n_col = _mdh(mdbs, "SamplesInScan")
        centre_col = _mdh(mdbs, "CenterCol")
        if remove_os:
            n_col, centre_col = n_col // 2, centre_col // 2
        centre_col = np.where((centre_col > 0) & (centre_col < n_col), centre_col, n_col // 2)
        nx = int(max(n_col.max(), 2 * centre_col.max(), 2 * (n_col - centre_col).max()))
        start = nx // 2 - centre_col

        if nt * nz > len(mdbs):
            msg = f"counters span {nt * nz} (frame, slice) combinations for only {len(mdbs)} image blocks"
            raise ShapeError(msg, path=p)
        if ny_prot > 0 and ny > 2 * ny_prot:
            msg = f"line counters need {ny} phase-encode lines, more than twice the protocol's {ny_prot}"
            raise ShapeError(msg, path=p)
        if not 1 <= ny <= _MAX_MATRIX or not 1 <= nx <= _MAX_MATRIX:
            raise ShapeError(f"k-space matrix {ny} x {nx} out of range", path=p)
        check_size((nt, nz, nc, ny, nx), "twix k-space", p)

        # ---- data
        kspace = np.zeros((nt, nz, nc, ny, nx), dtype=np.complex64)
        hits = np.zeros((nt, nz, ny), dtype=np.int32)
        for j, mdb in enumerate(mdbs):
            data = np.asarray(mdb.data)
            if data.shape != (int(mdb.mdh.UsedChannels), int(mdb.mdh.SamplesInScan)):
                raise FileFormatError("truncated or corrupt measurement data block", path=p)
            if remove_os:
                data, _ = remove_oversampling(data)
            if mdb.is_flag_set("REFLECT"):
                data = data[..., ::-1]
            s0 = int(start[j])
            kspace[t[j], z[j], : n_ch[j], ky[j], s0 : s0 + data.shape[-1]] += data.astype(np.complex64)
            hits[t[j], z[j], ky[j]] += 1
    mask, undersampled = average_acquired_lines(kspace, hits, p, "image data")
    matlab_shape = [nx, ny, nc, nz, nt]
    while len(matlab_shape) > 2 and matlab_shape[-1] == 1:
        matlab_shape.pop()
    return KSpaceVolume(
        kspace=torch.from_numpy(kspace),
        source=p,
        key="image",
        matlab_shape=tuple(matlab_shape),
        undersampled=undersampled,
        mask=mask,
    )
