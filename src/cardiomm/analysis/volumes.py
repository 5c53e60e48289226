"""Inputs of the downstream analysis: an image or label volume ``(t, z, y, x)`` and the geometry of its file.

Readable sources: ``.npy``, ``.mat`` image variables (``reconimage``...), NIfTI (``.nii`` / ``.nii.gz``), a
DICOM series folder and a ``cardiomm simulate`` ``<stem>_gt.h5`` sidecar (its labels).

DICOM rules:

- the slice spacing is the centre-to-centre distance of the slices (``slice_spacing``), falling back to
  the slice thickness: volumes need the distance, not the thickness;
- the frame time is the recorded R-R interval over the number of frames when the scanner wrote one
  (prospective gating leaves a gap after the last frame, so trigger-time steps would overstate the heart
  rate), else the trigger-time step;
- per-image inversion / echo times are kept when they vary over the series (a mapping axis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import DataValueError, InputFileError, MissingKeyError, UnknownChoiceError
from cardiomm.io import read_dicom_series, read_image_mat, read_nifti
from cardiomm.simulate.truth import read_ground_truth

__all__ = ["AnalysisVolume", "load_volume", "read_gt_sidecar", "as_label_volume", "read_label_frame"]


@dataclass(frozen=True)
class AnalysisVolume:
    """A volume and what its file says about it.

    Attributes
    ----------
    data
        ``(t, z, y, x)`` as stored: magnitude images or integer labels.
    spacing_mm
        ``(dz, dy, dx)`` [mm], ``dz`` the centre-to-centre slice distance; ``None`` when the file does
        not record it.
    frame_dt_s
        Time between frames [s]; ``None`` when the file does not record it.
    from_dicom
        True for a DICOM series (images, never labels).
    inversion_times_s, echo_times_s
        ``(t, z)`` per-image inversion / echo time [s] of a DICOM series where it varies over the
        series, else ``None``.
    slice_positions_mm
        ``(z,)`` slice positions along the normal [mm] of a DICOM series, in stack order, else ``None``.
    source
        The file or folder read, for messages (``None`` when not read from a path).
    """

    data: NDArray[Any]
    spacing_mm: tuple[float, float, float] | None = None
    frame_dt_s: float | None = None
    from_dicom: bool = False
    inversion_times_s: NDArray[np.float64] | None = field(default=None, repr=False)
    echo_times_s: NDArray[np.float64] | None = field(default=None, repr=False)
    slice_positions_mm: NDArray[np.float64] | None = field(default=None, repr=False)
    source: Path | None = None

    def holds_images(self) -> bool:
        """True when :attr:`data` cannot be a label volume: a DICOM series, complex or non-integer values,
        or values above 255 (images to segment, not labels)."""
        values = np.asarray(self.data)
        integral = values.dtype.kind != "c" and np.array_equal(values, np.round(values))
        return bool(self.from_dicom or not integral or values.max(initial=0) > 255)


def _is_nifti(path: Path) -> bool:
    return path.name.endswith((".nii", ".nii.gz"))


def _varying(times: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
    """``(t, z)`` times that vary over the series (a mapping axis), else ``None``."""
    return times if times is not None and np.ptp(times[:, 0]) > 0 else None


def _load_dicom(path: Path, select: str | None = None) -> AnalysisVolume:
    dicom = read_dicom_series(path, select)
    dz = dicom.slice_spacing or dicom.spacing[0]
    n_t = dicom.magnitude.shape[0]
    frame_dt = None  # the recorded R-R interval over the frames, else the trigger-time step
    if n_t > 1 and (dicom.rr_interval or dicom.frame_dt):
        frame_dt = dicom.rr_interval / n_t if dicom.rr_interval else dicom.frame_dt
    return AnalysisVolume(
        dicom.magnitude,
        spacing_mm=(dz, dicom.spacing[1], dicom.spacing[2]),
        frame_dt_s=frame_dt,
        from_dicom=True,
        inversion_times_s=_varying(dicom.inversion_times),
        echo_times_s=_varying(dicom.echo_times),
        slice_positions_mm=dicom.slice_positions,
        source=path,
    )


def _load_npy(path: Path, *, series: bool) -> AnalysisVolume:
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 3:
        arr = arr[:, None] if series else arr[None]
    elif arr.ndim == 2:
        arr = arr[None, None]
    if arr.ndim != 4:
        raise DataValueError(f"expected a 2-D to 4-D (t, z, y, x) array, not {arr.shape}", path=path)
    return AnalysisVolume(arr)


def _load_nifti(path: Path) -> AnalysisVolume:
    vol = read_nifti(path)
    dx, dy, dz = vol.voxel_size_mm
    frame_dt = vol.frame_time_s if vol.frame_time_s > 0 else None
    return AnalysisVolume(vol.volume.numpy(), spacing_mm=(dz, dy, dx), frame_dt_s=frame_dt)


def _load_gt_labels(path: Path) -> AnalysisVolume:
    truth = read_gt_sidecar(path)
    md = truth["metadata"]
    sp = md.get("voxel_spacing_mm", {})
    spacing = (float(sp["z"]), float(sp["y"]), float(sp["x"])) if sp else None
    frame_dt = float(md["frame_dt_s"]) if md.get("frame_dt_s") else None
    return AnalysisVolume(truth["labels"], spacing_mm=spacing, frame_dt_s=frame_dt)


def load_volume(
    path: Path, key: str | None = None, *, series: bool = False, dicom_series: str | None = None
) -> AnalysisVolume:
    """Read a ``(t, z, y, x)`` volume and the geometry its file records.

    Parameters
    ----------
    path
        ``.npy``, ``.mat``, ``.nii`` / ``.nii.gz``, a DICOM series folder or a simulate ``_gt.h5`` sidecar.
    key
        Variable name in a ``.mat`` file (default: the first image variable).
    series
        A 3-D ``.npy`` is ``(t, y, x)`` (one slice of a mapping series) when True, else ``(z, y, x)``
        (one frame); a 2-D one is a single image either way.
    dicom_series
        In a DICOM folder (or ZIP archive) holding several series: the one to read (its number, UID or a
        part of its description; :func:`cardiomm.io.read_dicom_series`).

    Returns
    -------
    AnalysisVolume
        The voxels and the spacing / frame time / mapping times found in the file.

    Raises
    ------
    InputFileError
        ``path`` does not exist.
    DataValueError
        A ``.npy`` array that is not 2-D to 4-D.
    UnknownChoiceError
        An unsupported file type.
    """
    if not path.exists():
        raise InputFileError("file not found", path=path)
    if path.is_dir() or path.suffix.lower() == ".zip":
        return _load_dicom(path, dicom_series)
    if path.suffix == ".npy":
        return _load_npy(path, series=series)
    if path.suffix == ".mat":
        return AnalysisVolume(read_image_mat(path, key).numpy())
    if _is_nifti(path):
        return _load_nifti(path)
    if path.name.endswith("_gt.h5"):
        return _load_gt_labels(path)
    msg = (
        "unsupported file type (use .mat, .npy, .nii/.nii.gz, a DICOM series folder or .zip, or a simulate "
        "_gt.h5)"
    )
    raise UnknownChoiceError(msg, path=path)


def read_gt_sidecar(path: Path) -> dict[str, Any]:
    """Read a ``cardiomm simulate`` ``<stem>_gt.h5`` sidecar (see
    :func:`~cardiomm.simulate.truth.read_ground_truth`), with typed errors for a missing or foreign file."""
    if not path.is_file():
        raise InputFileError("ground-truth sidecar not found", path=path)
    try:
        return read_ground_truth(path)
    except (OSError, KeyError, ValueError) as err:
        raise MissingKeyError(f"not a cardiomm simulate _gt.h5 sidecar ({err})", path=path) from None


def as_label_volume(arr: Any, path: Path) -> NDArray[np.uint8]:
    """Check that ``arr`` holds labels (integers in ``[0, 255]``; floats must be whole) and return it as
    ``uint8``; ``path`` names the file in the errors (:class:`~cardiomm.errors.DataValueError`)."""
    a = np.asarray(arr)
    if a.dtype.kind == "f":
        if not np.allclose(a, np.round(a)):
            msg = "label volume holds non-integer values (pass --segmenter to segment images)"
            raise DataValueError(msg, path=path)
        a = np.round(a)
    if a.min() < 0 or a.max() > 255:
        raise DataValueError(f"label values out of range [{a.min()}, {a.max()}]", path=path)
    return a.astype(np.uint8)


def read_label_frame(path: Path) -> NDArray[np.uint8]:
    """The first frame ``(z, y, x)`` of a label file (any :func:`load_volume` source), checked by
    :func:`as_label_volume`."""
    return as_label_volume(load_volume(path).data[0], path)
