"""Multi-coil k-space from real magnitude images (how image-only cohorts enter a k-space database).

Input: a DICOM series folder or a NIfTI file, read by :mod:`cardiomm.io.image_series` (slice grouping
and frame order there). Pixel rows become ``y`` (phase encode axis of the output), columns ``x``
(readout).

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
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import DataValueError, InputFileError, ShapeError
from cardiomm.io.image_series import ImageSeries, read_dicom_series, read_image_series, read_nifti_series
from cardiomm.io.mat import save_mat
from cardiomm.io.scan_csv import ScanParameters, write_scan_csv
from cardiomm.simulate.coils import biot_savart_csm, smooth_phase
from cardiomm.simulate.scan import add_noise, coil_kspace
from cardiomm.simulate.writer import matlab_squeeze
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "ImageSeries",
    "read_dicom_series",
    "read_nifti_series",
    "read_image_series",
    "kspace_from_images",
    "images_to_kspace_file",
]  # the readers are re-exported from cardiomm.io.image_series

PathLike = str | os.PathLike[str]


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
    csm = np.stack(
        [
            biot_savart_csm(
                n_coils,
                (ny, nx),
                spacing,
                body_semi_axes=semi,
                slice_offset=10.0 * (z - (n_z - 1) / 2),
                seed=coil_seed,
            )
            for z in range(n_z)
        ]
    )
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
    kspace, _, _ = kspace_from_images(
        series.magnitude, series.spacing[1:], n_coils=n_coils, seed=seed, noise=noise, snr=snr
    )
    n_t, n_z, _, ny, nx = kspace.shape
    extras: dict[str, float | str | tuple[float, ...]] = dict(series.extras)
    if series.slice_spacing is not None:
        extras["SliceSpacing(mm)"] = series.slice_spacing
    if series.tr is not None:
        extras["SequenceTR(ms)"] = series.tr * 1e3
    extras["Source"] = "synthesised from magnitude images (cardiomm simulate from-images)"
    params = ScanParameters(
        fov_x_mm=series.spacing[2] * nx,
        fov_y_mm=series.spacing[1] * ny,
        recon_matrix_x=nx,
        recon_matrix_y=ny,
        slice_thickness_mm=series.spacing[0],
        tr_s=series.frame_dt if series.frame_dt is not None else series.tr,
        te_s=series.te,
        extras=extras,
    )
    csv_p = out_p.with_name(f"{out_p.stem}_info.csv")
    with atomic_path(out_p) as tmp_mat, atomic_path(csv_p) as tmp_csv:
        save_mat(tmp_mat, {"kspace_full": matlab_squeeze(kspace)})
        write_scan_csv(tmp_csv, params)
    return out_p, csv_p
