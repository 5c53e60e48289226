"""MMCMR-427K / CMRxRecon path rules -> header fields (reference section 4.1, 4.2).

Path components are counted from the end, the file name being -1::

    .../<Modality>/<Set>/FullSample/Center001/Siemens_30T_Vida/P001/cine_sax.mat
                                    -4        -3               -2   -1

- ``center``: component -4 when component -3 is a ``<Vendor>_<Field>_<Model>`` folder and -2 a
  ``PXXX`` folder (the published layout); otherwise any ``CenterXXX`` component; else unknown.
- ``vendor``, ``field_t``, ``scanner``: component -3 split on ``_`` (model may contain ``_``); field
  tokens ``15T -> 1.5``, ``30T -> 3.0``, ``50T -> 5.0``, ``055T -> 0.55`` (a leading ``0`` means
  "0.", otherwise the last digit is the decimal).
- ``modality`` (one of the 12 database modalities) and ``subtype``: the top-level modality folder
  when present (``Mapping`` is split into T1map/T2map by the file name), else the first modality
  keyword of the file name; sub-type = first view token of the file name (``sax``, ``lax``,
  ``lvot``, ``2ch``, ``sag``, ``inplane``...). The prompt strings (``cine``, ``short-axis``) come from
  the text package's published keyword rules (case-sensitive, first keyword in the path).
- ``patient``: the ``PXXX`` folder (an original ID: it is pseudonymised before it is stored).
- ``disease``: a path token equal to one of the 17 CVD codes (or ``NC``), case-sensitive; fallback
  ``NC`` for the normal-control centers Center014/Center015, else unknown.
- ``lifespan``: the published rule (:func:`cardiomm.text.prompts.lifespan_from_name`: first of
  ``Adult``/``Pediatric``/``Fetal`` in the path, default ``Adult``). Center010/Center012 are described as
  pediatric in the published analysis, but their paths carry no ``Pediatric`` token, so the published
  prompt says ``Adult`` for them and so does this one (what published weights were trained with); the
  analysis excludes those centers by name (:data:`cardiomm.analysis.cine_tree.PAPER_EXCLUSIONS`).
- Mask files ``<name>_mask_<Pattern><R>.mat`` (folders ``Mask_Task*``) and undersampled files
  ``<name>_kus_<Pattern><R>.mat`` give the sampling pattern and R.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from cardiomm.database.header import Disease, Lifespan
from cardiomm.errors import UnknownChoiceError
from cardiomm.layout import SET_FOLDERS
from cardiomm.types import UNKNOWN, Modality

__all__ = [
    "PathInfo",
    "parse_path",
    "parse_vendor_folder",
    "field_token_to_tesla",
    "parse_sampling_name",
    "is_mask_path",
    "path_parts",
    "is_sidecar_path",
    "modality_from_name",
    "SET_FOLDERS",
]


_VENDOR_RE = re.compile(r"^(?P<vendor>[A-Za-z][A-Za-z0-9]*)_(?P<field>\d+)T_(?P<model>.+)$")
_PATIENT_RE = re.compile(r"^P\d+$")
_CENTER_RE = re.compile(r"^Center\d+$")
_SAMPLING_RE = re.compile(r"^(?P<stem>.+)_(?P<kind>mask|kus)_(?P<pattern>[A-Za-z]+?)(?P<accel>\d+)$")
_FIELD_RE = re.compile(r"^(?P<digits>\d+)T?$")

#: Top-level folder -> database modality (``Mapping`` is resolved from the file name).
_FOLDERS: dict[str, Modality | None] = {m.folder: m for m in Modality if m.folder != "Mapping"}
_FOLDERS["Mapping"] = None

#: File-name keyword -> database modality, checked in this order (case-sensitive; ``T1mappost``
#: and ``T2smap`` are grouped with T1/T2 mapping).
_NAME_KEYWORDS: tuple[tuple[str, Modality], ...] = (
    ("cine", Modality.CINE), ("T1map", Modality.T1MAP), ("T1rho", Modality.T1RHO), ("T2map", Modality.T2MAP),
    ("T2smap", Modality.T2MAP), ("aorta", Modality.AORTA), ("tagging", Modality.TAGGING),
    ("flow2d", Modality.FLOW2D), ("perfusion", Modality.PERFUSION), ("lge", Modality.LGE),
    ("LGE", Modality.LGE), ("blackblood", Modality.BLACKBLOOD), ("T1w", Modality.T1W), ("T2w", Modality.T2W),
)  # fmt: skip

#: View / sub-type tokens of file names, longest first so that ``lvot`` wins over ``ot``.
_SUBTYPES: tuple[str, ...] = (
    "throughplane", "inplane", "through", "lvot", "2ch", "3ch", "4ch", "sax", "lax", "sag", "tra", "ot",
)  # fmt: skip

_NORMAL_CONTROL_CENTERS = ("Center014", "Center015")


@dataclass(frozen=True)
class PathInfo:
    """Header fields derived from a path (``UNKNOWN`` / ``None`` where the path says nothing).

    Attributes
    ----------
    center, vendor, field_t, scanner
        Site and scanner; ``field_t`` [T].
    patient
        Original patient folder (``PXXX``); pseudonymise before storing.
    modality, subtype
        Database modality key and sub-type token.
    disease, lifespan
        :class:`~cardiomm.database.header.Disease` / ``Lifespan`` values.
    data_set
        ``TrainingSet``, ``TestSet``... or unknown.
    stem
        File name without extension and without a ``_mask_<P><R>`` / ``_kus_<P><R>`` suffix.
    sampling_pattern, acceleration
        From a ``_mask_`` / ``_kus_`` file name, else unknown / ``None``.
    mmcmr_layout
        True when the ``Center/Vendor_Field_Model/PXXX`` layout matched.
    """

    center: str = UNKNOWN
    vendor: str = UNKNOWN
    field_t: float | None = None
    scanner: str = UNKNOWN
    patient: str = UNKNOWN
    modality: str = UNKNOWN
    subtype: str = UNKNOWN
    disease: str = Disease.UNKNOWN.value
    lifespan: str = Lifespan.ADULT.value
    data_set: str = UNKNOWN
    stem: str = ""
    sampling_pattern: str = UNKNOWN
    acceleration: int | None = None
    mmcmr_layout: bool = False


def field_token_to_tesla(token: str) -> float | None:
    """``"30T"`` -> 3.0, ``"15T"`` -> 1.5, ``"055T"`` -> 0.55, ``"50T"`` -> 5.0; ``None`` if not a token."""
    m = _FIELD_RE.match(token)
    if not m:
        return None
    digits = m.group("digits")
    if digits.startswith("0"):
        return float("0." + digits[1:]) if len(digits) > 1 else None
    return float(digits) if len(digits) == 1 else float(f"{digits[:-1]}.{digits[-1]}")


def parse_vendor_folder(name: str) -> tuple[str, float | None, str] | None:
    """Split ``<Vendor>_<Field>_<Model>`` (e.g. ``Siemens_055T_Freemax``); ``None`` if not such a folder.

    The published three-part split is :func:`cardiomm.text.prompts.scanner_from_dirname` (its field
    string, e.g. ``0.55T``, becomes a float); a model containing ``_`` (not handled by the published
    rule) is kept whole.
    """
    from cardiomm.text.prompts import scanner_from_dirname  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    m = _VENDOR_RE.match(name)
    if not m:
        return None
    try:
        vendor, field, model = scanner_from_dirname(name)
    except UnknownChoiceError:  # model with "_"
        vendor, field, model = m.group("vendor"), m.group("field") + "T", m.group("model")
    if field == m.group("field") + "T":  # token outside the published table: generic rule
        return vendor, field_token_to_tesla(m.group("field")), model
    return vendor, float(field.rstrip("T")), model


def parse_sampling_name(stem: str) -> tuple[str, str, int] | None:
    """``cine_sax_mask_ktGaussian16`` -> ``("cine_sax", "ktGaussian", 16)`` (also ``_kus_``), else ``None``.

    Any letter token is kept (the catalog records masks of patterns cardiomm cannot generate too);
    the known tokens, their mask families and the strict reading used for reconstruction live in
    :mod:`cardiomm.sampling.registry` (:func:`~cardiomm.sampling.parse_mask_filename`).
    """
    m = _SAMPLING_RE.match(stem)
    if not m:
        return None
    return m.group("stem"), m.group("pattern"), int(m.group("accel"))


def name_sampling(name: str) -> tuple[str, str, int | None]:
    """``(scan stem, sampling pattern, acceleration)`` of a file name (the last path component):
    ``cine_sax_mask_ktGaussian16.mat`` -> ``("cine_sax", "ktGaussian", 16)``, ``cine_sax.mat`` ->
    ``("cine_sax", "unknown", None)``. The part of :func:`parse_path` that mask linking needs."""
    stem = _stem(name)
    samp = parse_sampling_name(stem)
    return (stem, UNKNOWN, None) if samp is None else samp


def _stem(name: str) -> str:
    for ext in (".nii.gz", ".mat", ".h5", ".dat", ".csv", ".dcm"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return PurePosixPath(name).stem


def path_parts(relpath: str) -> list[str]:
    """The components of a ``/``-separated relative path (as ``PurePosixPath(relpath).parts``, faster:
    discovery asks this for every file of a tree)."""
    return [p for p in relpath.split("/") if p and p != "."]


def is_mask_path(relpath: str) -> bool:
    """True for sampling-mask files (``..._mask_<P><R>.mat`` or inside a ``Mask_*`` folder)."""
    folder, _, name = relpath.rpartition("/")
    if "/Mask_" in "/" + folder:  # a folder whose name starts with Mask_
        return True
    stem = _stem(name)
    return "_mask_" in stem or stem.endswith("_mask")


def is_sidecar_path(relpath: str) -> bool:
    """True for files that describe a scan but are not one (``_gt.h5``, ``_info.csv``, GTSOS...)."""
    parts = path_parts(relpath)
    name = parts[-1] if parts else ""
    return name.endswith(("_gt.h5", "_info.csv", "_sos.nii.gz")) or any(
        p in ("GTSOS", "ImgSnapshot") or p.startswith("GroundTruth") for p in parts[:-1]
    )


def modality_from_name(text: str) -> tuple[str, str]:
    """Database modality key and sub-type from a file name or free-text hint (case-sensitive).

    Returns ``(UNKNOWN, UNKNOWN)`` when no keyword matches. Used for series descriptions and
    protocol names too; those texts are matched, never stored.
    """
    modality = UNKNOWN
    for keyword, mod in _NAME_KEYWORDS:
        if keyword in text:
            modality = mod.value
            break
    return modality, _subtype(text)


def _subtype(text: str) -> str:
    tokens = re.split(r"[^A-Za-z0-9]+", text)
    for sub in _SUBTYPES:
        if sub in tokens:
            return sub
    for sub in _SUBTYPES[:-1]:  # embedded tokens (e.g. "cine_lax3ch"), but not the short "ot"
        if any(tok.endswith(sub) or tok.startswith(sub) for tok in tokens if tok):
            return sub
    return UNKNOWN


def _disease(dirs: tuple[str, ...], center: str) -> str:
    codes = {d.value for d in Disease if d is not Disease.UNKNOWN}
    for comp in dirs:
        if comp in codes:
            return comp
        for tok in re.split(r"[_\-]", comp):
            if tok in codes and tok != comp and not _VENDOR_RE.match(comp):
                return tok
    return Disease.NC.value if center in _NORMAL_CONTROL_CENTERS else Disease.UNKNOWN.value


def parse_path(relpath: str | os.PathLike[str]) -> PathInfo:
    """Derive header fields from a path (relative to the indexed root, ``/``-separated).

    Results are cached (the function is pure and :class:`PathInfo` is immutable): indexing asks for
    the same scan and mask paths several times.
    """
    return _parse_path(os.fspath(relpath))


@functools.lru_cache(maxsize=1 << 16)
def _parse_path(relpath: str) -> PathInfo:
    parts = tuple(path_parts(relpath))
    if not parts:
        return PathInfo()
    name, dirs = parts[-1], parts[:-1]
    stem, pattern, accel = name_sampling(name)

    center = vendor = scanner = patient = UNKNOWN
    field_t: float | None = None
    mmcmr = False
    if len(parts) >= 4:
        vend = parse_vendor_folder(parts[-3])
        if vend is not None and _PATIENT_RE.match(parts[-2]):
            mmcmr = True
            center, patient = parts[-4], parts[-2]
            vendor, field_t, scanner = vend
    if center == UNKNOWN:
        center = next((p for p in reversed(dirs) if _CENTER_RE.match(p)), UNKNOWN)
    if patient == UNKNOWN:
        patient = next((p for p in reversed(dirs) if _PATIENT_RE.match(p)), UNKNOWN)

    modality, subtype = modality_from_name(stem)
    folder_mod = next((_FOLDERS[p] for p in dirs if p in _FOLDERS), "missing")
    if folder_mod is None:  # Mapping: T1map / T2map from the file name
        modality = modality if modality in (Modality.T1MAP.value, Modality.T2MAP.value) else UNKNOWN
    elif isinstance(folder_mod, Modality):  # not "missing"
        modality = folder_mod.value

    from cardiomm.text.prompts import lifespan_from_name  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    lifespan = lifespan_from_name(relpath)
    return PathInfo(
        center=center,
        vendor=vendor,
        field_t=field_t,
        scanner=scanner,
        patient=patient,
        modality=modality,
        subtype=subtype,
        disease=_disease(dirs, center),
        lifespan=lifespan,
        data_set=next((p for p in dirs if p in SET_FOLDERS), UNKNOWN),
        stem=stem,
        sampling_pattern=pattern,
        acceleration=accel,
        mmcmr_layout=mmcmr,
    )
