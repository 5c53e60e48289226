"""ISMRMRD ``.h5`` raw data (e.g. OCMR) -> Cartesian :class:`~cardiomm.io.kspace.KSpaceVolume`.

A minimal but complete reader for 2-D Cartesian acquisitions:

- The XML header is parsed with the ``ismrmrd`` package; encoding ``encoding`` (default 0) gives the
  encoded matrix ``(x, y)`` and the encoding limits.
- Acquisitions flagged as noise, navigator, phase correction, dummy scan, feedback, surface-coil
  correction, phase stabilisation or *pure* parallel calibration (``ACQ_IS_PARALLEL_CALIBRATION``
  without ``..._AND_IMAGING``) are skipped; ``ACQ_IS_REVERSE`` lines are flipped.
- ``discard_pre`` / ``discard_post`` samples are dropped; the readout is placed so that
  ``center_sample`` lands on ``nx // 2`` (asymmetric echo gives zeros at the start).
- Phase-encode line ``kspace_encode_step_1`` goes to ``ky = step_1 - center + ny // 2`` with ``center``
  from the ``kspace_encoding_step_1`` limits (partial Fourier leaves zeros at the unacquired end).
- ``slice`` -> ``z``; the time axis ``t`` flattens ``(contrast, set, repetition, phase)`` in that
  order (phase fastest); repeated ``average`` acquisitions of a line are averaged.
- 3-D encoding (``kspace_encode_step_2`` > 0) and non-Cartesian trajectories are rejected.

The result's mask is ``(t, ky, kx)`` bool: a ky line counts as sampled in frame ``t`` when any slice
has it (constant over kx).

:func:`read_ismrmrd_geometry` reads the geometry of the same file for image export: the encoded and
reconstructed field of view and matrix from the XML header, and per slice the ``position``,
``read_dir``, ``phase_dir`` and ``slice_dir`` of its first imaging acquisition (ISMRMRD patient
coordinates, mm, which are DICOM's LPS patient coordinates). A fastMRI ``.h5`` with an
``ismrmrd_header`` dataset gives the field of view and matrix only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, MissingKeyError, ShapeError
from cardiomm.io.checks import check_h5_dataset, check_size, first_line, h5_member, reading
from cardiomm.io.h5_btree import check_btrees
from cardiomm.io.kspace import KSpaceVolume, average_acquired_lines

__all__ = ["read_ismrmrd", "IsmrmrdGeometry", "read_ismrmrd_geometry"]

PathLike = str | os.PathLike[str]

_COUNTERS = ("contrast", "set", "repetition", "phase")
#: Largest accepted encoded matrix size (ISMRMRD stores it as an unsigned short).
_MAX_MATRIX = 65535
#: Largest accepted XML header [bytes].
_MAX_XML = 16 * 2**20


def _skip_mask(flags: np.ndarray) -> np.ndarray:
    import ismrmrd  # noqa: PLC0415 - lazy: importing this module loads no ismrmrd

    def bit(flag: int) -> np.uint64:
        return np.uint64(1) << np.uint64(flag - 1)

    skip = np.zeros(flags.shape, dtype=bool)
    for name in (
        "ACQ_IS_NOISE_MEASUREMENT", "ACQ_IS_NAVIGATION_DATA", "ACQ_IS_PHASECORR_DATA",
        "ACQ_IS_DUMMYSCAN_DATA",
        "ACQ_IS_RTFEEDBACK_DATA", "ACQ_IS_HPFEEDBACK_DATA", "ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA",
        "ACQ_IS_PHASE_STABILIZATION", "ACQ_IS_PHASE_STABILIZATION_REFERENCE",
    ):  # fmt: skip
        skip |= (flags & bit(getattr(ismrmrd, name))) != 0
    calib = (flags & bit(ismrmrd.ACQ_IS_PARALLEL_CALIBRATION)) != 0
    calib_img = (flags & bit(ismrmrd.ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING)) != 0
    return skip | (calib & ~calib_img)


def _limit(limits: object, name: str) -> tuple[int, int, int] | None:
    lim = getattr(limits, name, None)
    if lim is None:
        return None
    return int(lim.minimum), int(lim.maximum), int(lim.center)


def read_ismrmrd(path: PathLike, *, encoding: int = 0, dataset: str = "dataset") -> KSpaceVolume:
    """Read a 2-D Cartesian ISMRMRD ``.h5`` file into a k-space volume.

    Parameters
    ----------
    path
        ISMRMRD HDF5 file (OCMR ``fs_*.h5`` / ``us_*.h5`` and similar).
    encoding
        Index of the ``<encoding>`` element; only acquisitions with this ``encoding_space_ref`` are read.
    dataset
        Name of the ISMRMRD group.

    Returns
    -------
    KSpaceVolume
        ``kspace`` ``(t, z, c, ky, kx)`` complex64 (``kx`` = readout incl. oversampling), ``key`` =
        ``"<dataset>/data"``, ``matlab_shape`` = ``(nx, ny, nc, nz, nt)``, ``mask`` ``(t, ky, kx)``,
        ``undersampled`` True when some ky line is missing in some frame and slice.

    Raises
    ------
    InputFileError, FileFormatError
        Missing or unreadable file, or invalid XML header.
    MissingKeyError
        No ISMRMRD group, header or acquisitions.
    ShapeError
        3-D encoding, non-Cartesian data, indices outside the encoded matrix, counters outside the
        header's encoding limits (or, without limits, more (frame, slice) combinations than
        acquisitions: ``phase = 65535`` would give 65,536 frames), an encoded matrix over 4x the
        longest readout.
    FileFormatError
        Also: acquisitions whose data length differs from channels x samples or that discard all
        their samples, damaged HDF5 storage (see :mod:`cardiomm.io.checks`).
    SizeLimitError
        A k-space over the size guard.
    DataValueError
        NaN/Inf samples.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("file not found", path=p)
    with reading(p, "ISMRMRD file"):
        return _read_ismrmrd(p, encoding, dataset)


