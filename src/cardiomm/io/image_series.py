"""Magnitude image series from DICOM folders and NIfTI files, with their geometry and timing.

DICOM (pydicom): the images of one series are grouped into slices by their position along the slice
normal (the image centre, from ``ImagePositionPatient``, ``ImageOrientationPatient`` and ``PixelSpacing``,
projected on the first image's normal, so slices tilted by a few degrees keep their place; positions within
:data:`~cardiomm.io.dicom_geometry.POSITION_TOLERANCE_MM` of each other are one slice) and ordered in time
by ``TriggerTime`` then ``InstanceNumber``. Without ``ImagePositionPatient`` on any image,
``SliceLocation`` orders the slices but the slice distance is ``SpacingBetweenSlices`` (SliceLocation is
often measured along a scanner axis, not the slice normal: 6.72 mm steps for 10-mm oblique slices in the
Sunnybrook cines); without that either, the SliceLocation step (or the slice thickness when the step is
smaller: slices of a stack do not overlap) is used and a warning logged. The frames of an Enhanced
multi-frame object are images like any other (:mod:`cardiomm.io.dicom_frames`), and files without the
DICOM preamble are read when they start like a data set. A stack exported as one series per slice (as
many scanners and archives deliver short-axis cines) is read as one stack when its series share
orientation, matrix and pixel spacing and no slice position holds images of two series (a slice
re-planned with another matrix or field of view is resampled onto the stack's grid); of other mixes
the one multi-slice, multi-frame stack is read, or one selected by number or description, else they are
refused with a list of them (:mod:`cardiomm.io.dicom_series`). A file repeating an image already read
(same ``SOPInstanceUID``) is skipped. Slices are spatially sorted, in the direction that puts the slice
holding the lowest (``SeriesNumber``, ``InstanceNumber``) first (the scanner's acquisition order).
Slices with different numbers of frames (breath-holds at different heart rates) are matched by trigger
time on one grid (:mod:`cardiomm.io.dicom_timing`).
Pixel rows become ``y``, columns ``x``; no transpose is applied; ``RescaleSlope`` /
``RescaleIntercept`` are applied. Per-image inversion times (``InversionTime``, else a ``TI <number>``
in ``ImageComments`` as Siemens MOLLI series write it) and echo times are kept as ``(t, z)`` arrays for
parametric mapping.

NIfTI (nibabel): ``(i, j, k, l)`` -> ``(t, z, y, x)`` = ``(l, k, j, i)``, zooms and time unit from the
header.

Only geometry and timing are read from the headers: no name, ID, date or institution leaves this module.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, ShapeError
from cardiomm.io.checks import check_finite, check_size, first_line, reading
from cardiomm.io.dicom_frames import dataset_frames
from cardiomm.io.dicom_geometry import GridView, image_centres, position_runs, slice_normal, tilt_deg, vector
from cardiomm.io.dicom_headers import (
    Image,
    header_float,
    inversion_time_ms,
    median_rr_ms,
    rescaled_pixels,
    select_series,
    series_listing,
    series_number,
    series_uid,
)
from cardiomm.io.dicom_series import (
    PARALLEL_DEG,
    STACK_TILT_DEG,
    SeriesSummary,
    stack_images,
    summarise_series,
)
from cardiomm.io.dicom_timing import common_frames
from cardiomm.io.dicom_zip import is_zip, unpacked
from cardiomm.io.nifti import read_nifti_array

if TYPE_CHECKING:
    from pydicom.dataset import FileDataset

__all__ = ["ImageSeries", "read_dicom_series", "list_dicom_series", "read_nifti_series", "read_image_series"]

PathLike = str | os.PathLike[str]
#: One image of a series: a classic single-frame object or a frame of an Enhanced multi-frame one.
_Image: TypeAlias = Image
log = logging.getLogger(__name__)


#: Without positions along the normal, a SliceLocation step below this fraction of the slice thickness
#: (overlapping slices, which short-axis stacks do not have) is not taken as the slice distance.
MAX_OVERLAP = 0.95


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
    inversion_times
        ``(t, z)`` inversion time [s] of every image (DICOM with ``InversionTime`` or a ``TI`` comment on
        every image), else ``None``.
    echo_times
        ``(t, z)`` echo time [s] of every image (DICOM with ``EchoTime`` on every image), else ``None``.
    rr_interval
        The R-R interval [s] the scanner recorded (DICOM ``NominalInterval``, the median over the images),
        else ``None``.
    slice_positions
        ``(z,)`` position of every slice along the slice normal [mm], in stack order (DICOM), else
        ``None``.
    """

    magnitude: NDArray[np.float32]
    spacing: tuple[float, float, float]
    slice_spacing: float | None
    frame_dt: float | None
    tr: float | None
    te: float | None
    extras: dict[str, float | str]
    source: Path
    inversion_times: NDArray[np.float64] | None = field(default=None, repr=False)
    echo_times: NDArray[np.float64] | None = field(default=None, repr=False)
    rr_interval: float | None = None
    slice_positions: NDArray[np.float64] | None = field(default=None, repr=False)


