"""DICOM MR image series (magnitude images, no k-space): one catalog row per series.

Files of one folder are read with ``pydicom.dcmread(stop_before_pixels=True, specific_tags=...)``
restricted to :data:`~cardiomm.database.phi.DICOM_ALLOWED_KEYWORDS` and grouped by a keyed hash of
``SeriesInstanceUID`` (the UID itself is never stored). Per series: vendor, model, field strength,
rows/columns (``ny``/``nx``), pixel spacing x matrix = FOV, slice thickness, TR/TE [ms -> s], the
sorted distinct inversion times (e.g. MOLLI), ``nz`` = distinct slice locations and
``nt`` = images / ``nz``. ``SeriesDescription``/``ProtocolName`` are matched against modality
keywords (hint, never stored); without a keyword the modality comes from the series structure
(:func:`structural_hint`: several inversion times -> T1map, several echo times -> T2map, many cardiac
phases -> Cine).
``PatientID`` is hashed by the caller.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cardiomm.database.extract import NotAScanError, RawScan
from cardiomm.database.header import nominal_field_t
from cardiomm.database.phi import DICOM_ALLOWED_KEYWORDS, clean_token, normalise_vendor
from cardiomm.errors import FileFormatError

__all__ = ["extract_dicom_series", "is_dicom_file", "dicom_hint", "structural_hint"]

#: Lower-case keywords of series descriptions -> modality key (checked in order).
_HINTS: tuple[tuple[str, str], ...] = (
    ("molli", "T1map"), ("shmolli", "T1map"), ("t1map", "T1map"), ("t1 map", "T1map"), ("t2map", "T2map"),
    ("t2 map", "T2map"), ("t1rho", "T1rho"), ("psir", "LGE"), ("lge", "LGE"), ("late", "LGE"),
    ("perf", "Perfusion"), ("tag", "Tagging"), ("flow", "Flow2d"), ("aorta", "Aorta"),
    ("dark blood", "BlackBlood"),
    ("blackblood", "BlackBlood"), ("t1w", "T1w"), ("t2w", "T2w"), ("cine", "Cine"), ("ssfp", "Cine"),
    ("trufi", "Cine"), ("sax", "Cine"),
)  # fmt: skip


def is_dicom_file(path: Path) -> bool:
    """True when the file has the ``DICM`` preamble marker (or a DICOM extension)."""
    if path.suffix.lower() in (".dcm", ".ima", ".dicom"):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def dicom_hint(text: str) -> str:
    """Database modality key from a free-text series description (lower-case keywords), or ``""``."""
    low = text.lower()
    return next((mod for key, mod in _HINTS if key in low), "")


#: Fewest cardiac phases (``CardiacNumberOfImages`` or distinct ``TriggerTime``) that make a cine.
MIN_CINE_PHASES = 8
#: Fewest distinct inversion times that make a T1-mapping (MOLLI / ShMOLLI / SASHA-like) series.
MIN_MAPPING_TIS = 4


def structural_hint(items: Sequence[Any]) -> str:
    """Modality key from the structure of a series whose description says nothing: ``T1map`` with at
    least :data:`MIN_MAPPING_TIS` distinct inversion times, ``T2map`` with as many distinct echo times
    (multi-echo T2* / T2; the catalog groups T2* with T2 mapping); ``Cine`` with at least
    :data:`MIN_CINE_PHASES` cardiac phases (a retrospectively gated multi-phase series) and no
    inversion-time variation; else ``""``."""
    tis = {round(v, 1) for v in (_float(getattr(d, "InversionTime", None)) for d in items) if v}
    if len(tis) >= MIN_MAPPING_TIS:
        return "T1map"
    tes = {round(v, 2) for v in (_float(getattr(d, "EchoTime", None)) for d in items) if v}
    if len(tes) >= MIN_MAPPING_TIS:  # multi-echo (T2* / T2): grouped with T2 mapping, as T2smap is
        return "T2map"
    phases = max((int(_float(getattr(d, "CardiacNumberOfImages", None)) or 0) for d in items), default=0)
    trigger_times = (_float(getattr(d, "TriggerTime", None)) for d in items)
    triggers = {round(v, 1) for v in trigger_times if v is not None}
    if max(phases, len(triggers)) >= MIN_CINE_PHASES and len(tis) <= 1:
        return "Cine"
    return ""


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[Callable[..., Any]]:
    """``pydicom.dcmread`` with value validation, warnings and logging off: pydicom's messages quote
    offending values (UIDs, names), which must not reach logs."""
    import pydicom  # noqa: PLC0415 - lazy: importing this module loads no pydicom
    from pydicom import config  # noqa: PLC0415 - lazy: importing this module loads no pydicom

    logger = logging.getLogger("pydicom")
    old_mode, old_disabled = config.settings.reading_validation_mode, logger.disabled
    config.settings.reading_validation_mode = config.IGNORE
    logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield pydicom.dcmread
    finally:
        config.settings.reading_validation_mode = old_mode
        logger.disabled = old_disabled


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def extract_dicom_series(files: Sequence[Path], series_key: Callable[[str], str]) -> list[RawScan]:
    """Metadata of the DICOM series found among ``files`` (one folder), sorted by series key.

    Parameters
    ----------
    files
        DICOM files of one folder.
    series_key
        Keyed hash applied to ``SeriesInstanceUID`` (e.g. :meth:`Pseudonymizer.key` bound to a kind).

    Raises
    ------
    NotAScanError
        No MR image among the files.
    FileFormatError
        Every file failed to parse.
    """
    groups: dict[str, list[Any]] = defaultdict(list)
    errors = 0
    with _quiet_pydicom() as dcmread:
        for f in sorted(files):
            try:
                ds = dcmread(f, stop_before_pixels=True, specific_tags=list(DICOM_ALLOWED_KEYWORDS))
                if str(getattr(ds, "Modality", "MR")) != "MR":
                    continue
                groups[series_key(str(getattr(ds, "SeriesInstanceUID", "")))].append(ds)
            except Exception:
                errors += 1
    if not groups:
        if errors:
            raise FileFormatError(f"{errors} DICOM file(s) could not be parsed", path=files[0].parent)
        raise NotAScanError("no MR DICOM images")
    return [_series(key, groups[key]) for key in sorted(groups)]


def _series(key: str, items: list[Any]) -> RawScan:
    first = items[0]
    rows, cols = int(getattr(first, "Rows", 0) or 0), int(getattr(first, "Columns", 0) or 0)
    slice_locations = (_float(getattr(d, "SliceLocation", None)) for d in items)
    locations = {round(v, 2) for v in slice_locations if v is not None}
    n_images = sum(int(getattr(d, "NumberOfFrames", 1) or 1) for d in items)
    nz = max(len(locations), 1)
    spacing = [_float(v) for v in (getattr(first, "PixelSpacing", None) or [])]
    tis = sorted({v * 1e-3 for v in (_float(getattr(d, "InversionTime", None)) for d in items) if v})
    tr, te = _float(getattr(first, "RepetitionTime", None)), _float(getattr(first, "EchoTime", None))
    fields: dict[str, Any] = {
        "vendor": normalise_vendor(getattr(first, "Manufacturer", None)),
        "scanner": clean_token(getattr(first, "ManufacturerModelName", None)),
        "field_t": nominal_field_t(_float(getattr(first, "MagneticFieldStrength", None))),
        "nx": cols or None, "ny": rows or None, "nz": nz, "nt": max(n_images // nz, 1), "nc": None,
        "matrix_x": cols or None, "matrix_y": rows or None,
        "fov_x_mm": cols * spacing[1] if len(spacing) == 2 and spacing[1] else None,
        "fov_y_mm": rows * spacing[0] if len(spacing) == 2 and spacing[0] else None,
        "slice_thickness_mm": _float(getattr(first, "SliceThickness", None)),
        "tr_s": tr * 1e-3 if tr else None, "te_s": te * 1e-3 if te else None, "ti_s": tuple(tis),
        "source_format": "dicom",
    }  # fmt: skip
    text = " ".join(str(getattr(first, k, "") or "") for k in ("SeriesDescription", "ProtocolName"))
    mod = dicom_hint(text) or structural_hint(items)
    if mod:
        fields["modality"] = mod
    patient = str(getattr(first, "PatientID", "") or "") or None
    return RawScan(fields=fields, original_patient_id=patient, hint=text, series_key=key, has_kspace=False)