def _open(p: Path) -> h5py.File:
    try:
        check_btrees(p)
        return h5py.File(p, "r")
    except OSError as err:
        msg = f"cannot open as HDF5, truncated or corrupt ({first_line(err)})"
        raise FileFormatError(msg, path=p) from None


def _parse_header(xml: object, p: Path) -> Any:
    import ismrmrd.xsd  # noqa: PLC0415 - lazy: importing this module loads no ismrmrd

    if isinstance(xml, bytes | np.bytes_ | str) and len(xml) > _MAX_XML:
        raise FileFormatError(f"ISMRMRD XML header of {len(xml)} bytes (limit {_MAX_XML})", path=p)
    text = xml.encode("utf-8", "replace") if isinstance(xml, str) else str(xml).encode("utf-8", "replace")
    if isinstance(xml, bytes | np.bytes_):
        text = bytes(xml)
    if b"<!DOCTYPE" in text.upper() or b"<!ENTITY" in text.upper():
        # ISMRMRD headers have no DTD; entities could expand without bound or read other files
        raise FileFormatError("ISMRMRD XML header with a DOCTYPE/ENTITY declaration; refused", path=p)
    try:
        return ismrmrd.xsd.CreateFromDocument(xml)
    except Exception as err:  # xsdata parser errors
        raise FileFormatError(f"invalid ISMRMRD XML header ({first_line(err)})", path=p) from None


def _check_counters(idx: np.ndarray, limits: object, n_acq: int, p: Path) -> None:
    """Counters within the header's encoding limits; without limits, at most one frame per acquisition."""
    n_combos = 1
    for name in ("slice", *_COUNTERS):
        top = int(idx[name].max())
        lim = _limit(limits, name)
        if lim is not None and not lim[0] <= int(idx[name].min()) <= top <= max(lim[1], 0):
            msg = f"counter {name} up to {top} is outside the header's encoding limits [{lim[0]}, {lim[1]}]"
            raise ShapeError(msg, path=p)
        n_combos *= top + 1
    if n_combos > n_acq:
        msg = f"counters span {n_combos} (frame, slice) combinations for only {n_acq} acquisitions"
        raise ShapeError(msg, path=p)


