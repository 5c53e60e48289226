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
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch

from cardiomm.errors import FileFormatError, InputFileError, MissingKeyError, ShapeError
from cardiomm.io.kspace import KSpaceVolume, average_acquired_lines

__all__ = ["read_ismrmrd"]

PathLike = str | os.PathLike[str]

_COUNTERS = ("contrast", "set", "repetition", "phase")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _skip_mask(flags: np.ndarray) -> np.ndarray:
    import ismrmrd

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
        3-D encoding, non-Cartesian data, or indices outside the encoded matrix.
    DataValueError
        NaN/Inf samples.
    """
    import ismrmrd
    import ismrmrd.xsd

    p = Path(path)
    if not p.exists():
        raise InputFileError("file not found", path=p)
    try:
        f = h5py.File(p, "r")
    except OSError as err:
        msg = f"cannot open as HDF5, truncated or corrupt ({_first_line(err)})"
        raise FileFormatError(msg, path=p) from None
    with f:
        if dataset not in f or "xml" not in f[dataset] or "data" not in f[dataset]:
            found = ", ".join(f.keys()) or "none"
            raise MissingKeyError(f"no ISMRMRD '{dataset}/xml' and '{dataset}/data'; found: {found}", path=p)
        try:
            xml = f[dataset]["xml"][0]
            header = ismrmrd.xsd.CreateFromDocument(xml)
            acqs = f[dataset]["data"][()]
        except OSError as err:
            msg = f"cannot read data, truncated or corrupt ({_first_line(err)})"
            raise FileFormatError(msg, path=p) from None
        except Exception as err:  # xsdata parser errors
            raise FileFormatError(f"invalid ISMRMRD XML header ({_first_line(err)})", path=p) from None
    if encoding >= len(header.encoding):
        raise ShapeError(f"encoding {encoding} requested, header has {len(header.encoding)}", path=p)
    enc = header.encoding[encoding]
    traj = str(getattr(enc.trajectory, "value", enc.trajectory)).lower()
    if traj != "cartesian":
        raise ShapeError(f"trajectory {traj!r} is not Cartesian", path=p)
    matrix = enc.encodedSpace.matrixSize
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

    ns = head["number_of_samples"].astype(np.int64) - head["discard_pre"] - head["discard_post"]
    nx = max(int(matrix.x), int(ns.max()))
    ny_lim = step1[1] + 1 if step1 is not None else int(idx["kspace_encode_step_1"].max()) + 1
    ny = max(int(matrix.y), ny_lim)
    ky_center = step1[2] if step1 is not None and step1[2] > 0 else ny_lim // 2
    ky = idx["kspace_encode_step_1"].astype(np.int64) - ky_center + ny // 2
    if ky.min() < 0 or ky.max() >= ny:
        raise ShapeError(f"kspace_encode_step_1 outside the encoded matrix (ny = {ny})", path=p)

    z = idx["slice"].astype(np.int64)
    nz = int(z.max()) + 1
    counts = [int(idx[name].max()) + 1 for name in _COUNTERS]
    t = np.zeros(sel.size, dtype=np.int64)
    for name, n in zip(_COUNTERS, counts, strict=True):
        t = t * n + idx[name].astype(np.int64)
    nt = int(np.prod(counts))
    nc = int(head["active_channels"].max())

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
