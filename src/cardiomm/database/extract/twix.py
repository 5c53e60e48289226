"""Siemens twix ``.dat`` raw data: metadata from the protocol header (``twixtools``, no data read).

``twixtools.read_twix(path, parse_data=False, verbose=False)`` parses the protocol buffers only.
The last measurement of a multi-RAID file is the imaging scan (earlier ones are adjustments/noise).
Read (allow-list, :data:`~cardiomm.database.phi.TWIX_ALLOWED_KEYS`): ``Dicom.Manufacturer``,
``Dicom.ManufacturersModelName``, ``Dicom.flMagneticFieldStrength`` (or
``sProtConsistencyInfo.flNominalB0``), ``sKSpace`` matrix, ``sSliceArray`` (slices, FOV,
thickness), ``alTR``/``alTE``/``alTI`` [us -> s], T2-prep durations [ms -> s], phases, contrasts,
repetitions, GRAPPA factor and reference lines, receive-coil list (coil count). ``Config.PatientID``
is returned only as the transient original ID and ``tProtocolName`` only as a modality hint.
Names, birth dates, institution, address, serial numbers and study/series UIDs
(:data:`~cardiomm.database.phi.TWIX_SCRUB_KEYS`) are never touched.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cardiomm.database.extract import RawScan
from cardiomm.database.header import nominal_field_t
from cardiomm.database.phi import clean_token, normalise_vendor
from cardiomm.errors import FileFormatError

__all__ = ["extract_twix", "fields_from_twix_header"]


def _get(d: Any, *keys: str | int, default: Any = None) -> Any:
    for k in keys:
        if isinstance(d, Mapping) and k in d:
            d = d[k]
        elif isinstance(d, list | tuple) and isinstance(k, int) and -len(d) <= k < len(d):
            d = d[k]
        else:
            return default
    return d


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def _int(value: Any, default: int | None = None) -> int | None:
    v = _num(value)
    return int(v) if v is not None and v > 0 else default


def fields_from_twix_header(hdr: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, str]:
    """Allow-listed header fields from a parsed twix ``hdr`` dict.

    Returns
    -------
    tuple
        ``(fields, original_patient_id, hint)`` as for the ISMRMRD extractor.
    """
    dicom, yaps, config = hdr.get("Dicom", {}), hdr.get("MeasYaps", {}), hdr.get("Config", {})
    field_t = _num(_get(dicom, "flMagneticFieldStrength"))
    field_t = field_t or _num(_get(yaps, "sProtConsistencyInfo", "flNominalB0"))
    kspace = _get(yaps, "sKSpace", default={})
    slices = _get(yaps, "sSliceArray", default={})
    first = _get(slices, "asSlice", 0, default={})
    nx = _int(_get(kspace, "lBaseResolution"))
    ny = _int(_get(kspace, "lPhaseEncodingLines"))
    n_slices = _int(_get(slices, "lSize"), 1) or 1
    if _int(_get(kspace, "ucDimension")) == 4:  # 3-D encoding: partitions along z
        n_slices *= _int(_get(kspace, "lPartitions"), 1) or 1
    phases = _int(_get(yaps, "sPhysioImaging", "lPhases"), 1) or 1
    contrasts = _int(_get(yaps, "lContrasts"), 1) or 1
    reps = (_int(_get(yaps, "lRepetitions"), 0) or 0) + 1
    coils = _get(yaps, "sCoilSelectMeas", "aRxCoilSelectData", 0, "asList", default=None)
    accel = _int(_get(yaps, "sPat", "lAccelFactPE"), 1) or 1
    acs = _int(_get(yaps, "sPat", "lRefLinesPE"))
    tr = [_num(v) for v in _get(yaps, "alTR", default=[]) or []]
    te = [_num(v) for v in _get(yaps, "alTE", default=[]) or []]
    ti = [_num(v) for v in _get(yaps, "alTI", default=[]) or []]
    prep = [_num(v) for v in _get(yaps, "sPrepPulses", "adT2PrepDuration", default=[]) or []]
    fields: dict[str, Any] = {
        "vendor": normalise_vendor(_get(dicom, "Manufacturer")),
        "scanner": clean_token(_get(dicom, "ManufacturersModelName")),
        "field_t": nominal_field_t(field_t),
        "nx": nx, "ny": ny, "nz": n_slices, "nt": phases * contrasts * reps,
        "nc": len(coils) if isinstance(coils, list) and coils else None,
        "matrix_x": nx, "matrix_y": ny,
        "fov_x_mm": _num(_get(first, "dReadoutFOV")), "fov_y_mm": _num(_get(first, "dPhaseFOV")),
        "slice_thickness_mm": _num(_get(first, "dThickness")),
        "tr_s": tr[0] * 1e-6 if tr and tr[0] else None,
        "te_s": te[0] * 1e-6 if te and te[0] else None,
        "ti_s": tuple(v * 1e-6 for v in ti if v),
        "prep_times_s": tuple(v * 1e-3 for v in prep if v),
        "acceleration": accel,
        "sampling_pattern": "full" if accel == 1 else "parallel",
        "acs_lines": acs if accel > 1 else None,
    }  # fmt: skip
    patient = _get(config, "PatientID")
    patient = str(patient) if patient not in (None, "") else None
    hint = str(_get(yaps, "tProtocolName", default="") or "")
    return fields, patient, hint


def extract_twix(path: Path) -> RawScan:
    """Metadata of a Siemens twix ``.dat`` file (protocol header only).

    twixtools prints progress to stdout; it is captured and discarded (it may echo header text).

    Raises
    ------
    FileFormatError
        Not a twix file, or a damaged header.
    """
    import twixtools  # noqa: PLC0415 - lazy: importing this module loads no twixtools

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            scans = twixtools.read_twix(str(path), parse_data=False, verbose=False)
    except Exception as err:  # twixtools raises assorted types on damaged files
        raise FileFormatError(f"cannot parse as Siemens twix ({type(err).__name__})", path=path) from None
    if not scans or "hdr" not in scans[-1]:
        raise FileFormatError("twix file without a protocol header", path=path)
    fields, patient, hint = fields_from_twix_header(scans[-1]["hdr"])
    fields["source_format"] = "twix-dat"
    return RawScan(fields=fields, original_patient_id=patient, hint=hint, kspace_key="")