def _per_image_seconds(values: list[list[float | None]]) -> NDArray[np.float64] | None:
    """``(t, z)`` times in ms with gaps -> seconds, or ``None`` when any image lacks the value."""
    arr = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    return None if np.isnan(arr).any() else arr * 1e-3


def read_dicom_series(folder: PathLike, series: str | None = None) -> ImageSeries:
    """Read one DICOM series from a folder, or a ZIP archive of one (:mod:`cardiomm.io.dicom_zip`); see
    the module docstring for the ordering rules.

    ``series`` selects the images of one series in a folder that holds several (a study exported to one
    folder): its ``SeriesNumber``, its ``SeriesInstanceUID`` or a case-insensitive part of its
    ``SeriesDescription``; the series matching it must form one stack.

    No image is dropped silently: a file that claims to be DICOM (suffix ``.dcm`` / ``.dicom`` /
    ``.ima``, or the ``DICM`` marker at byte 128) but cannot be parsed, an image object (an
    ``... Image Storage`` SOP class) without pixel data, and pixel data that cannot be decoded all raise
    :class:`FileFormatError` naming that file. Other files (notes, JSON, hidden files, DICOM objects
    that are not images such as a ``DICOMDIR``) are ignored.

    Raises
    ------
    InputFileError
        Missing folder, no readable DICOM image in it, images of several series that are not one stack,
        or no series matching ``series``.
    FileFormatError
        A damaged DICOM file or image (the message names the file).
    ShapeError
        Images of different sizes, multi-frame images without per-frame geometry, or slices with
        different frame counts.
    DataValueError
        Non-finite or non-positive geometry (pixel spacing, orientation, position), a negative slice
        thickness, rescaled pixel values that are not finite, positions on some images only, or no
        position at all on several images of one trigger time.
    SizeLimitError
        More pixels than the size guard allows (:func:`~cardiomm.io.checks.max_elements`).
    """
    with _dicom_files(folder) as (files, root):
        return _read_dicom_series(files, series, root)


@contextmanager
def _dicom_files(folder: PathLike) -> Iterator[tuple[Path, Path]]:
    """(folder of the files, the folder or archive given) of a DICOM folder or ZIP archive (unpacked
    for the duration), with pydicom's warnings silenced and errors naming what was given."""
    root = Path(folder)
    with ExitStack() as stack:
        if is_zip(root):
            files = stack.enter_context(unpacked(root))
        elif root.is_dir():
            files = root
        else:
            raise InputFileError("DICOM folder not found", path=root)
        stack.enter_context(
            warnings.catch_warnings()
        )  # pydicom warns about non-conformant values of real data
        warnings.simplefilter("ignore")
        stack.enter_context(reading(root, "DICOM series"))
        yield files, root


_DICOM_SUFFIXES = {".dcm", ".dicom", ".ima"}


def _claims_dicom(path: Path) -> bool:
    """Whether a file says it is DICOM: a DICOM suffix, or ``DICM`` at byte 128."""
    if path.suffix.lower() in _DICOM_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        fh.seek(128)
        return fh.read(4) == b"DICM"


