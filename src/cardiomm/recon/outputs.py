"""Write a reconstructed volume: ``.mat`` (``reconimage``), NIfTI, a DICOM series, PNG, cine GIF, info CSV."""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cardiomm.database.paths import parse_path
from cardiomm.errors import CardiommError, ConfigError, UnknownChoiceError
from cardiomm.io import (
    ImageGeometry,
    IsmrmrdGeometry,
    ScanParameters,
    crop_readout,
    find_scan_csv,
    image_geometry,
    read_ismrmrd_geometry,
    read_scan_csv,
    write_cine_gif,
    write_dicom_series,
    write_nifti,
    write_png,
    write_recon_mat,
)
from cardiomm.io.dicom_out import DICOM_SUFFIX
from cardiomm.recon.pipeline import ReconTask
from cardiomm.types import Modality
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "FORMATS",
    "METHOD_LABELS",
    "OutputOptions",
    "parse_formats",
    "series_description",
    "source_geometry",
    "write_outputs",
]

log = logging.getLogger(__name__)

#: Output formats of ``cardiomm reconstruct --format``.
FORMATS: tuple[str, ...] = ("mat", "nifti", "dicom", "png", "gif")
#: Display names of the methods (DICOM ``SeriesDescription``).
METHOD_LABELS: dict[str, str] = {
    "cardiomm": "CardioMM",
    "zf": "ZF",
    "sense": "SENSE",
    "cs": "CS",
    "varnet": "VarNet",
    "promptmr": "PromptMR",
}
#: Modalities whose frame axis is the cardiac phase (``_info.csv`` TR = frame interval).
_CARDIAC_TIME = frozenset(m.value for m in (Modality.CINE, Modality.TAGGING, Modality.AORTA, Modality.FLOW2D))
#: Vendors whose ``_info.csv`` TR is 10x too small (published fix, reference 13; as the phenotype pipeline).
_TR_X10_VENDORS = ("UIH",)


@dataclass(frozen=True)
class OutputOptions:
    """What :func:`write_outputs` writes for each reconstruction.

    Attributes
    ----------
    mat
        ``<stem>.mat`` (``reconimage``, the default output).
    nifti
        ``<stem>.nii.gz``.
    dicom
        ``<stem>_dicom/``: one MR image series (:func:`cardiomm.io.dicom_out.write_dicom_series`).
    png, gif
        Middle slice: first frame as PNG, cine as animated GIF.
    info_csv
        Copy the scan's ``_info.csv`` to ``<stem>_info.csv``.
    spacing_mm
        ``(dz, dy, dx)`` [mm] for sources that record no voxel size (``--spacing``): used for NIfTI,
        DICOM and the pictures instead of the 2 x 2 x 8 mm defaults; a recorded geometry wins.
    """

    mat: bool = True
    nifti: bool = False
    dicom: bool = False
    png: bool = False
    gif: bool = False
    info_csv: bool = False
    spacing_mm: tuple[float, float, float] | None = None


def parse_formats(
    formats: Sequence[str],
    *,
    nifti: bool = False,
    png: bool = False,
    gif: bool = False,
    info_csv: bool = False,
    spacing_mm: Sequence[float] | None = None,
) -> OutputOptions:
    """Options from ``--format`` values (repeated and/or comma-separated; none: ``mat``) plus the flags.

    Raises
    ------
    UnknownChoiceError
        A format outside :data:`FORMATS`.
    ConfigError
        ``spacing_mm`` is not three positive finite numbers.
    """
    spacing: tuple[float, float, float] | None = None
    if spacing_mm is not None:
        values = [float(v) for v in spacing_mm]
        if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
            raise ConfigError(f"--spacing needs three positive values dz,dy,dx [mm], got {list(spacing_mm)}")
        spacing = (values[0], values[1], values[2])
    chosen = {f.strip().lower() for item in formats for f in item.split(",") if f.strip()} or {"mat"}
    unknown = sorted(chosen - set(FORMATS))
    if unknown:
        raise UnknownChoiceError(f"unknown --format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return OutputOptions(
        mat="mat" in chosen,
        nifti=nifti or "nifti" in chosen,
        dicom="dicom" in chosen,
        png=png or "png" in chosen,
        gif=gif or "gif" in chosen,
        info_csv=info_csv,
        spacing_mm=spacing,
    )


def series_description(method: str, token: str) -> str:
    """``cardiomm <Method> <token>``, e.g. ``cardiomm CardioMM ktGaussian16``."""
    return " ".join(p for p in ("cardiomm", METHOD_LABELS.get(method, method), token) if p)