def _read_ismrmrd(p: Path, encoding: int, dataset: str) -> KSpaceVolume:
    import ismrmrd  # noqa: PLC0415 - lazy: importing this module loads no ismrmrd

    with _open(p) as f:
        group = h5_member(f, dataset, p) if f.get(dataset, getlink=True) is not None else None
        if not isinstance(group, h5py.Group) or "xml" not in group or "data" not in group:
            found = ", ".join(f.keys()) or "none"
            raise MissingKeyError(f"no ISMRMRD '{dataset}/xml' and '{dataset}/data'; found: {found}", path=p)
        xml_ds, data_ds = h5_member(group, "xml", p), h5_member(group, "data", p)
        check_h5_dataset(xml_ds, "ISMRMRD XML header", p)
        check_h5_dataset(data_ds, "ISMRMRD acquisitions", p)
        if xml_ds.ndim != 1 or xml_ds.shape[0] < 1 or data_ds.ndim != 1:
            raise FileFormatError(f"ISMRMRD datasets of shape {xml_ds.shape}, {data_ds.shape}", path=p)
        header = _parse_header(xml_ds[0], p)
        acqs = data_ds[()]
    if encoding >= len(header.encoding):
        msg = f"encoding {encoding} requested, header has {len(header.encoding)}"
        raise ShapeError(msg, path=p)
    enc = header.encoding[encoding]
    traj = str(getattr(enc.trajectory, "value", enc.trajectory)).lower()
    if traj != "cartesian":
        raise ShapeError(f"trajectory {traj!r} is not Cartesian", path=p)
    matrix = enc.encodedSpace.matrixSize
    if not (0 <= int(matrix.x) <= _MAX_MATRIX and 0 <= int(matrix.y) <= _MAX_MATRIX):
        raise ShapeError(f"encoded matrix {int(matrix.x)} x {int(matrix.y)} out of range", path=p)
    limits = enc.encodingLimits
    step1 = _limit(limits, "kspace_encoding_step_1")
    step2 = _limit(limits, "kspace_encoding_step_2")
    if int(matrix.z) > 1 or (step2 is not None and step2[1] > 0):
        raise ShapeError("3-D encoding (kspace_encode_step_2) is not supported", path=p)

    head = acqs["head"]
    keep = ~_skip_mask(head["flags"].astype(np.uint64)) & (head["encoding_space_ref"] == encoding)
    keep &= head["trajectory_dimensions"] == 0
    sel = np.flatnonzero(keep)
    if sel.size == 0:
        raise MissingKeyError("no imaging acquisitions in the file", path=p)
    head = head[sel]
    idx = head["idx"]
    n_samp_all = head["number_of_samples"].astype(np.int64)
    n_ch_all = head["active_channels"].astype(np.int64)
    sizes = np.fromiter((acqs["data"][i].size for i in sel), dtype=np.int64, count=sel.size)
    bad = np.flatnonzero(sizes != 2 * n_samp_all * n_ch_all)
    if bad.size:
        msg = f"acquisition {int(sel[bad[0]])}: {int(sizes[bad[0]])} values for {int(n_ch_all[bad[0]])} "
        raise FileFormatError(msg + f"channels x {int(n_samp_all[bad[0]])} samples", path=p)

    ns = n_samp_all - head["discard_pre"] - head["discard_post"]
    if ns.min() < 1:
        raise FileFormatError("an acquisition discards all its samples (discard_pre/post)", path=p)
    nx = max(int(matrix.x), int(ns.max()))
    if nx > 4 * int(ns.max()):
        raise ShapeError(f"encoded matrix x = {nx} is over 4x the longest readout ({int(ns.max())})", path=p)
    ny_lim = step1[1] + 1 if step1 is not None else int(idx["kspace_encode_step_1"].max()) + 1
    ny = max(int(matrix.y), ny_lim)
    if not 1 <= ny <= _MAX_MATRIX:
        raise ShapeError(f"phase-encode size {ny} out of range", path=p)
    ky_center = step1[2] if step1 is not None and step1[2] > 0 else ny_lim // 2
    ky = idx["kspace_encode_step_1"].astype(np.int64) - ky_center + ny // 2
    if ky.min() < 0 or ky.max() >= ny:
        raise ShapeError(f"kspace_encode_step_1 outside the encoded matrix (ny = {ny})", path=p)

    _check_counters(idx, limits, sel.size, p)
    z = idx["slice"].astype(np.int64)
    nz = int(z.max()) + 1
    counts = [int(idx[name].max()) + 1 for name in _COUNTERS]
    t = np.zeros(sel.size, dtype=np.int64)
    for name, n in zip(_COUNTERS, counts, strict=True):
        t = t * n + idx[name].astype(np.int64)
    nt = int(np.prod(counts))
    nc = int(n_ch_all.max())
    if nc < 1:
        raise FileFormatError("no acquisition has an active channel", path=p)
    check_size((nt, nz, nc, ny, nx), "ISMRMRD k-space", p)

    kspace = np.zeros((nt, nz, nc, ny, nx), dtype=np.complex64)
    hits = np.zeros((nt, nz, ny), dtype=np.int32)
    for j, i in enumerate(sel):
        h = head[j]
        n_samp, n_ch = int(h["number_of_samples"]), int(h["active_channels"])
        raw = np.asarray(acqs["data"][i], dtype=np.float32).view(np.complex64).reshape(n_ch, n_samp)
        pre, post = int(h["discard_pre"]), int(h["discard_post"])
        line = raw[:, pre : n_samp - post]
        if h["flags"] & (np.uint64(1) << np.uint64(ismrmrd.ACQ_IS_REVERSE - 1)):
            line = line[:, ::-1]
        center = int(h["center_sample"]) - pre
        start = nx // 2 - center if 0 < center < line.shape[1] else (nx - line.shape[1]) // 2
        start = min(max(start, 0), nx - line.shape[1])
        kspace[t[j], z[j], :n_ch, ky[j], start : start + line.shape[1]] += line
        hits[t[j], z[j], ky[j]] += 1
    mask, undersampled = average_acquired_lines(kspace, hits, p, "acquisitions")
    return KSpaceVolume(
        kspace=torch.from_numpy(kspace),
        source=p,
        key=f"{dataset}/data",
        matlab_shape=(nx, ny, nc, nz, nt),
        undersampled=undersampled,
        mask=mask,
    )