def _starts_like_raw_dicom(path: Path) -> bool:
    """Whether a file without the 128-byte preamble starts like a DICOM data set: its first element is
    in group 0x0002 or 0x0008, little endian (old exports and some archives write no preamble)."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    return head[128:132] != b"DICM" and head[:2] in (b"\x02\x00", b"\x08\x00") and len(head) >= 8


def _set_transfer_syntax(ds: FileDataset) -> None:
    """Record the encoding pydicom found in a data set read without file meta information (needed to
    decode its pixels): implicit or explicit VR, little or big endian."""
    from pydicom.dataset import FileMetaDataset  # noqa: PLC0415 - lazy: importing this module loads no pydicom
    from pydicom.uid import (  # noqa: PLC0415 - lazy: importing this module loads no pydicom
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
    )

    implicit, little = ds.original_encoding
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    )
    ds.file_meta = meta


def _load_dicom(path: Path) -> FileDataset | None:
    """The dataset of an image file; ``None`` for a file to ignore (see :func:`read_dicom_series`)."""
    import pydicom  # noqa: PLC0415 - lazy: importing this module loads no pydicom
    from pydicom.errors import InvalidDicomError  # noqa: PLC0415 - lazy: importing this module loads no pydicom

    if path.name.startswith("."):
        return None
    forced = _starts_like_raw_dicom(path)
    try:
        ds = pydicom.dcmread(path, force=forced)
    except InvalidDicomError as err:
        if _claims_dicom(path):
            raise FileFormatError(f"not a readable DICOM file ({first_line(err)})", path=path) from None
        return None
    except Exception as err:  # pydicom raises many types on damaged files
        if forced and not _claims_dicom(path):
            return None  # it only started like a data set without preamble
        raise FileFormatError(
            f"truncated or corrupt DICOM file ({type(err).__name__}: {first_line(err)})", path=path
        ) from None
    if "PixelData" in ds:
        if forced and "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
            _set_transfer_syntax(ds)
        return ds
    if forced:  # parsed without preamble but holds no image: junk that only started like a data set
        if _claims_dicom(path):
            raise FileFormatError("not a readable DICOM file (no preamble and no image in it)", path=path)
        return None
    meta = getattr(ds, "file_meta", None)
    sop = getattr(ds, "SOPClassUID", None) or getattr(meta, "MediaStorageSOPClassUID", "")
    if "Image Storage" in str(getattr(sop, "name", "")):
        raise FileFormatError("DICOM image without pixel data (truncated or corrupt)", path=path)
    return None


def _group_slices(
    root: Path, placed: list[tuple[float, float, int, Path, _Image]]
) -> dict[float, list[tuple[float, int, Path, _Image]]]:
    """Images grouped into slices (:func:`~cardiomm.io.dicom_geometry.position_runs`), keyed by the slice's
    mean position [mm]; two series at one position are refused, listed."""
    groups: dict[float, list[tuple[float, int, Path, _Image]]] = {}
    for run in position_runs(placed, lambda r: r[0]):
        pos = float(np.mean([r[0] for r in run]))
        uids = {series_uid(r[4]) for r in run}
        if len(uids) > 1:
            raise InputFileError(
                f"mixed series: {len(uids)} series hold images at the same slice position ({pos:.2f} mm), "
                f"a repeated acquisition?: {series_listing([(r[3], r[4]) for r in run])}; select one by its "
                "number or description",
                path=root,
            )
        groups[pos] = [(r[1], r[2], r[3], r[4]) for r in run]
    return groups


def _acquired_first(images: list[tuple[float, int, Path, _Image]]) -> tuple[int, int]:
    """When a slice was acquired, for the stack's direction: its lowest (``SeriesNumber``,
    ``InstanceNumber``); a cine exported one series per slice restarts its instance numbers in each
    series, so the series number tells the breath-hold order."""
    return min((series_number(r[3]) or 0, r[1]) for r in images)


def _syntax(ds: _Image) -> str:
    """`` (<transfer syntax name>)`` of an image's file, for messages; empty when it has none."""
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return f" ({getattr(uid, 'name', uid)})" if uid else ""


