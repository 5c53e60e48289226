"""Patient-space geometry of a reconstructed magnitude volume ``(t, z, y, x)``, for image export (DICOM).

Sources, first found wins:

1. an ISMRMRD header (:func:`cardiomm.io.ismrmrd_h5.read_ismrmrd_geometry`): pixel size = encoded field
   of view / image size, slice thickness = encoded FOV ``z``, orientation and position of every slice from
   the acquisition headers (``read_dir`` = image columns ``x``, ``phase_dir`` = image rows ``y``; the
   slice ``position`` is the centre of its field of view, i.e. the pixel ``(n_y // 2, n_x // 2)`` of the
   centred FFT), sequence TR / TE;
2. the scan's ``_info.csv`` (:class:`~cardiomm.io.scan_csv.ScanParameters`): pixel size = FOV / image
   size (after the oversampling crop; equal to ``FOV / ReconMatrix`` for CMRxRecon files and the
   published ``FOV / n`` fix for UIH / Center007), slice thickness, slice spacing (``SliceSpacing`` or the
   thickness), frame interval = ``TR`` (the frame time of time-resolved scans, reference 3.2; x10 for
   UIH, reference 13), inversion times (one per frame), TE;
3. documented defaults, each listed in :attr:`ImageGeometry.defaulted` (the caller warns):

   - pixel spacing 2 mm, slice thickness 8 mm, slice spacing = thickness (reference 3.2 defaults);
   - ``orientation``: rows along patient +x (left), columns along +y (posterior), an axial stack
     (``ImageOrientationPatient`` ``1\\0\\0\\0\\1\\0``); ``position``: the volume centred on the origin;
   - ``frame_time``: unknown, no trigger times.

Readout oversampling: CMRxRecon k-space keeps the 2x readout oversampling, so the image ``x`` is twice
``ReconMatrix_X``; an ISMRMRD encoded FOV larger than the recon FOV means the same. The displayed image
is then the central ``ReconMatrix_X`` (recon FOV) columns (:attr:`ImageGeometry.readout_width`,
:func:`crop_readout`; start ``n // 2 - w // 2``, the project's centring rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cardiomm.errors import ShapeError
from cardiomm.io.ismrmrd_h5 import IsmrmrdGeometry
from cardiomm.io.scan_csv import DEFAULT_INPLANE_MM, DEFAULT_SLICE_THICKNESS_MM, ScanParameters

__all__ = ["ImageGeometry", "DEFAULT_ORIENTATION", "image_geometry", "crop_readout"]

#: Row (``x``) and column (``y``) direction cosines used when the source records no orientation.
DEFAULT_ORIENTATION: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class ImageGeometry:
    """Geometry of the displayed volume ``(t, z, y, x)`` (after :func:`crop_readout`), DICOM conventions.

    Attributes
    ----------
    pixel_spacing_mm
        ``(dy, dx)`` [mm]: distance between rows, between columns (DICOM ``PixelSpacing`` order).
    slice_thickness_mm
        Slice thickness [mm].
    slice_spacing_mm
        Centre-to-centre slice distance [mm].
    orientation
        Six direction cosines, LPS patient coordinates: the direction of increasing ``x`` (along a row),
        then of increasing ``y`` (down a column).
    positions_mm
        Per slice ``z``: centre of the first pixel ``(y, x) = (0, 0)`` [mm] (``ImagePositionPatient``).
    readout_width
        Number of central ``x`` columns to keep (readout oversampling crop), ``None`` to keep all.
    frame_dt_s
        Frame interval [s] of a cardiac-phase time axis, ``None`` when unknown or not time-resolved.
    inversion_times_s
        One inversion time per frame [s] (mapping), ``None`` when unknown.
    tr_s, te_s
        Sequence repetition / echo time [s], ``None`` when unknown.
    patient_position
        ``HFS``... when recorded, else ``""``.
    defaulted
        Fields filled by defaults: ``pixel_spacing``, ``slice_thickness``, ``orientation``, ``position``,
        ``frame_time``.
    source
        Where the known fields came from (``ISMRMRD header``, ``_info.csv`` or ``defaults``).
    """

    pixel_spacing_mm: tuple[float, float]
    slice_thickness_mm: float
    slice_spacing_mm: float
    orientation: tuple[float, ...]
    positions_mm: tuple[Vec3, ...]
    readout_width: int | None = None
    frame_dt_s: float | None = None
    inversion_times_s: tuple[float, ...] | None = None
    tr_s: float | None = None
    te_s: float | None = None
    patient_position: str = ""
    defaulted: frozenset[str] = frozenset()
    source: str = "defaults"

    @property
    def normal(self) -> np.ndarray:
        """Unit slice normal ``row x column``."""
        o = np.asarray(self.orientation, float)
        n = np.cross(o[:3], o[3:])
        return n / np.linalg.norm(n)

    def nifti_affine(self, n_x: int | None = None) -> np.ndarray:
        """4x4 voxel-to-world affine of the NIfTI array ``(x, y, z)`` [mm], RAS world (NIfTI convention).

        ``n_x`` is the width of the stored grid when it keeps the readout oversampling (``.nii`` files
        hold the full reconstructed grid): the first stored column then lies ``n_x // 2 - w // 2``
        columns before the first displayed one (:func:`crop_readout`). DICOM positions are LPS; the
        affine flips the first two world axes (``RAS = diag(-1, -1, 1) LPS``).
        """
        dy, dx = self.pixel_spacing_mm
        row, col = _unit(self.orientation[:3]), _unit(self.orientation[3:])
        first = np.asarray(self.positions_mm[0], float)
        if n_x is not None and self.readout_width is not None and n_x > self.readout_width:
            first = first - (n_x // 2 - self.readout_width // 2) * dx * row
        if len(self.positions_mm) > 1:
            step = np.asarray(self.positions_mm[1], float) - np.asarray(self.positions_mm[0], float)
        else:
            step = self.normal * self.slice_spacing_mm
        lps = np.eye(4)
        lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = row * dx, col * dy, step, first
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps

    def describe_defaults(self) -> str:
        """One line naming the defaulted fields and the values used (``""`` when none)."""
        dy, dx = self.pixel_spacing_mm
        parts = {
            "pixel_spacing": f"pixel spacing {dy:g} x {dx:g} mm",
            "slice_thickness": f"slice thickness {self.slice_thickness_mm:g} mm",
            "orientation": "orientation axial (rows along L, columns along P)",
            "position": "position centred on the origin",
            "frame_time": "frame interval (no trigger times)",
        }
        return "; ".join(text for key, text in parts.items() if key in self.defaulted)


def crop_readout(volume: np.ndarray | torch.Tensor, width: int | None) -> np.ndarray:
    """Central ``width`` columns of ``(..., y, x)`` (start ``n // 2 - width // 2``); all when ``None``."""
    arr = volume.detach().cpu().numpy() if isinstance(volume, torch.Tensor) else np.asarray(volume)
    n_x = arr.shape[-1]
    if width is None or width >= n_x:
        return arr
    if width < 1:
        raise ShapeError(f"readout crop width must be >= 1, got {width}")
    start = n_x // 2 - width // 2
    return arr[..., start : start + width]


def _unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, float)
    return a / np.linalg.norm(a)


