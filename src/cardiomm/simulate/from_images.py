"""Multi-coil k-space from real magnitude images (how image-only cohorts enter a k-space database).

Input: a DICOM series folder (read with pydicom) or a NIfTI file (nibabel). DICOM images are grouped
into slices by their position along the slice normal (``ImagePositionPatient`` projected on the
normal of ``ImageOrientationPatient``) and ordered in time by ``TriggerTime`` then ``InstanceNumber``.
Slices are spatially sorted, in the direction that puts the slice holding the lowest
``InstanceNumber`` first (the scanner's acquisition order). Pixel rows become ``y`` (phase encode
axis of the output), columns ``x`` (readout); no transpose is applied.

Synthesis: ``img = m exp(i phi_z)`` with a smooth random background phase per slice, Biot-Savart coil
maps normalised to ``sum_c |S_c|^2 = 1`` (so the coil RSS of the noise-free k-space equals ``m``),
``kspace = fft2c(img S_c)`` plus optional complex Gaussian noise of standard deviation
``mean(m over the object) / snr`` (object = pixels above 10 % of the 99th percentile).

Output: CMRxRecon ``kspace_full`` (MATLAB ``[nx, ny, nc, nz, nt]``; trailing singleton dimensions
dropped as MATLAB does) and ``<name>_info.csv`` from the image geometry. Both files are written
atomically and only after every check has passed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, ShapeError
from cardiomm.io.mat import save_mat
from cardiomm.io.scan_csv import ScanParameters, write_scan_csv
from cardiomm.simulate.coils import biot_savart_csm, smooth_phase
from cardiomm.simulate.scan import add_noise, coil_kspace
from cardiomm.simulate.writer import matlab_squeeze
from cardiomm.utils.atomic import atomic_path

__all__ = ["ImageSeries", "read_dicom_series", "read_nifti_series", "read_image_series", "kspace_from_images",
           "images_to_kspace_file"]

PathLike = str | os.PathLike[str]


@dataclass
class ImageSeries:
    """Magnitude images with geometry.

    Attributes
    ----------
    magnitude
        ``(t, z, y, x)`` float32, non-negative.
    spacing
        ``(dz, dy, dx)`` [mm]; ``dz`` = slice thickness.
    slice_spacing
        Centre-to-centre slice distance [mm] (``None`` for one slice).
    frame_dt
        Frame interval [s] (``None`` for one frame).
    tr, te
        Sequence repetition / echo time [s] when known.
    extras
        Other header facts for the CSV (vendor, field strength, ...).
    source
        Input path.
    """

    magnitude: NDArray[np.float32]
    spacing: tuple[float, float, float]
    slice_spacing: float | None
    frame_dt: float | None
    tr: float | None
    te: float | None
    extras: dict[str, float | str]
    source: Path


def _float(ds: object, name: str) -> float | None:
    value = getattr(ds, name, None)
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def read_dicom_series(folder: PathLike) -> ImageSeries:
    """Read one DICOM series from a folder (see the module docstring for the ordering rules).

    Raises
    ------
    InputFileError
        Missing folder, no readable DICOM image in it, or images of several series.
    ShapeError
        Images of different sizes, or slices with different frame counts.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError("DICOM folder not found", path=root)
    with warnings.catch_warnings():  # pydicom warns about non-conformant values (e.g. UIDs) of real data
        warnings.simplefilter("ignore")
        return _read_dicom_series(root)


