"""Metadata extractors, one module per source format, and the merge into a :class:`CardiacHeader`.

Every extractor reads headers and shapes only (never the k-space samples) and returns
:class:`RawScan` records whose ``fields`` may only name :data:`~cardiomm.database.header.HEADER_FIELDS`
(the allow-list is enforced by :func:`merge_scan`). The original patient ID travels separately
(``original_patient_id``, excluded from ``repr``) and is replaced by a keyed hash in :func:`merge_scan`.

================  ==========================================  =========================================
format            module                                      what is read
================  ==========================================  =========================================
CMRxRecon .mat    :mod:`~cardiomm.database.extract.mat`       variable shapes (no data), ``_info.csv``
ISMRMRD .h5       :mod:`~cardiomm.database.extract.ismrmrd`   XML header (``ismrmrd`` package)
fastMRI .h5       :mod:`~cardiomm.database.extract.fastmri`   ``kspace`` shape, attrs, ``ismrmrd_header``
Siemens twix      :mod:`~cardiomm.database.extract.twix`      protocol header (``twixtools``, no data)
DICOM series      :mod:`~cardiomm.database.extract.dicom`     allow-listed tags, no pixel data
================  ==========================================  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardiomm.database.header import HEADER_FIELDS, CardiacHeader
from cardiomm.database.paths import modality_from_name, parse_path
from cardiomm.database.phi import Pseudonymizer, screen_value
from cardiomm.errors import PHIError, UnknownChoiceError
from cardiomm.types import UNKNOWN

__all__ = ["RawScan", "NotAScanError", "merge_scan", "extract_file", "dims_from_shape"]


class NotAScanError(Exception):
    """The file is readable but holds no scan (a reconstruction, a training shard, a mask...)."""


@dataclass(frozen=True)
class RawScan:
    """What an extractor found in one source (before path rules and pseudonymisation).

    Attributes
    ----------
    fields
        Header field name -> value; names must be in the header allow-list.
    original_patient_id
        Patient ID read from the source header (PHI): only ever used through a keyed hash.
    hint
        Free text (series description, protocol name) matched against modality keywords, never stored.
    series_key
        Distinguishes several scans in one source (DICOM series); empty for single-scan files.
    has_kspace
        True when the source holds raw k-space (DICOM: False).
    kspace_key
        Variable/dataset holding the k-space (``.mat`` key) or empty.
    """

    fields: dict[str, Any]
    original_patient_id: str | None = field(default=None, repr=False)
    hint: str = field(default="", repr=False)
    series_key: str = ""
    has_kspace: bool = True
    kspace_key: str = ""


def dims_from_shape(shape: tuple[int, ...], *, coil_axis: bool = True) -> dict[str, int]:
    """``nt, nz, nc, ny, nx`` from an h5py-order shape ``(t, z, c, ky, kx)`` missing leading axes.

    With ``coil_axis=False`` (single-coil variables, MATLAB ``[nx, ny, nz, nt]``) ``nc = 1``.
    """
    dims = list(shape)
    if not coil_axis:
        dims = dims[:-2] + [1] + dims[-2:]
    dims = [1] * (5 - len(dims)) + dims
    nt, nz, nc, ny, nx = (int(d) for d in dims[-5:])
    return {"nt": nt, "nz": nz, "nc": nc, "ny": ny, "nx": nx}


def _prompt_view(relpath: str, hint: str) -> str:
    """View string of the published keyword rules (:func:`cardiomm.text.modality_view_from_name`)
    applied to the path, then to the hint; unknown when no keyword matches."""
    from cardiomm.text.prompts import modality_view_from_name  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    for text in (relpath, hint):
        if text:
            try:
                _, view = modality_view_from_name(text)
            except UnknownChoiceError:
                continue
            if view != UNKNOWN:
                return str(view)
    return UNKNOWN


def merge_scan(raw: RawScan, relpath: str, pseudo: Pseudonymizer, *, source_key: str) -> CardiacHeader:
    """Combine path rules, extracted fields and pseudonyms into a PHI-free header.

    Path rules win for center, patient, modality, disease, lifespan and sampling; for vendor, field
    and model the ``<Vendor>_<Field>_<Model>`` folder wins when the MMCMR layout matched, else the
    source header is used. Extracted text values that look identifying
    (:func:`~cardiomm.database.phi.screen_value`) become ``unknown``.

    Raises
    ------
    PHIError
        An extractor returned a field outside the header allow-list.
    """
    extra = set(raw.fields) - set(HEADER_FIELDS)
    if extra:
        raise PHIError(f"extractor returned non-allow-listed fields {sorted(extra)}", path=relpath)
    info = parse_path(relpath)
    values: dict[str, Any] = {k: v for k, v in raw.fields.items() if v is not None and v != UNKNOWN}
    for key, value in values.items():  # second line of defence behind clean_token
        if isinstance(value, str):
            values[key] = screen_value(value, f"{key} value")
    from_path: dict[str, object] = {
        "center": info.center, "modality": info.modality, "subtype": info.subtype, "disease": info.disease,
        "lifespan": info.lifespan,
    }  # fmt: skip
    if info.mmcmr_layout:
        from_path.update(vendor=info.vendor, field_t=info.field_t, scanner=info.scanner)
    if info.sampling_pattern != UNKNOWN:
        from_path.update(sampling_pattern=info.sampling_pattern, acceleration=info.acceleration)
    for key, value in from_path.items():
        if value is not None and value != UNKNOWN:
            values[key] = value
    if raw.hint:  # free text is matched against keywords, never stored
        hint_modality, hint_subtype = modality_from_name(raw.hint)
        if values.get("modality", UNKNOWN) == UNKNOWN:
            values["modality"] = hint_modality
        if values.get("subtype", UNKNOWN) == UNKNOWN:
            values["subtype"] = hint_subtype
    center = str(values.get("center", UNKNOWN))
    if info.patient != UNKNOWN:
        original = info.patient
    elif raw.original_patient_id:
        original = raw.original_patient_id
    else:  # no patient information: the scan's folder stands for its patient
        original = "folder:" + str(Path(relpath).parent)
    values["patient_id"] = pseudo.patient_id(center, original)
    values["scan_id"] = pseudo.scan_id(source_key)
    values["view"] = _prompt_view(relpath, raw.hint)
    for name in ("ti_s", "prep_times_s"):
        if name in values:
            values[name] = tuple(float(x) for x in values[name])
    return CardiacHeader(**{k: v for k, v in values.items() if k in HEADER_FIELDS})


def extract_file(path: Path, fmt: str) -> list[RawScan]:
    """Dispatch a single file to its extractor (``fmt``: ``mat``, ``h5``, ``dat``).

    Raises
    ------
    NotAScanError
        The file holds no scan.
    cardiomm.errors.CardiommError
        Unreadable or corrupt file.
    """
    if fmt == "mat":
        from cardiomm.database.extract.mat import extract_mat  # noqa: PLC0415 - import cycle: database.extract -> database.extract.mat -> database.extract

        return [extract_mat(path)]
    if fmt == "h5":
        from cardiomm.database.extract.fastmri import extract_h5  # noqa: PLC0415 - import cycle: database.extract -> database.extract.fastmri -> database.extract

        return [extract_h5(path)]
    if fmt == "dat":
        from cardiomm.database.extract.twix import extract_twix  # noqa: PLC0415 - import cycle: database.extract -> database.extract.twix -> database.extract

        return [extract_twix(path)]
    raise NotAScanError(f"unsupported file type {fmt!r}")