def _positions(
    centres: np.ndarray, orientation: Sequence[float], n_y: int, n_x: int, dy: float, dx: float
) -> tuple[Vec3, ...]:
    """First-pixel positions of slices whose pixel ``(n_y // 2, n_x // 2)`` lies at ``centres`` ``(z, 3)``."""
    row, col = _unit(orientation[:3]), _unit(orientation[3:])
    first = centres - (n_x // 2) * dx * row - (n_y // 2) * dy * col
    return tuple((float(p[0]), float(p[1]), float(p[2])) for p in first)


def image_geometry(
    shape: Sequence[int],
    *,
    header: IsmrmrdGeometry | None = None,
    params: ScanParameters | None = None,
    time_resolved: bool = False,
    frame_time_scale: float = 1.0,
    fallback_spacing_mm: tuple[float, float, float] | None = None,
) -> ImageGeometry:
    """Geometry of a reconstructed volume of ``shape`` ``(t, z, y, x)`` (see the module docstring).

    Parameters
    ----------
    shape
        ``(t, z, y, x)`` of the volume as reconstructed (readout oversampling possibly included).
    header
        ISMRMRD geometry of the k-space file, if any (preferred).
    params
        ``_info.csv`` parameters, if any.
    time_resolved
        The frame axis is the cardiac phase (cine, tagging, aorta, flow): the ``_info.csv`` TR is then
        the frame interval.
    frame_time_scale
        Factor on that frame interval: 10 for UIH files, whose ``_info.csv`` TR is 10x too small (the
        published header fix, reference 13).
    fallback_spacing_mm
        User-given ``(dz, dy, dx)`` [mm] (``reconstruct --spacing``) for the pixel spacing and slice
        thickness that neither source records; they are then not listed as defaulted.
    """
    if len(shape) != 4:
        raise ShapeError(f"volume shape must be (t, z, y, x), got {tuple(shape)}")
    n_t, n_z, n_y, n_x = (int(s) for s in shape)
    defaulted: set[str] = set()
    width: int | None = None
    dx = dy = None
    thick = spacing = None
    centres = orientation = None
    frame_dt = tr = te = None
    tis: tuple[float, ...] | None = None
    patient_position, source = "", "defaults"
    if header is not None:
        source = "ISMRMRD header"
        fx, fy, fz = header.encoded_fov_mm
        dx = fx / n_x if fx > 0 else None
        dy = fy / n_y if fy > 0 else None
        rx = header.recon_fov_mm[0]
        if dx is not None and 0 < rx < fx and 0 < (w := round(rx / dx)) < n_x:
            width = w
        thick = fz if fz > 0 else None
        if header.read_dir is not None and header.phase_dir is not None:
            orientation = (*_unit(header.read_dir), *_unit(header.phase_dir))
            if header.positions_mm is not None and len(header.positions_mm) == n_z:
                centres = np.asarray(header.positions_mm, float)
        tr, te, patient_position = header.tr_s, header.te_s, header.patient_position
    elif params is not None:
        source = "_info.csv"
        mx = params.recon_matrix_x
        if mx and n_x == 2 * mx:
            width = mx
        n_out = width or n_x
        dx = params.fov_x_mm / n_out if params.fov_x_mm else None
        dy = params.fov_y_mm / n_y if params.fov_y_mm else None
        if "slice_thickness_mm" not in params.defaulted:
            thick = params.slice_thickness_mm
            spacing = params.slice_spacing_mm
        if time_resolved:
            frame_dt = params.tr_s * frame_time_scale if params.tr_s else None
            seq_tr = params.extras.get("SequenceTR")
            tr = float(seq_tr) * 1e-3 if isinstance(seq_tr, int | float) else None
        else:
            tr = params.tr_s
        te = params.te_s
        if len(params.ti_list_s) == n_t and n_t > 1:
            tis = tuple(params.ti_list_s)
    if fallback_spacing_mm is not None:
        if dx is None or dy is None:
            dx, dy = dx or fallback_spacing_mm[2], dy or fallback_spacing_mm[1]
        if thick is None:
            thick = fallback_spacing_mm[0]
    if dx is None or dy is None:
        defaulted.add("pixel_spacing")
        dx, dy = dx or DEFAULT_INPLANE_MM, dy or DEFAULT_INPLANE_MM
    if thick is None:
        defaulted.add("slice_thickness")
        thick = DEFAULT_SLICE_THICKNESS_MM
    if orientation is None:
        defaulted.add("orientation")
        orientation = DEFAULT_ORIENTATION
    n_out = width or n_x
    normal = np.cross(_unit(orientation[:3]), _unit(orientation[3:]))
    if centres is not None and n_z > 1:
        along = np.sort(centres @ normal)
        spacing = float(np.median(np.diff(along))) or thick
    spacing = spacing or thick
    if centres is None:
        defaulted.add("position")
        centres = np.outer(np.arange(n_z) - (n_z - 1) / 2.0, normal * spacing)
    if time_resolved and n_t > 1 and not frame_dt:
        defaulted.add("frame_time")
        frame_dt = None
    return ImageGeometry(
        pixel_spacing_mm=(float(dy), float(dx)),
        slice_thickness_mm=float(thick),
        slice_spacing_mm=float(spacing),
        orientation=tuple(float(v) for v in orientation),
        positions_mm=_positions(centres, orientation, n_y, n_out, dy, dx),
        readout_width=width,
        frame_dt_s=frame_dt if time_resolved else None,
        inversion_times_s=tis,
        tr_s=tr,
        te_s=te,
        patient_position=patient_position,
        defaulted=frozenset(defaulted),
        source=source,
    )