def _read_dicom_series(root: Path) -> ImageSeries:
    import pydicom

    datasets = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(f)
        except Exception:  # not DICOM: skipped
            continue
        if "PixelData" in ds:
            datasets.append((f, ds))
    if not datasets:
        raise InputFileError("no DICOM image files in folder", path=root)
    uids = {str(getattr(ds, "SeriesInstanceUID", "")) for _, ds in datasets}
    if len(uids) > 1:
        raise InputFileError(
            f"mixed series: {len(uids)} different SeriesInstanceUID values; give one series", path=root
        )
    sizes = {(int(ds.Rows), int(ds.Columns)) for _, ds in datasets}
    if len(sizes) > 1:
        raise ShapeError(f"mixed image sizes {sorted(sizes)} (rows, columns) in one series", path=root)
    first = datasets[0][1]
    iop = np.asarray(getattr(first, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), float)
    normal = np.cross(iop[:3], iop[3:])
    groups: dict[float, list[tuple[float, int, Path, object]]] = {}
    for f, ds in datasets:
        ipp = getattr(ds, "ImagePositionPatient", None)
        if ipp is not None:
            pos = float(np.dot(np.asarray(ipp, float), normal))
        else:
            pos = _float(ds, "SliceLocation") or 0.0
        key = round(pos, 2)
        trig = _float(ds, "TriggerTime") or 0.0
        groups.setdefault(key, []).append((trig, int(getattr(ds, "InstanceNumber", 0) or 0), f, ds))
    counts = {len(v) for v in groups.values()}
    if len(counts) > 1:
        raise ShapeError(f"slices have different numbers of frames {sorted(counts)}", path=root)
    positions = sorted(groups)
    if min(groups[positions[-1]], key=lambda r: r[1])[1] < min(groups[positions[0]], key=lambda r: r[1])[1]:
        positions = positions[::-1]
    n_t = counts.pop()
    mag = np.empty((n_t, len(positions), *sizes.pop()), np.float32)
    for z, key in enumerate(positions):
        for t, (_, _, f, ds) in enumerate(sorted(groups[key], key=lambda r: (r[0], r[1]))):
            try:
                arr = ds.pixel_array.astype(np.float32)  # type: ignore[attr-defined]
            except Exception as err:
                raise FileFormatError(f"cannot decode pixel data ({type(err).__name__})", path=f) from None
            slope, inter = _float(ds, "RescaleSlope") or 1.0, _float(ds, "RescaleIntercept") or 0.0
            mag[t, z] = np.abs(arr * slope + inter)
    spacing_rc = [float(v) for v in getattr(first, "PixelSpacing", [1.0, 1.0])]
    thick = _float(first, "SliceThickness") or 8.0
    slice_spacing = float(np.median(np.abs(np.diff(positions)))) if len(positions) > 1 else None
    trig = sorted(r[0] for r in groups[positions[0]])
    frame_dt = float(np.median(np.diff(trig))) * 1e-3 if n_t > 1 else None
    tr, te = _float(first, "RepetitionTime"), _float(first, "EchoTime")
    extras: dict[str, float | str] = {}
    for tag, name in (("MagneticFieldStrength", "FieldStrength(T)"), ("FlipAngle", "FlipAngle(deg)")):
        if (v := _float(first, tag)) is not None:
            extras[name] = v
    for tag in ("Manufacturer", "ManufacturerModelName", "InPlanePhaseEncodingDirection"):
        if getattr(first, tag, ""):
            extras[tag] = str(getattr(first, tag))
    return ImageSeries(
        magnitude=mag, spacing=(thick, spacing_rc[0], spacing_rc[1]), slice_spacing=slice_spacing,
        frame_dt=frame_dt, tr=None if tr is None else tr * 1e-3, te=None if te is None else te * 1e-3,
        extras=extras, source=root,
    )


def read_nifti_series(path: PathLike) -> ImageSeries:
    """Read a 2-D to 4-D NIfTI magnitude image: NIfTI ``(i, j, k, l)`` -> ``(t, z, y, x)`` = ``(l, k, j, i)``.

    Raises
    ------
    InputFileError, FileFormatError, ShapeError
        Missing / unreadable file, or more than 4 dimensions.
    """
    import nibabel as nib

    p = Path(path)
    if not p.is_file():
        raise InputFileError("file not found", path=p)
    try:
        img = nib.load(str(p))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as err:
        raise FileFormatError(f"cannot read NIfTI ({type(err).__name__})", path=p) from None
    if not 2 <= data.ndim <= 4:
        raise ShapeError(f"NIfTI image has {data.ndim} dimensions; expected 2 to 4", path=p)
    data = data.reshape(data.shape + (1,) * (4 - data.ndim))
    zooms = list(img.header.get_zooms()) + [1.0] * 4
    space_unit, time_unit = img.header.get_xyzt_units()
    t_scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(time_unit or "sec", 1.0)
    mag = np.abs(np.ascontiguousarray(data.transpose(3, 2, 1, 0)))
    return ImageSeries(magnitude=mag, spacing=(float(zooms[2]), float(zooms[1]), float(zooms[0])),
                       slice_spacing=float(zooms[2]) if mag.shape[1] > 1 else None,
                       frame_dt=float(zooms[3]) * t_scale if mag.shape[0] > 1 else None, tr=None, te=None,
                       extras={}, source=p)


def read_image_series(path: PathLike) -> ImageSeries:
    """Read a DICOM folder or a ``.nii`` / ``.nii.gz`` file."""
    p = Path(path)
    if p.is_dir():
        return read_dicom_series(p)
    if not p.exists():
        raise InputFileError("input not found (expected a DICOM folder or a NIfTI file)", path=p)
    if not p.name.endswith((".nii", ".nii.gz")):
        raise FileFormatError("unsupported input: give a DICOM series folder or a .nii/.nii.gz file", path=p)
    return read_nifti_series(p)


