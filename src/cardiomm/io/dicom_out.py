"""DICOM export of magnitude volumes: one MR Image Storage series per stack (pydicom, imported lazily).

A volume ``(t, z, y, x)`` becomes a folder of ``t * z`` single-frame files ``IM_<instance>.dcm``
(explicit VR little endian, Part 10 file meta), written atomically (a temporary folder renamed into
place; a failed write leaves nothing behind):

- ``InstanceNumber = z * n_t + t + 1`` (slices in order, the frames of a slice consecutive);
  ``TemporalPositionIdentifier = t + 1``, ``NumberOfTemporalPositions = n_t``; for a cardiac time axis
  ``CardiacNumberOfImages = n_t`` and ``TriggerTime = t * frame interval`` [ms] when known; one
  ``InversionTime`` per frame for mapping series when known.
- Geometry from :class:`~cardiomm.io.geometry.ImageGeometry` (readout oversampling cropped first):
  ``ImagePositionPatient`` per slice, ``ImageOrientationPatient``, ``PixelSpacing`` ``(dy, dx)``,
  ``SliceThickness``, ``SpacingBetweenSlices``, ``SliceLocation``. Pixel rows are ``y``, columns ``x``;
  no transpose. Fields that were defaulted are named in ``ImageComments``.
- Pixels: ``uint16`` with ``BitsStored`` 16 (or 12), ``stored = round(value / RescaleSlope)``,
  ``RescaleSlope = max(volume) / (2**BitsStored - 1)`` (as written in the file, so that
  ``stored * RescaleSlope`` recovers the magnitude within half a slope), ``RescaleIntercept = 0``;
  ``WindowCenter/Width`` from the 99.5th percentile.
- Identity: new ``SeriesInstanceUID`` and ``SOPInstanceUID`` per call; ``StudyInstanceUID``,
  ``FrameOfReferenceUID``, ``PatientID`` and ``PatientName`` derived from ``source_key`` (hashed), so the
  series of all methods from one source share a study and a frame of reference. No patient, date,
  institution or device field of any source is copied; ``ImageType`` is ``DERIVED\\SECONDARY``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from cardiomm import __version__
from cardiomm.errors import DataValueError, ShapeError
from cardiomm.io.geometry import ImageGeometry, crop_readout
from cardiomm.io.image_mat import as_volume
from cardiomm.utils.atomic import atomic_dir

__all__ = ["write_dicom_series", "DICOM_SUFFIX", "synthetic_patient"]

PathLike = str | os.PathLike[str]

#: Suffix of the series folder next to a reconstruction ``<stem>.mat``: ``<stem>_dicom``.
DICOM_SUFFIX = "_dicom"
_UID_ROOT_TAG = "cardiomm"


def synthetic_patient(source_key: str) -> tuple[str, str]:
    """``(PatientID, PatientName)`` of a source: ``CMM-<12 hex>``, ``CARDIOMM^<8 hex>`` (sha256 of key)."""
    digest = hashlib.sha256(f"{_UID_ROOT_TAG}:{source_key}".encode()).hexdigest()
    return f"CMM-{digest[:12]}", f"CARDIOMM^{digest[:8]}"


def _ds(value: float) -> object:
    from pydicom.valuerep import DSfloat  # noqa: PLC0415 - lazy: importing this module loads no pydicom

    return DSfloat(float(value), auto_format=True)


def _scale(vol: np.ndarray, bits_stored: int) -> tuple[np.ndarray, float]:
    """``(stored uint16, slope as written)`` with ``stored * slope ~= vol``."""
    top = (1 << bits_stored) - 1
    vmax = float(vol.max()) if vol.size else 0.0
    slope = float(str(_ds(vmax / top))) if vmax > 0 else 1.0
    stored = np.clip(np.rint(vol.astype(np.float64) / slope), 0, top).astype("<u2")
    return stored, slope


def write_dicom_series(
    folder: PathLike,
    volume: np.ndarray | torch.Tensor,
    geometry: ImageGeometry,
    *,
    description: str,
    series_number: int = 1,
    bits_stored: int = 16,
    source_key: str = "",
    derivation: str = "",
) -> Path:
    """Write a magnitude volume as one MR image series folder, atomically (see the module docstring).

    Parameters
    ----------
    folder
        The series folder to create (replaced if it exists).
    volume
        ``(t, z, y, x)`` (or ``(z, y, x)``, ``(y, x)``) non-negative magnitude, as reconstructed: the
        readout oversampling is cropped here to ``geometry.readout_width``.
    geometry
        From :func:`cardiomm.io.geometry.image_geometry` for ``volume``'s shape.
    description
        ``SeriesDescription`` (method and acceleration, e.g. ``cardiomm CardioMM ktGaussian16``; cut to 64
        characters).
    series_number
        ``SeriesNumber``.
    bits_stored
        16 or 12.
    source_key
        Identifies the source (e.g. the k-space file's name): equal keys give equal study, frame of
        reference and synthetic patient; ``""`` gives new ones.
    derivation
        ``DerivationDescription`` (how the image was made).

    Returns
    -------
    Path
        The series folder.

    Raises
    ------
    ShapeError
        Not 2-D to 4-D, or slices that do not match ``geometry``.
    DataValueError
        NaN/Inf or negative values, or ``bits_stored`` not 12 or 16.
    """
    import pydicom  # noqa: PLC0415 - lazy: importing this module loads no pydicom
    from pydicom.dataset import Dataset, FileMetaDataset  # noqa: PLC0415 - lazy: importing this module loads no pydicom
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid  # noqa: PLC0415 - lazy: importing this module loads no pydicom

    out = Path(folder)
    if bits_stored not in (12, 16):
        raise DataValueError(f"bits_stored must be 12 or 16, got {bits_stored}", path=out)
    vol = crop_readout(as_volume(volume, path=out, name="volume"), geometry.readout_width)
    n_t, n_z, n_y, n_x = vol.shape
    if len(geometry.positions_mm) != n_z:
        msg = f"geometry has {len(geometry.positions_mm)} slice positions, the volume {n_z} slices"
        raise ShapeError(msg, path=out)
    if vol.size and float(vol.min()) < 0:
        raise DataValueError("volume has negative values; a magnitude image is expected", path=out)
    stored, slope = _scale(vol, bits_stored)
    window = float(np.percentile(vol, 99.5)) if vol.size else 0.0
    window = window if window > 0 else max(slope * ((1 << bits_stored) - 1), 1.0)

    def derived(kind: str) -> str:
        return generate_uid(entropy_srcs=[_UID_ROOT_TAG, kind, source_key]) if source_key else generate_uid()

    study_uid, frame_uid, series_uid = derived("study"), derived("frame-of-reference"), generate_uid()
    patient_id, patient_name = synthetic_patient(source_key or series_uid)
    normal = geometry.normal
    cardiac = geometry.frame_dt_s is not None or "frame_time" in geometry.defaulted
    comments = f"cardiomm {__version__} reconstruction; geometry from {geometry.source}"
    if notes := geometry.describe_defaults():
        comments += f"; unknown, defaults used: {notes}"

    base = Dataset()
    base.SOPClassUID = MRImageStorage
    base.Modality = "MR"
    base.ImageType = ["DERIVED", "SECONDARY"]
    base.PatientName, base.PatientID = patient_name, patient_id
    base.PatientBirthDate = base.PatientSex = ""
    base.StudyInstanceUID, base.SeriesInstanceUID = study_uid, series_uid
    base.FrameOfReferenceUID, base.PositionReferenceIndicator = frame_uid, ""
    base.StudyDate = base.StudyTime = base.ReferringPhysicianName = base.StudyID = base.AccessionNumber = ""
    base.ContentDate = base.ContentTime = ""
    base.StudyDescription = "cardiomm reconstruction"
    base.SeriesDescription = description[:64]
    base.SeriesNumber = int(series_number)
    base.Manufacturer = ""
    base.SoftwareVersions = f"cardiomm {__version__}"
    base.BodyPartExamined = "HEART"
    base.PatientPosition = geometry.patient_position
    if derivation:
        base.DerivationDescription = derivation[:1024]
    base.ImageComments = comments
    base.ScanningSequence, base.SequenceVariant, base.ScanOptions = "RM", "NONE", ""
    base.MRAcquisitionType, base.EchoTrainLength = "2D", ""
    base.RepetitionTime = _ds(geometry.tr_s * 1e3) if geometry.tr_s else ""
    base.EchoTime = _ds(geometry.te_s * 1e3) if geometry.te_s else ""
    base.PixelSpacing = [_ds(v) for v in geometry.pixel_spacing_mm]
    base.ImageOrientationPatient = [_ds(v) for v in geometry.orientation]
    base.SliceThickness = _ds(geometry.slice_thickness_mm)
    base.SpacingBetweenSlices = _ds(geometry.slice_spacing_mm)
    base.SamplesPerPixel, base.PhotometricInterpretation = 1, "MONOCHROME2"
    base.Rows, base.Columns = n_y, n_x
    base.BitsAllocated, base.BitsStored, base.HighBit = 16, bits_stored, bits_stored - 1
    base.PixelRepresentation = 0
    base.RescaleIntercept, base.RescaleSlope, base.RescaleType = _ds(0.0), _ds(slope), "US"
    base.WindowCenter, base.WindowWidth = _ds(window / 2), _ds(window)
    base.NumberOfTemporalPositions = n_t
    if cardiac:
        base.CardiacNumberOfImages = n_t

    with atomic_dir(out) as tmp:
        for z in range(n_z):
            position = geometry.positions_mm[z]
            for t in range(n_t):
                ds = Dataset()
                ds.update(base)
                instance = z * n_t + t + 1
                ds.SOPInstanceUID = generate_uid()
                ds.InstanceNumber = instance
                ds.TemporalPositionIdentifier = t + 1
                ds.ImagePositionPatient = [_ds(v) for v in position]
                ds.SliceLocation = _ds(float(np.dot(position, normal)))
                if geometry.frame_dt_s is not None:
                    ds.TriggerTime = _ds(t * geometry.frame_dt_s * 1e3)
                if geometry.inversion_times_s is not None:
                    ds.InversionTime = _ds(geometry.inversion_times_s[t] * 1e3)
                ds.PixelData = np.ascontiguousarray(stored[t, z]).tobytes()
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = MRImageStorage
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
                ds.file_meta = meta
                pydicom.dcmwrite(tmp / f"IM_{instance:05d}.dcm", ds, enforce_file_format=True)
    return out