@dataclass(frozen=True)
class IsmrmrdGeometry:
    """Geometry recorded in an ISMRMRD header (lengths in mm, times in s).

    Attributes
    ----------
    encoded_fov_mm, recon_fov_mm
        ``(x, y, z)`` field of view of the encoded space (readout oversampling included) and of the
        reconstruction space; for 2-D encodings ``z`` is the slice thickness.
    encoded_matrix, recon_matrix
        ``(x, y)`` matrix sizes.
    positions_mm
        Per slice ``z``: the centre of the slice's field of view, ``None`` when the acquisitions carry
        no geometry (all-zero direction vectors) or a slice has no imaging acquisition.
    read_dir, phase_dir, slice_dir
        Unit vectors of the readout (image columns, ``x``), phase encode (image rows, ``y``) and slice
        directions, ``None`` when not recorded.
    tr_s, te_s
        First sequence TR / TE of the header, ``None`` when absent.
    patient_position
        ``measurementInformation/patientPosition`` (``HFS``...), ``""`` when absent.
    """

    encoded_fov_mm: tuple[float, float, float]
    recon_fov_mm: tuple[float, float, float]
    encoded_matrix: tuple[int, int]
    recon_matrix: tuple[int, int]
    positions_mm: tuple[tuple[float, float, float], ...] | None = None
    read_dir: tuple[float, float, float] | None = None
    phase_dir: tuple[float, float, float] | None = None
    slice_dir: tuple[float, float, float] | None = None
    tr_s: float | None = None
    te_s: float | None = None
    patient_position: str = ""