def kspace_from_images(
    magnitude: NDArray[np.floating],
    spacing: tuple[float, float],
    *,
    n_coils: int = 10,
    seed: int = 0,
    noise: bool = True,
    snr: float = 30.0,
) -> tuple[NDArray[np.complex64], NDArray[np.complex64], float]:
    """Synthesise multi-coil k-space from magnitude images.

    Parameters
    ----------
    magnitude
        ``(t, z, y, x)`` non-negative images.
    spacing
        Pixel size ``(dy, dx)`` [mm] (sets the coil geometry).
    n_coils
        Number of coils.
    seed
        Seed of phase, coil geometry and noise.
    noise, snr
        Add noise of standard deviation ``mean(object) / snr``.

    Returns
    -------
    tuple
        k-space ``(t, z, c, ky, kx)`` complex64, coil maps ``(z, c, y, x)``, noise standard deviation.
    """
    mag = np.asarray(magnitude, dtype=np.float32)
    if mag.ndim != 4:
        raise ShapeError(f"magnitude must be (t, z, y, x), got shape {mag.shape}")
    if not np.isfinite(mag).all():
        raise DataValueError("magnitude images contain NaN/Inf")
    rng = np.random.default_rng(seed)
    n_t, n_z, ny, nx = mag.shape
    semi = (0.55 * nx * spacing[1], 0.55 * ny * spacing[0])
    coil_seed = int(rng.integers(2**31))
    csm = np.stack([
        biot_savart_csm(n_coils, (ny, nx), spacing, body_semi_axes=semi,
                        slice_offset=10.0 * (z - (n_z - 1) / 2), seed=coil_seed)
        for z in range(n_z)
    ])
    phase = np.stack([smooth_phase((ny, nx), rng) for _ in range(n_z)])
    kspace = coil_kspace(mag * np.exp(1j * phase)[None].astype(np.complex64), csm)
    sigma = 0.0
    if noise:
        obj = mag[mag > 0.1 * np.percentile(mag, 99)]
        sigma = float(obj.mean() / snr) if obj.size else 0.0
        add_noise(kspace, sigma, rng)
    return kspace, csm, sigma


def images_to_kspace_file(
    source: PathLike,
    out: PathLike,
    *,
    n_coils: int = 10,
    seed: int = 0,
    noise: bool = True,
    snr: float = 30.0,
) -> tuple[Path, Path]:
    """Read images, synthesise k-space and write ``OUT.mat`` (``kspace_full``) + ``OUT_info.csv``.

    Returns
    -------
    tuple[Path, Path]
        The ``.mat`` and ``_info.csv`` paths. Nothing is written when any step fails.

    Raises
    ------
    InputFileError, FileFormatError, ShapeError, DataValueError
        Bad input (see :func:`read_image_series`) or an output name not ending in ``.mat``.
    """
    out_p = Path(out)
    if out_p.suffix != ".mat":
        raise InputFileError("output must be a .mat file", path=out_p)
    series = read_image_series(source)
    kspace, _, _ = kspace_from_images(series.magnitude, series.spacing[1:], n_coils=n_coils, seed=seed,
                                      noise=noise, snr=snr)
    n_t, n_z, _, ny, nx = kspace.shape
    extras: dict[str, float | str | tuple[float, ...]] = dict(series.extras)
    if series.slice_spacing is not None:
        extras["SliceSpacing(mm)"] = series.slice_spacing
    if series.tr is not None:
        extras["SequenceTR(ms)"] = series.tr * 1e3
    extras["Source"] = "synthesised from magnitude images (cardiomm simulate from-images)"
    params = ScanParameters(
        fov_x_mm=series.spacing[2] * nx, fov_y_mm=series.spacing[1] * ny,
        recon_matrix_x=nx, recon_matrix_y=ny, slice_thickness_mm=series.spacing[0],
        tr_s=series.frame_dt if series.frame_dt is not None else series.tr,
        te_s=series.te, extras=extras,
    )
    csv_p = out_p.with_name(f"{out_p.stem}_info.csv")
    with atomic_path(out_p) as tmp_mat, atomic_path(csv_p) as tmp_csv:
        save_mat(tmp_mat, {"kspace_full": matlab_squeeze(kspace)})
        write_scan_csv(tmp_csv, params)
    return out_p, csv_p
