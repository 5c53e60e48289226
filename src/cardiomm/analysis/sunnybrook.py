"""Reader for Sunnybrook Cardiac Data cases (DICOM cine + manual LV contours), for validation.

Layout (Radau et al., MIDAS J 2009; CC0): ``<dicom_dir>/<N>.dcm`` with ``slice = (N-1) // n_phases``
and ``phase = (N-1) % n_phases``; ``<contour_dir>/{i,o}-contours/IM-0001-<NNNN>-{i,o}contour-manual.txt``
with ``NNNN = N``: i = LV endocardium (at ED and ES), o = epicardium (at ED). The ED phase is the one
with epicardial contours; ES is the other endocardial phase.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cardiomm.analysis.contours import (
    ContourVolumes,
    rasterise_polygon,
    read_contour_file,
    slice_spacing_from_positions,
    volumes_from_contours,
)
from cardiomm.analysis.labels import LV, MYO
from cardiomm.errors import FileFormatError, InputFileError

__all__ = ["SunnybrookCase", "load_sunnybrook_case"]

_CONTOUR_RE = re.compile(r"IM-0001-(\d+)-([io])contour-manual\.txt$")


@dataclass(frozen=True)
class SunnybrookCase:
    """One Sunnybrook case.

    Attributes
    ----------
    image
        ``(t, z, y, x)`` float32 magnitude (zeros for frames without a DICOM file).
    present
        ``(t, z)`` True where a DICOM file was read.
    spacing_mm
        ``(dz, dy, dx)`` [mm], ``dz`` from ImagePositionPatient.
    frame_dt_s
        NominalInterval / n_phases [s], or None if absent.
    endo, epi
        ``{(phase, slice): (k, 2) (x, y) polygon}``.
    ed_phase, es_phase
        End-diastolic / end-systolic phase indices.
    """

    image: NDArray[np.float32]
    present: NDArray[np.bool_]
    spacing_mm: tuple[float, float, float]
    frame_dt_s: float | None
    endo: dict[tuple[int, int], NDArray[np.float64]]
    epi: dict[tuple[int, int], NDArray[np.float64]]
    ed_phase: int
    es_phase: int

    def volumes(self) -> ContourVolumes:
        """EDV, ESV, EF, LVM from the manual contours (Simpson)."""
        pick = lambda d, ph: [p for (t, _), p in sorted(d.items()) if t == ph]  # noqa: E731
        return volumes_from_contours(
            pick(self.endo, self.ed_phase),
            pick(self.endo, self.es_phase),
            pick(self.epi, self.ed_phase),
            self.spacing_mm[1:],
            self.spacing_mm[0],
        )

    def contour_labels(self, phase: int) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
        """Rasterised manual labels ``(z, y, x)`` (LV = 1, MYO = 2 where an epicardium exists) of a phase.

        Returns the labels and a ``(z,)`` mask of slices with an endocardial contour.
        """
        nz, ny, nx = self.image.shape[1:]
        lab = np.zeros((nz, ny, nx), dtype=np.uint8)
        has = np.zeros(nz, dtype=bool)
        for (t, z), poly in self.epi.items():
            if t == phase:
                lab[z][rasterise_polygon(poly, (ny, nx))] = MYO
        for (t, z), poly in self.endo.items():
            if t == phase:
                lab[z][rasterise_polygon(poly, (ny, nx))] = LV
                has[z] = True
        return lab, has


def load_sunnybrook_case(
    dicom_dir: str | os.PathLike[str], contour_dir: str | os.PathLike[str], *, n_phases: int = 20
) -> SunnybrookCase:
    """Read a Sunnybrook case: DICOM cine stack plus manual contours (see the module docstring)."""
    import pydicom  # noqa: PLC0415 - lazy: importing this module loads no pydicom

    ddir, cdir = Path(dicom_dir), Path(contour_dir)
    files = sorted(ddir.glob("*.dcm"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)
    files = [f for f in files if f.stem.isdigit()]
    if not files:
        raise InputFileError("no <N>.dcm files found", path=ddir)
    numbers = [int(f.stem) for f in files]
    nz = (max(numbers) - 1) // n_phases + 1
    headers, pixels = {}, {}
    for f, n in zip(files, numbers, strict=True):
        try:
            ds = pydicom.dcmread(f)
            pixels[n] = ds.pixel_array.astype(np.float32)
        except Exception as err:  # pydicom raises many types for bad files
            raise FileFormatError(f"cannot read DICOM ({err})", path=f) from None
        headers[n] = ds
    first = headers[numbers[0]]
    ny, nx = pixels[numbers[0]].shape
    image = np.zeros((n_phases, nz, ny, nx), dtype=np.float32)
    present = np.zeros((n_phases, nz), dtype=bool)
    positions = {}
    for n, px in pixels.items():
        t, z = (n - 1) % n_phases, (n - 1) // n_phases
        image[t, z], present[t, z] = px, True
        positions[z] = [float(v) for v in headers[n].ImagePositionPatient]
    orientation = [float(v) for v in first.ImageOrientationPatient]
    dz = slice_spacing_from_positions(list(positions.values()), orientation)
    dy, dx = (float(v) for v in first.PixelSpacing)
    interval = getattr(first, "NominalInterval", None)
    frame_dt = float(interval) / 1000.0 / n_phases if interval else None
    endo: dict[tuple[int, int], NDArray[np.float64]] = {}
    epi: dict[tuple[int, int], NDArray[np.float64]] = {}
    for f in sorted(cdir.glob("*-contours/*.txt")):
        m = _CONTOUR_RE.search(f.name)
        if m is None:
            continue
        n = int(m.group(1))
        key = ((n - 1) % n_phases, (n - 1) // n_phases)
        (endo if m.group(2) == "i" else epi)[key] = read_contour_file(f)
    if not endo or not epi:
        raise InputFileError("no i-contours or o-contours found", path=cdir)
    epi_phases = [t for t, _ in epi]
    ed = max(set(epi_phases), key=epi_phases.count)
    others = [t for t, _ in endo if t != ed]
    es = max(set(others), key=others.count) if others else ed
    return SunnybrookCase(
        image=image,
        present=present,
        spacing_mm=(dz, dy, dx),
        frame_dt_s=frame_dt,
        endo=endo,
        epi=epi,
        ed_phase=ed,
        es_phase=es,
    )