def _vec(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def read_ismrmrd_geometry(
    path: PathLike, *, encoding: int = 0, dataset: str = "dataset"
) -> IsmrmrdGeometry | None:
    """Geometry of an ISMRMRD (or fastMRI ``ismrmrd_header``) ``.h5`` file; ``None`` without a header.

    Only the XML header and the acquisition headers are read (no samples).

    Raises
    ------
    InputFileError, FileFormatError
        Missing or unreadable file, or an invalid XML header.
    DataValueError
        A field of view that is not finite and positive, TR/TE not finite and non-negative,
        position or direction vectors that are not finite.
    ShapeError
        An encoding index or matrix size out of range.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError("file not found", path=p)
    with reading(p, "ISMRMRD file"):
        return _read_geometry(p, encoding, dataset)


def _read_geometry(p: Path, encoding: int, dataset: str) -> IsmrmrdGeometry | None:
    with _open(p) as f:
        group = h5_member(f, dataset, p) if f.get(dataset, getlink=True) is not None else None
        if isinstance(group, h5py.Group) and "xml" in group:
            xml_ds = h5_member(group, "xml", p)
            check_h5_dataset(xml_ds, "ISMRMRD XML header", p)
            xml = xml_ds[0]
            heads = None
            if "data" in group:
                data_ds = h5_member(group, "data", p)
                check_h5_dataset(data_ds, "ISMRMRD acquisitions", p)
                heads = data_ds.fields("head")[()]
        elif f.get("ismrmrd_header", getlink=True) is not None:
            xml_ds = h5_member(f, "ismrmrd_header", p)
            check_h5_dataset(xml_ds, "ISMRMRD XML header", p)
            xml, heads = xml_ds[()], None
        else:
            return None
    header = _parse_header(xml, p)
    if not 0 <= encoding < len(header.encoding):
        msg = f"encoding {encoding} requested, header has {len(header.encoding)}"
        raise ShapeError(msg, path=p)
    enc = header.encoding[encoding]
    e_fov, r_fov = enc.encodedSpace.fieldOfView_mm, enc.reconSpace.fieldOfView_mm
    e_mat, r_mat = enc.encodedSpace.matrixSize, enc.reconSpace.matrixSize
    seq = header.sequenceParameters
    tr = list(getattr(seq, "TR", None) or []) if seq is not None else []
    te = list(getattr(seq, "TE", None) or []) if seq is not None else []
    pp = getattr(header.measurementInformation, "patientPosition", None)
    position = str(getattr(pp, "value", pp or ""))
    geo = IsmrmrdGeometry(
        encoded_fov_mm=(float(e_fov.x), float(e_fov.y), float(e_fov.z)),
        recon_fov_mm=(float(r_fov.x), float(r_fov.y), float(r_fov.z)),
        encoded_matrix=(int(e_mat.x), int(e_mat.y)),
        recon_matrix=(int(r_mat.x), int(r_mat.y)),
        tr_s=float(tr[0]) * 1e-3 if tr else None,
        te_s=float(te[0]) * 1e-3 if te else None,
        patient_position=position,
    )
    _check_geometry(geo, p)
    if heads is None:
        return geo
    geo = _with_slice_geometry(geo, heads, encoding)
    vectors = [*(geo.positions_mm or ()), geo.read_dir, geo.phase_dir, geo.slice_dir]
    if not all(np.isfinite(v).all() for v in vectors if v is not None):
        raise DataValueError("acquisition position or direction vectors are not finite", path=p)
    return geo


def _check_geometry(geo: IsmrmrdGeometry, p: Path) -> None:
    """Field of view finite and positive in-plane, matrices at least 1, TR/TE finite and non-negative."""
    for name, fov in (("encoded", geo.encoded_fov_mm), ("recon", geo.recon_fov_mm)):
        if not (np.isfinite(fov).all() and fov[0] > 0 and fov[1] > 0 and fov[2] >= 0):
            raise DataValueError(f"{name} field of view {fov} mm is not finite and positive", path=p)
    for name, mat in (("encoded", geo.encoded_matrix), ("recon", geo.recon_matrix)):
        if not all(1 <= m <= _MAX_MATRIX for m in mat):
            raise ShapeError(f"{name} matrix {mat} out of range", path=p)
    for name, value in (("TR", geo.tr_s), ("TE", geo.te_s)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise DataValueError(f"{name} = {value} s is not a non-negative number", path=p)


def _with_slice_geometry(geo: IsmrmrdGeometry, heads: np.ndarray, encoding: int) -> IsmrmrdGeometry:
    """``geo`` with the position and directions of the first imaging acquisition of every slice."""
    keep = ~_skip_mask(heads["flags"].astype(np.uint64)) & (heads["encoding_space_ref"] == encoding)
    heads = heads[keep]
    if heads.size == 0 or not np.any(heads["read_dir"]) or not np.any(heads["phase_dir"]):
        return geo
    z = heads["idx"]["slice"].astype(np.int64)
    first = [np.flatnonzero(z == k) for k in range(int(z.max()) + 1)]
    if any(idx.size == 0 for idx in first):
        return geo
    h0 = heads[first[0][0]]
    return replace(
        geo,
        positions_mm=tuple(_vec(heads[idx[0]]["position"]) for idx in first),
        read_dir=_vec(h0["read_dir"]),
        phase_dir=_vec(h0["phase_dir"]),
        slice_dir=_vec(h0["slice_dir"]),
    )
