"""Typed, PHI-free metadata of one scan: :class:`CardiacHeader`.

Every field has a unit (``[unit]`` in its description) and an explicit unknown value: ``UNKNOWN``
(``"unknown"``) for text fields, ``None`` for numbers and ``()`` for lists. Only the fields below ever
leave an extractor (allow-list, see :mod:`cardiomm.database.phi`); the header maps one to one onto a
row of the Parquet catalog (:meth:`CardiacHeader.to_record` / :meth:`CardiacHeader.from_record`).

Prompt text is produced from the header by :mod:`cardiomm.text.prompts` (imported lazily: the text
package itself imports this module), so text conditioning and metadata cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from cardiomm.errors import DataValueError
from cardiomm.types import UNKNOWN, Modality

__all__ = [
    "UNKNOWN",
    "CardiacHeader",
    "Disease",
    "Lifespan",
    "SourceFormat",
    "HEADER_FIELDS",
    "nominal_field_t",
]


class Disease(StrEnum):
    """Cardiovascular-disease categories of MMCMR-427K (abbreviations as printed), plus NC and unknown."""

    CAD = "CAD"
    HCM = "HCM"
    DCM = "DCM"
    RCM = "RCM"
    UCM = "UCM"
    MC = "MC"
    MI = "MI"
    PC = "PC"
    HHD = "HHD"
    PAH = "PAH"
    ARR = "ARR"
    HF = "HF"
    HVD = "HVD"
    CHD = "CHD"
    CBN = "CBN"
    CMN = "CMN"
    CAM = "CAM"
    NC = "NC"
    UNKNOWN = UNKNOWN

    @property
    def description(self) -> str:
        """Expansion where published (``medcon_mapping``), else the abbreviation itself."""
        return _DISEASE_TEXT.get(self, self.value)


_DISEASE_TEXT = {
    Disease.NC: "normal control",
    Disease.HCM: "hypertrophic cardiomyopathy",
    Disease.MI: "myocardial infarction",
    Disease.DCM: "dilated cardiomyopathy",
    Disease.CAD: "coronary artery disease",
    Disease.CHD: "congenital heart disease",
    Disease.ARR: "arrhythmia",
}


class Lifespan(StrEnum):
    """Lifespan group as used in the metadata prompt."""

    ADULT = "Adult"
    PEDIATRIC = "Pediatric"
    FETAL = "Fetal"
    UNKNOWN = UNKNOWN


class SourceFormat(StrEnum):
    """Raw-data source formats the catalog understands."""

    CMRXRECON = "cmrxrecon-mat"
    ISMRMRD = "ismrmrd-h5"
    FASTMRI = "fastmri-h5"
    TWIX = "twix-dat"
    DICOM = "dicom"
    UNKNOWN = UNKNOWN


_LIST_FIELDS = ("ti_s", "prep_times_s")


@dataclass(frozen=True)
class CardiacHeader:
    """PHI-free metadata of one scan (one k-space file, or one DICOM series).

    Attributes
    ----------
    center
        Acquisition center, e.g. ``Center001`` (from the path; never an institution name).
    vendor
        Scanner vendor, normalised (``Siemens``, ``GE``, ``Philips``, ``UIH``, ...).
    field_t
        Main field strength [T], e.g. 3.0; ``None`` when unknown.
    scanner
        Scanner model, e.g. ``Vida``.
    modality
        One of the 12 :class:`~cardiomm.types.Modality` keys (``Cine``, ``T1map``, ...) or ``unknown``.
    subtype
        Sub-type token of the modality, e.g. ``sax``, ``lax``, ``lvot``, ``2ch``, ``sag``, ``inplane``.
    view
        View string as used in the prompt, e.g. ``short-axis``.
    lifespan
        :class:`Lifespan` value.
    disease
        :class:`Disease` value (17 CVD codes, ``NC`` or ``unknown``).
    population
        Population / region, e.g. ``Asian``, ``European``, ``North American``.
    patient_id
        Pseudonymous patient ID: keyed hash (HMAC-SHA256, secret salt) of center + original ID.
    scan_id
        Pseudonymous scan ID: keyed hash of the source path.
    nx, ny, nc, nz, nt
        Readout, phase-encode, coil, slice and frame (time/contrast) counts.
    fov_x_mm, fov_y_mm
        Field of view along readout / phase encode [mm].
    matrix_x, matrix_y
        Reconstruction matrix along readout / phase encode.
    slice_thickness_mm
        Slice thickness [mm].
    tr_s, te_s
        Repetition / echo time [s].
    ti_s
        Inversion times [s] (empty when none).
    prep_times_s
        Other preparation times [s] (T2-prep durations, saturation delays...).
    source_format
        :class:`SourceFormat` value.
    file_size
        Size of the source [bytes] (sum over files for a DICOM series).
    sha256
        SHA-256 of the source file bytes (for a DICOM series: of the sorted per-file digests).
    sampling_pattern
        ``full`` for fully sampled data, a mask pattern (``Uniform``, ``ktGaussian``, ``ktRadial``,
        ``ktUniform``, ``parallel``) for undersampled data, else ``unknown``.
    acceleration
        Nominal acceleration factor R (1 for fully sampled data).
    acs_lines
        Number of autocalibration lines, when known.
    """

    center: str = UNKNOWN
    vendor: str = UNKNOWN
    field_t: float | None = None
    scanner: str = UNKNOWN
    modality: str = UNKNOWN
    subtype: str = UNKNOWN
    view: str = UNKNOWN
    lifespan: str = Lifespan.UNKNOWN.value
    disease: str = Disease.UNKNOWN.value
    population: str = UNKNOWN
    patient_id: str = UNKNOWN
    scan_id: str = UNKNOWN
    nx: int | None = None
    ny: int | None = None
    nc: int | None = None
    nz: int | None = None
    nt: int | None = None
    fov_x_mm: float | None = None
    fov_y_mm: float | None = None
    matrix_x: int | None = None
    matrix_y: int | None = None
    slice_thickness_mm: float | None = None
    tr_s: float | None = None
    te_s: float | None = None
    ti_s: tuple[float, ...] = field(default_factory=tuple)
    prep_times_s: tuple[float, ...] = field(default_factory=tuple)
    source_format: str = SourceFormat.UNKNOWN.value
    file_size: int | None = None
    sha256: str | None = None
    sampling_pattern: str = UNKNOWN
    acceleration: int | None = None
    acs_lines: int | None = None

    # ------------------------------------------------------------------------------------ derived
    @property
    def n_frames(self) -> int | None:
        """Number of 2-D frames ``nt * nz`` (``None`` when either is unknown)."""
        if self.nt is None or self.nz is None:
            return None
        return self.nt * self.nz

    @property
    def field_str(self) -> str:
        """Field strength as printed in prompts, e.g. ``3.0T`` (:func:`cardiomm.text.format_field`)."""
        from cardiomm.text.prompts import format_field  # noqa: PLC0415 - lazy: cardiomm.text may import this module

        return UNKNOWN if self.field_t is None else format_field(self.field_t)

    @property
    def modality_enum(self) -> Modality | None:
        """The modality as :class:`~cardiomm.types.Modality`, or ``None`` when unknown."""
        try:
            return Modality(self.modality)
        except ValueError:
            return None

    @property
    def is_undersampled(self) -> bool:
        """True when the data carry an undersampling pattern other than ``full``."""
        return self.sampling_pattern not in (UNKNOWN, "full") and (self.acceleration or 0) > 1

    # ------------------------------------------------------------------------------------ prompts
    def metadata_prompt(self) -> str:
        """Metadata prompt text, built by :func:`cardiomm.text.prompts.metadata_prompt`, e.g.
        ``Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis.``

        The database modality key is mapped to its prompt string by the text package (``Aorta`` ->
        ``cine``); center and disease are not part of the prompt (as published).
        """
        from cardiomm.text import prompts  # noqa: PLC0415 - lazy: cardiomm.text may import this module

        modality: Modality | str = self.modality_enum or self.modality
        return str(
            prompts.metadata_prompt(
                lifespan=self.lifespan,
                field=self.field_str,
                vendor=self.vendor,
                scanner=self.scanner,
                modality=modality,
                view=self.view,
            )  # fmt: skip
        )

    def undersampling_prompt(self) -> str:
        """Undersampling prompt text, by :func:`cardiomm.text.prompts.undersampling_prompt`.

        Raises
        ------
        cardiomm.errors.DataValueError
            The header carries no undersampling pattern or acceleration.
        cardiomm.errors.UnknownChoiceError
            A pattern without prompt family (e.g. ``parallel``).
        """
        from cardiomm.text import prompts  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

        if not self.is_undersampled:
            msg = f"scan {self.scan_id} has no undersampling pattern ({self.sampling_pattern})"
            raise DataValueError(msg)
        return str(prompts.undersampling_prompt(int(self.acceleration or 0), self.sampling_pattern))

    # ------------------------------------------------------------------------------------ records
    def to_record(self) -> dict[str, Any]:
        """Flat ``dict`` of all fields (lists for the tuple fields), one catalog row."""
        rec = {f.name: getattr(self, f.name) for f in fields(self)}  # fields are flat: no deep copy
        for name in _LIST_FIELDS:
            rec[name] = [float(v) for v in rec[name]]
        return rec

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CardiacHeader:
        """Build a header from a catalog row; extra keys are ignored, NaN and NA become unknown."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in record:
                continue
            value = _clean(record[f.name])
            if f.name in _LIST_FIELDS:
                kwargs[f.name] = tuple(float(v) for v in (value if value is not None else ()))
            elif value is None:
                kwargs[f.name] = None if f.default is None else f.default
            elif f.type in ("int | None",):
                kwargs[f.name] = int(value)
            elif f.type in ("float | None",):
                kwargs[f.name] = float(value)
            else:
                kwargs[f.name] = str(value)
        return cls(**kwargs)


#: Names of the header fields, in declaration order (the catalog's metadata columns).
HEADER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CardiacHeader))


#: Nominal field strengths [T] that measured values snap to.
NOMINAL_FIELDS_T: tuple[float, ...] = (0.35, 0.55, 1.0, 1.5, 3.0, 5.0, 7.0, 9.4)


def nominal_field_t(value: float | None) -> float | None:
    """Snap a measured field strength [T] (e.g. 2.89362, 1.494) to the nearest nominal value.

    Values within 10 % of a nominal field snap to it; others are rounded to two decimals. Values
    that are not positive (or ``None``) give ``None``. A value above 100 is taken to be in mT.
    """
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    if value > 100:
        value = value / 1000.0
    best = min(NOMINAL_FIELDS_T, key=lambda f: abs(f - value) / f)
    return best if abs(best - value) <= 0.1 * best else round(value, 2)


def _clean(value: Any) -> Any:
    """Map pandas/numpy missing values to ``None`` and numpy scalars/arrays to Python objects."""
    if value is None:
        return None
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value