def _positions(
    root: Path, datasets: list[tuple[Path, _Image]], normal: NDArray[np.float64]
) -> tuple[list[float], str]:
    """Every image's position along the slice normal [mm] and the header it came from:
    ``ImagePositionPatient`` (the image centre, :func:`~cardiomm.io.dicom_geometry.slice_centre`, projected
    on the normal), else ``SliceLocation``, else ``""`` (all 0)."""
    centres = image_centres(datasets)
    n_ipp = sum(v is not None for v in centres)
    if n_ipp == len(datasets):
        return [float(np.dot(v, normal)) for v in centres if v is not None], "ImagePositionPatient"
    if n_ipp:
        lacking = next(f for (f, _), v in zip(datasets, centres, strict=True) if v is None)
        raise DataValueError(
            f"ImagePositionPatient on {n_ipp} of {len(datasets)} images (not on {lacking.name}, for one): "
            "the stack cannot be ordered",
            path=root,
        )
    locs = [header_float(ds, "SliceLocation") for _, ds in datasets]
    n_loc = sum(v is not None for v in locs)
    if n_loc == len(datasets):
        return [float(v) for v in locs if v is not None], "SliceLocation"
    if n_loc:
        raise DataValueError(
            f"no ImagePositionPatient, and SliceLocation on {n_loc} of {len(datasets)} images: the stack "
            "cannot be ordered",
            path=root,
        )
    return [0.0] * len(datasets), ""


