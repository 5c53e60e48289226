"""The frames of an Enhanced (multi-frame) DICOM image, each seen as a classic single-frame image.

Enhanced MR Image Storage (Siemens XA, Philips, GE exports) keeps a whole series in one object: the
pixel data hold every frame, and each frame's geometry and timing sit in functional group macros, per
frame in the *Per-frame Functional Groups Sequence* with defaults in the *Shared Functional Groups
Sequence* (DICOM PS3.3 C.7.6.16). :func:`dataset_frames` turns such an object into one
:class:`DicomFrame` per frame that answers the classic attribute names the series reader asks for
(``ImagePositionPatient``, ``TriggerTime``, ``RescaleSlope``, ...), so one reader serves both layouts.
A classic single-frame image is returned as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import ShapeError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["DicomFrame", "dataset_frames"]

#: Classic attribute -> (functional group sequence, attribute inside it) of Enhanced MR images.
FUNCTIONAL_GROUPS: dict[str, tuple[str, str]] = {
    "ImagePositionPatient": ("PlanePositionSequence", "ImagePositionPatient"),
    "ImageOrientationPatient": ("PlaneOrientationSequence", "ImageOrientationPatient"),
    "PixelSpacing": ("PixelMeasuresSequence", "PixelSpacing"),
    "SliceThickness": ("PixelMeasuresSequence", "SliceThickness"),
    "SpacingBetweenSlices": ("PixelMeasuresSequence", "SpacingBetweenSlices"),
    "RescaleSlope": ("PixelValueTransformationSequence", "RescaleSlope"),
    "RescaleIntercept": ("PixelValueTransformationSequence", "RescaleIntercept"),
    "TriggerTime": ("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"),
    "NominalInterval": ("CardiacSynchronizationSequence", "RRIntervalTimeNominal"),
    "EchoTime": ("MREchoSequence", "EffectiveEchoTime"),
    "InversionTime": ("MRModifierSequence", "InversionTimes"),
    "RepetitionTime": ("MRTimingAndRelatedParametersSequence", "RepetitionTime"),
    "FlipAngle": ("MRTimingAndRelatedParametersSequence", "FlipAngle"),
    "InPlanePhaseEncodingDirection": ("MRFOVGeometrySequence", "InPlanePhaseEncodingDirection"),
}


class _Pixels:
    """The decoded ``(frames, rows, columns)`` pixel data of one object, decoded on first use."""

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds
        self._array: NDArray[Any] | None = None

    def frame(self, index: int) -> NDArray[Any]:
        if self._array is None:
            arr = np.asarray(self._ds.pixel_array)
            self._array = arr[None] if arr.ndim == 2 else arr  # one frame decodes to (rows, columns)
        return self._array[index]


class DicomFrame:
    """Frame ``index`` of an Enhanced DICOM object under the classic attribute names.

    An attribute is looked up in the frame's functional groups, then the shared ones (through
    :data:`FUNCTIONAL_GROUPS`), then the object itself; ``InstanceNumber`` orders the frames in their
    stored order after the frames of objects with a lower ``InstanceNumber``, and ``SOPInstanceUID``
    names the frame (a repeated object is still recognised). ``pixel_array`` is the frame's
    ``(rows, columns)`` pixels.
    """

    def __init__(self, ds: Dataset, index: int, n_frames: int, pixels: _Pixels) -> None:
        self._ds, self._index, self._n_frames, self._pixels = ds, index, n_frames, pixels
        per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None) or []
        shared = getattr(ds, "SharedFunctionalGroupsSequence", None) or []
        own = per_frame[index] if index < len(per_frame) else None
        self._groups = [g for g in (own, shared[0] if shared else None) if g is not None]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in FUNCTIONAL_GROUPS:
            seq, inner = FUNCTIONAL_GROUPS[name]
            for group in self._groups:
                items = getattr(group, seq, None)
                value = getattr(items[0], inner, None) if items else None
                if value is not None and value != "":
                    if name == "InversionTime" and not isinstance(value, (int, float)):
                        value = list(value)[0] if len(value) else None  # InversionTimes is multi-valued
                    return value
        if name == "InstanceNumber":
            return int(getattr(self._ds, "InstanceNumber", 0) or 0) * self._n_frames + self._index + 1
        if name == "SOPInstanceUID":
            return f"{getattr(self._ds, 'SOPInstanceUID', '')}#{self._index}"
        if name == "pixel_array":
            return self._pixels.frame(self._index)
        return getattr(self._ds, name)


def _n_frames(ds: Dataset) -> int:
    try:
        return int(getattr(ds, "NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return 1


def dataset_frames(ds: Dataset, path: Path) -> list[Dataset | DicomFrame]:
    """The images of one DICOM object: ``[ds]`` for a single-frame image, one :class:`DicomFrame` per
    frame of an Enhanced multi-frame image.

    Raises
    ------
    ShapeError
        A multi-frame object without per-frame functional groups (no geometry per frame: a legacy
        multi-frame or secondary-capture object), or whose per-frame groups do not match its frame count.
    """
    n = _n_frames(ds)
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    if n <= 1 and per_frame is None:
        return [ds]
    if per_frame is None:
        raise ShapeError(
            f"multi-frame image ({n} frames) without per-frame functional groups: the frames have no "
            "geometry or timing; export the series as single-frame images (classic MR Image Storage)",
            path=path,
        )
    if len(per_frame) != n:
        raise ShapeError(
            f"multi-frame image with NumberOfFrames {getattr(ds, 'NumberOfFrames', None)} but "
            f"{len(per_frame)} per-frame functional groups",
            path=path,
        )
    pixels = _Pixels(ds)
    return [DicomFrame(ds, i, n, pixels) for i in range(n)]