def source_geometry(
    task: ReconTask, shape: Sequence[int], spacing_mm: tuple[float, float, float] | None = None
) -> ImageGeometry:
    """Geometry of the reconstruction of ``task`` (``shape`` ``(t, z, y, x)``): ISMRMRD header, else the
    scan's ``_info.csv``, else ``spacing_mm`` ``(dz, dy, dx)`` when given, else defaults (see
    :mod:`cardiomm.io.geometry`)."""
    path = task.kspace_path
    header: IsmrmrdGeometry | None = None
    if path.suffix.lower() == ".h5":
        try:
            header = read_ismrmrd_geometry(path)
        except CardiommError as err:
            log.warning("%s; geometry from _info.csv or defaults", err)
    csv = find_scan_csv(path)
    params: ScanParameters | None = read_scan_csv(csv) if csv is not None else None
    info = parse_path(task.rel_path)
    scale = 10.0 if info.vendor in _TR_X10_VENDORS else 1.0
    cardiac = info.modality in _CARDIAC_TIME
    return image_geometry(
        shape,
        header=header,
        params=params,
        time_resolved=cardiac,
        frame_time_scale=scale,
        fallback_spacing_mm=spacing_mm,
    )


def output_paths(task: ReconTask, options: OutputOptions = OutputOptions()) -> list[Path]:
    """The files (and the DICOM folder) :func:`write_outputs` writes for ``task`` with ``options``."""
    out = task.out_path
    stem = out.with_suffix("")
    wanted = [
        (options.mat, out),
        (options.nifti, stem.with_suffix(".nii.gz")),
        (options.dicom, stem.with_name(stem.name + DICOM_SUFFIX)),
        (options.png, stem.with_suffix(".png")),
        (options.gif, stem.with_suffix(".gif")),
    ]
    return [path for on, path in wanted if on]


def write_outputs(
    task: ReconTask,
    volume: torch.Tensor,
    options: OutputOptions = OutputOptions(),
    *,
    description: str = "",
    series_number: int = 1,
) -> None:
    """Write ``volume`` ``(t, z, y, x)`` next to ``task.out_path`` in the formats of ``options``.

    ``.mat`` and NIfTI keep the full reconstructed grid; NIfTI voxel sizes and frame time come from the
    scan's ``_info.csv`` (reference 3.2 defaults otherwise, with a warning). The DICOM series crops the
    readout oversampling and takes its geometry from :func:`source_geometry` (defaults are warned about
    and named in the files' ``ImageComments``); ``description`` and ``series_number`` label the series.
    ``info_csv`` copies the CSV to ``<out stem>_info.csv``, so that ``cardiomm analyse`` finds the
    geometry of a single-file reconstruction.
    """
    out = task.out_path
    stem = out.with_suffix("")
    if options.mat:
        write_recon_mat(out, volume)
    if options.info_csv and (src := find_scan_csv(task.kspace_path)) is not None:
        with atomic_path(out.with_name(out.stem + "_info.csv")) as tmp:
            shutil.copyfile(src, tmp)
    z = volume.shape[1] // 2
    if not (options.nifti or options.dicom or options.png or options.gif):
        return
    geometry = source_geometry(task, tuple(volume.shape), options.spacing_mm)  # headers read once
    if options.nifti:
        _write_nifti(stem.with_suffix(".nii.gz"), volume, geometry)
    if options.dicom:
        folder = stem.with_name(stem.name + DICOM_SUFFIX)
        if notes := geometry.describe_defaults():
            log.warning("%s: geometry not recorded in the source; DICOM defaults: %s", folder, notes)
        write_dicom_series(
            folder,
            volume,
            geometry,
            description=description or series_description("", ""),
            series_number=series_number,
            source_key=str(Path(task.kspace_path).resolve()),
            derivation=f"{description or 'cardiomm'} reconstruction of undersampled multi-coil k-space",
        )
    if options.png or options.gif:  # pictures show what a viewer shows: readout oversampling cropped
        shown = torch.from_numpy(np.ascontiguousarray(crop_readout(volume[:, z], geometry.readout_width)))
        if options.png:
            write_png(stem.with_suffix(".png"), shown[0])
        if options.gif:
            write_cine_gif(stem.with_suffix(".gif"), shown)


def _write_nifti(path: Path, volume: torch.Tensor, geometry: ImageGeometry) -> None:
    """The full reconstructed grid with the source geometry (:func:`source_geometry`): voxel size, and
    orientation and position when an ISMRMRD header records them; defaults are warned about."""
    if notes := geometry.describe_defaults():
        log.warning("%s: geometry not recorded in the source; NIfTI defaults: %s", path, notes)
    dy, dx = geometry.pixel_spacing_mm
    affine = geometry.nifti_affine(n_x=int(volume.shape[-1]))
    voxel = (dx, dy, float(np.linalg.norm(affine[:3, 2])))
    frame_time = geometry.frame_dt_s or geometry.tr_s or 1.0
    write_nifti(path, volume, voxel_size_mm=voxel, frame_time_s=frame_time, affine=affine)