def _slice_spacing(
    root: Path, first: _Image, positions: list[float], source: str
) -> tuple[float | None, NDArray[np.float64]]:
    """Centre-to-centre slice distance [mm] and the slice positions [mm] (module notes on the headers)."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.size < 2:
        return None, pos
    step = float(np.median(np.abs(np.diff(pos))))
    if source != "SliceLocation":
        return step, pos
    between = header_float(first, "SpacingBetweenSlices")
    if between is not None and np.isfinite(between) and between > 0:
        return between, pos[0] + (pos - pos[0]) * (between / step)
    thick = header_float(first, "SliceThickness")
    if thick is not None and np.isfinite(thick) and step < MAX_OVERLAP * thick:
        # slices of a stack do not overlap: SliceLocation is measured along another axis
        log.warning(
            "%s: SliceLocation steps %.2f mm, less than the slice thickness %.2f mm, and the headers have "
            "no ImagePositionPatient or SpacingBetweenSlices: slices taken as %.2f mm apart (no gap); "
            "give the spacing if there is one",
            root,
            step,
            thick,
            thick,
        )
        return thick, pos[0] + (pos - pos[0]) * (thick / step)
    log.warning(
        "%s: slice spacing %.2f mm taken from SliceLocation (the headers have no ImagePositionPatient or "
        "SpacingBetweenSlices); SliceLocation is not always measured along the slice normal: check it "
        "or give the spacing",
        root,
        step,
    )
    return step, pos


def list_dicom_series(folder: PathLike) -> tuple[list[SeriesSummary], str | None]:
    """Every series of a DICOM folder or ZIP archive (:class:`~cardiomm.io.dicom_series.SeriesSummary`),
    and why :func:`read_dicom_series` without a selection would refuse the folder (``None`` when it
    picks a stack: the summaries marked ``picked``).

    Raises
    ------
    InputFileError, FileFormatError
        As :func:`read_dicom_series` for a missing folder, no images or a damaged file.
    """
    with _dicom_files(folder) as (files, root):
        datasets = _load_images(files, root)
        try:
            stack = stack_images(root, datasets)
        except InputFileError as err:
            return summarise_series(datasets, set()), err.message
        picked = {series_uid(ds) for _, ds in stack}
        moved = {series_uid(ds) for _, ds in stack if isinstance(ds, GridView)}
        return summarise_series(datasets, picked, moved), None


def _load_images(files: Path, root: Path) -> list[tuple[Path, _Image]]:
    """Every DICOM image under ``files`` (frames of multi-frame objects apart; a repeated
    ``SOPInstanceUID`` once); messages name ``root``."""
    datasets: list[tuple[Path, _Image]] = []
    seen: set[str] = set()  # SOPInstanceUIDs: a second copy of an image (an export twice) is skipped
    for f in sorted(p for p in files.rglob("*") if p.is_file()):
        with reading(f, "DICOM file"):
            loaded = _load_dicom(f)
            images = [] if loaded is None else dataset_frames(loaded, f)
        for image in images:
            uid = str(getattr(image, "SOPInstanceUID", "") or "")
            if uid and uid in seen:
                continue
            seen.add(uid)
            datasets.append((f, image))
    if not datasets:
        raise InputFileError(f"no DICOM image files in {'archive' if root != files else 'folder'}", path=root)
    return datasets


def _read_dicom_series(files: Path, select: str | None, root: Path) -> ImageSeries:
    """The series of the images under ``files``; messages name ``root`` (the folder or archive given)."""
    datasets = _load_images(files, root)
    if select is not None:
        datasets = select_series(root, datasets, select)
    datasets = stack_images(root, datasets, selected=select is not None)
    sizes = set()
    for f, ds in datasets:
        with reading(f, "DICOM file"):
            sizes.add((int(ds.Rows), int(ds.Columns)))
    if len(sizes) > 1:
        raise ShapeError(f"mixed image sizes {sorted(sizes)} (rows, columns) in one series", path=root)
    first_path, first = datasets[0]
    normal = slice_normal(first, first_path)
    normal = np.asarray([0.0, 0.0, 1.0]) if normal is None else normal
    tilt = tilt_deg(datasets)
    if tilt >= STACK_TILT_DEG:
        raise InputFileError(
            f"images in planes up to {tilt:.0f} degrees apart (several views in one series?): not one stack",
            path=root,
        )
    if tilt > PARALLEL_DEG:
        log.warning(
            "%s: slices tilted up to %.1f degrees from the first (re-planned between breath-holds?); slice "
            "positions measured at the image centres",
            root,
            tilt,
        )
    image_pos, pos_source = _positions(root, datasets, normal)
    placed: list[tuple[float, float, int, Path, _Image]] = []
    for (f, ds), pos in zip(datasets, image_pos, strict=True):
        with reading(f, "DICOM file"):
            trig = header_float(ds, "TriggerTime") or 0.0
            if not (np.isfinite(pos) and np.isfinite(trig)):
                raise DataValueError("slice position or trigger time is not finite", path=f)
            inst = int(getattr(ds, "InstanceNumber", 0) or 0)
        placed.append((pos, trig, inst, f, ds))
    if not pos_source and len({p[1] for p in placed}) < len(placed):
        raise DataValueError(
            "no slice position in the headers (ImagePositionPatient, SliceLocation) and several images "
            "share a trigger time: the slices cannot be told apart",
            path=root,
        )
    groups = common_frames(root, _group_slices(root, placed))
    counts = {len(v) for v in groups.values()}
    positions = sorted(groups)
    if _acquired_first(groups[positions[-1]]) < _acquired_first(groups[positions[0]]):
        positions = positions[::-1]
    n_t = counts.pop()
    shape = (n_t, len(positions), *sizes.pop())
    check_size(shape, "DICOM series", root)
    mag = np.empty(shape, np.float32)
    ti_ms: list[list[float | None]] = [[None] * len(positions) for _ in range(n_t)]
    te_ms: list[list[float | None]] = [[None] * len(positions) for _ in range(n_t)]
    for z, key in enumerate(positions):
        for t, (_, _, f, ds) in enumerate(sorted(groups[key], key=lambda r: (r[0], r[1]))):
            ti_ms[t][z], te_ms[t][z] = inversion_time_ms(ds), header_float(ds, "EchoTime")
            try:
                arr = rescaled_pixels(ds)
            except Exception as err:
                raise FileFormatError(
                    f"cannot decode pixel data{_syntax(ds)}: {first_line(err)}", path=f
                ) from None
            if arr.shape != shape[2:]:
                raise ShapeError(f"pixel data of shape {arr.shape}, {shape[2:]} expected", path=f)
            mag[t, z] = np.abs(arr)
            check_finite(mag[t, z], "rescaled pixel data", f)
    spacing = vector(first, "PixelSpacing", 2, first_path)
    spacing_rc = [1.0, 1.0] if spacing is None else [float(v) for v in spacing]
    if spacing is None:
        log.warning("%s: no PixelSpacing in the headers; 1 x 1 mm pixels assumed: give the spacing", root)
    if min(spacing_rc) <= 0:
        raise DataValueError(f"PixelSpacing {spacing_rc} must be positive", path=first_path)
    thick = header_float(first, "SliceThickness") or 8.0
    if header_float(first, "SliceThickness") is None and len(positions) < 2:
        log.warning("%s: no SliceThickness in the headers; 8 mm assumed", root)
    if not (np.isfinite(thick) and thick > 0):
        raise DataValueError(f"SliceThickness {thick} must be a positive number", path=first_path)
    slice_spacing, slice_positions = _slice_spacing(root, first, positions, pos_source)
    trig_times = sorted(r[0] for r in groups[positions[0]])
    frame_dt = float(np.median(np.diff(trig_times))) * 1e-3 if n_t > 1 else None
    tr, te = header_float(first, "RepetitionTime"), header_float(first, "EchoTime")
    extras: dict[str, float | str] = {}
    for tag, name in (("MagneticFieldStrength", "FieldStrength(T)"), ("FlipAngle", "FlipAngle(deg)")):
        if (v := header_float(first, tag)) is not None:
            extras[name] = v
    for tag in ("Manufacturer", "ManufacturerModelName", "InPlanePhaseEncodingDirection"):
        if getattr(first, tag, ""):
            extras[tag] = str(getattr(first, tag))
    return ImageSeries(
        magnitude=mag,
        spacing=(thick, spacing_rc[0], spacing_rc[1]),
        slice_spacing=slice_spacing,
        frame_dt=frame_dt,
        tr=None if tr is None else tr * 1e-3,
        te=None if te is None else te * 1e-3,
        extras=extras,
        source=root,
        inversion_times=_per_image_seconds(ti_ms),
        echo_times=_per_image_seconds(te_ms),
        rr_interval=None if (rr := median_rr_ms(datasets)) is None else rr * 1e-3,
        slice_positions=slice_positions,
    )


def read_nifti_series(path: PathLike) -> ImageSeries:
    """Read a 2-D to 4-D NIfTI magnitude image: NIfTI ``(i, j, k, l)`` -> ``(t, z, y, x)`` = ``(l, k, j, i)``.

    Raises
    ------
    InputFileError, FileFormatError, ShapeError
        Missing / unreadable file, or more than 4 dimensions.
    DataValueError, SizeLimitError
        See :func:`cardiomm.io.nifti.read_nifti_array`.
    """
    p = Path(path)
    img, data = read_nifti_array(p)
    if not 2 <= data.ndim <= 4:
        raise ShapeError(f"NIfTI image has {data.ndim} dimensions; expected 2 to 4", path=p)
    data = data.reshape(data.shape + (1,) * (4 - data.ndim))
    zooms = list(img.header.get_zooms()) + [1.0] * 4
    with reading(p, "NIfTI file"):  # an unknown unit code is a KeyError in nibabel
        space_unit, time_unit = img.header.get_xyzt_units()
    t_scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(time_unit or "sec", 1.0)
    mag = np.abs(np.ascontiguousarray(data.transpose(3, 2, 1, 0)))
    return ImageSeries(
        magnitude=mag,
        spacing=(float(zooms[2]), float(zooms[1]), float(zooms[0])),
        slice_spacing=float(zooms[2]) if mag.shape[1] > 1 else None,
        frame_dt=float(zooms[3]) * t_scale if mag.shape[0] > 1 else None,
        tr=None,
        te=None,
        extras={},
        source=p,
    )


def read_image_series(path: PathLike) -> ImageSeries:
    """Read a DICOM folder or ``.zip`` archive, or a ``.nii`` / ``.nii.gz`` file."""
    p = Path(path)
    if p.is_dir() or is_zip(p):
        return read_dicom_series(p)
    if not p.exists():
        raise InputFileError("input not found (expected a DICOM folder or ZIP, or a NIfTI file)", path=p)
    if not p.name.endswith((".nii", ".nii.gz")):
        raise FileFormatError(
            "unsupported input: give a DICOM series folder or .zip, or a .nii/.nii.gz file", path=p
        )
    return read_nifti_series(p)
