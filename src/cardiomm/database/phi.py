"""PHI safety: scrub lists, allow-listed fields, keyed pseudonyms and a salt kept outside the catalog.

Policy
------
1. **Allow-list, not block-list.** Extractors copy only the typed fields of
   :class:`~cardiomm.database.header.CardiacHeader` (vendor, model, field strength, matrix, FOV,
   timings...). Anything else in a source header (names, dates, IDs, institutions, serial numbers,
   free text) is never read into a variable that reaches an output. The scrub lists below document
   what is dropped for each source (they follow the DICOM PS3.15 Annex E *Basic Application Level
   Confidentiality Profile*, Table E.1-1); they are used by the tests to plant PHI and check it
   never comes out.
2. **Free text only as a hint.** Series descriptions and protocol names may be matched against
   modality keywords, but the text itself is never copied.
3. **Original IDs become keyed hashes.** Patient IDs are replaced by
   ``HMAC-SHA256(salt, "patient\\0" + center + "\\0" + original_id)`` (16 hex digits), scan IDs by
   the same keyed hash of the source path. The salt (32 random bytes) lives in a file *outside* the
   catalog (``--salt-file`` or ``$CARDIOMM_SALT_FILE``, default ``~/.config/cardiomm/pseudonym.salt``),
   created with mode 0600, and is never written into the catalog, shards, logs or outputs.
4. **No dates.** File modification times (which can equal acquisition dates) are stored only as
   keyed fingerprints (:meth:`Pseudonymizer.fingerprint`), never in clear.
5. **Source paths** (relative to the indexed root) are stored verbatim because the re-organisation
   needs them, so they are screened first (:func:`screen_path`): a path with a folder or file name
   that looks like a person name, a date or a record number is refused (a per-file failure stored
   under a keyed pseudonym, the real path printed only to the console) unless the user opts in
   (``db index --allow-phi-paths``). Known layout tokens (MMCMR/CMRxRecon, fastMRI, OCMR, twix,
   Sunnybrook) pass.
6. **Error messages** of unexpected exceptions are shortened and masked (:func:`safe_error`) before
   they reach the failure summary.
7. **Free-text header values** that are copied (vendor, scanner model) are screened with the same
   patterns (:func:`screen_text`) and stored as ``unknown`` when they look identifying (counted
   and logged without the value).
8. **The salt stays outside every tree** the tool reads or writes (:func:`ensure_outside`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cardiomm.errors import CardiommError, ConfigError, PHIError
from cardiomm.types import UNKNOWN

__all__ = [
    "DICOM_BASIC_PROFILE",
    "DICOM_ALLOWED_KEYWORDS",
    "ISMRMRD_SCRUB_FIELDS",
    "ISMRMRD_ALLOWED_FIELDS",
    "TWIX_SCRUB_KEYS",
    "TWIX_ALLOWED_KEYS",
    "INFO_CSV_ALLOWED",
    "SALT_ENV",
    "default_salt_path",
    "load_salt",
    "Pseudonymizer",
    "ensure_outside",
    "clean_token",
    "normalise_vendor",
    "safe_error",
    "find_strings",
    "screen_text",
    "screen_path",
    "screen_value",
    "take_screened_count",
]

log = logging.getLogger(__name__)

#: DICOM PS3.15 Annex E basic profile (Table E.1-1), as ``(keyword, tag, action)``. Actions: ``D``
#: replace with dummy, ``Z`` zero length, ``X`` remove, ``U`` replace UID (strongest option kept where
#: the table offers several). cardiomm never copies any of them; ``PatientID`` and
#: ``SeriesInstanceUID`` are only used through a keyed hash.
DICOM_BASIC_PROFILE: tuple[tuple[str, str, str], ...] = (
    ("AccessionNumber", "(0008,0050)", "Z"),
    ("AcquisitionComments", "(0018,4000)", "X"),
    ("AcquisitionDate", "(0008,0022)", "X"),
    ("AcquisitionDateTime", "(0008,002A)", "X"),
    ("AcquisitionTime", "(0008,0032)", "X"),
    ("AdditionalPatientHistory", "(0010,21B0)", "X"),
    ("AdmittingDiagnosesDescription", "(0008,1080)", "X"),
    ("BranchOfService", "(0010,1081)", "X"),
    ("ContentDate", "(0008,0023)", "Z"),
    ("ContentTime", "(0008,0033)", "Z"),
    ("CountryOfResidence", "(0010,2150)", "X"),
    ("DerivationDescription", "(0008,2111)", "X"),
    ("DeviceSerialNumber", "(0018,1000)", "X"),
    ("DeviceUID", "(0018,1002)", "U"),
    ("EthnicGroup", "(0010,2160)", "X"),
    ("FrameOfReferenceUID", "(0020,0052)", "U"),
    ("ImageComments", "(0020,4000)", "X"),
    ("InstanceCreationDate", "(0008,0012)", "X"),
    ("InstanceCreationTime", "(0008,0013)", "X"),
    ("InstanceCreatorUID", "(0008,0014)", "U"),
    ("InstitutionAddress", "(0008,0081)", "X"),
    ("InstitutionName", "(0008,0080)", "X"),
    ("InstitutionalDepartmentName", "(0008,1040)", "X"),
    ("IssuerOfPatientID", "(0010,0021)", "X"),
    ("MedicalAlerts", "(0010,2000)", "X"),
    ("MedicalRecordLocator", "(0010,1090)", "X"),
    ("MilitaryRank", "(0010,1080)", "X"),
    ("NameOfPhysiciansReadingStudy", "(0008,1060)", "X"),
    ("Occupation", "(0010,2180)", "X"),
    ("OperatorsName", "(0008,1070)", "X"),
    ("OtherPatientIDs", "(0010,1000)", "X"),
    ("OtherPatientIDsSequence", "(0010,1002)", "X"),
    ("OtherPatientNames", "(0010,1001)", "X"),
    ("PatientAddress", "(0010,1040)", "X"),
    ("PatientAge", "(0010,1010)", "X"),
    ("PatientBirthDate", "(0010,0030)", "Z"),
    ("PatientBirthName", "(0010,1005)", "X"),
    ("PatientBirthTime", "(0010,0032)", "X"),
    ("PatientComments", "(0010,4000)", "X"),
    ("PatientID", "(0010,0020)", "Z"),
    ("PatientMotherBirthName", "(0010,1060)", "X"),
    ("PatientName", "(0010,0010)", "Z"),
    ("PatientReligiousPreference", "(0010,21F0)", "X"),
    ("PatientSex", "(0010,0040)", "Z"),
    ("PatientSize", "(0010,1020)", "X"),
    ("PatientTelephoneNumbers", "(0010,2154)", "X"),
    ("PatientWeight", "(0010,1030)", "X"),
    ("PerformedProcedureStepDescription", "(0040,0254)", "X"),
    ("PerformedProcedureStepID", "(0040,0253)", "X"),
    ("PerformedProcedureStepStartDate", "(0040,0244)", "X"),
    ("PerformingPhysicianName", "(0008,1050)", "X"),
    ("PhysiciansOfRecord", "(0008,1048)", "X"),
    ("ProtocolName", "(0018,1030)", "X"),
    ("ReferringPhysicianAddress", "(0008,0092)", "X"),
    ("ReferringPhysicianName", "(0008,0090)", "Z"),
    ("ReferringPhysicianTelephoneNumbers", "(0008,0094)", "X"),
    ("RegionOfResidence", "(0010,2152)", "X"),
    ("RequestAttributesSequence", "(0040,0275)", "X"),
    ("RequestedProcedureDescription", "(0032,1060)", "X"),
    ("RequestingPhysician", "(0032,1032)", "X"),
    ("ResponsiblePerson", "(0010,2297)", "X"),
    ("SeriesDate", "(0008,0021)", "X"),
    ("SeriesDescription", "(0008,103E)", "X"),
    ("SeriesInstanceUID", "(0020,000E)", "U"),
    ("SeriesTime", "(0008,0031)", "X"),
    ("SOPInstanceUID", "(0008,0018)", "U"),
    ("StationName", "(0008,1010)", "X"),
    ("StudyDate", "(0008,0020)", "Z"),
    ("StudyDescription", "(0008,1030)", "X"),
    ("StudyID", "(0020,0010)", "Z"),
    ("StudyInstanceUID", "(0020,000D)", "U"),
    ("StudyTime", "(0008,0030)", "Z"),
    ("TextComments", "(4000,4000)", "X"),
    ("TimezoneOffsetFromUTC", "(0008,0201)", "X"),
)

#: The only DICOM keywords an extractor reads (values copied only after typing/normalisation;
#: ``PatientID``/``SeriesInstanceUID`` only through a keyed hash; ``SeriesDescription`` and
#: ``ProtocolName`` only as modality hints, never copied).
DICOM_ALLOWED_KEYWORDS: tuple[str, ...] = (
    "Modality", "Manufacturer", "ManufacturerModelName", "MagneticFieldStrength", "Rows", "Columns",
    "PixelSpacing", "SliceThickness", "RepetitionTime", "EchoTime", "InversionTime", "NumberOfFrames",
    "CardiacNumberOfImages", "AcquisitionMatrix", "SliceLocation", "InstanceNumber",
    "PatientID", "SeriesInstanceUID", "SeriesDescription", "ProtocolName",
    "TriggerTime",
)  # fmt: skip

#: ISMRMRD XML header fields dropped (PHI). Paths are relative to ``ismrmrdHeader``.
ISMRMRD_SCRUB_FIELDS: tuple[str, ...] = (
    "subjectInformation/patientName",
    "subjectInformation/patientBirthdate",
    "subjectInformation/patientID",
    "subjectInformation/patientWeight_kg",
    "subjectInformation/patientHeight_m",
    "subjectInformation/patientGender",
    "studyInformation/studyDate",
    "studyInformation/studyTime",
    "studyInformation/studyID",
    "studyInformation/accessionNumber",
    "studyInformation/referringPhysicianName",
    "studyInformation/studyDescription",
    "studyInformation/studyInstanceUID",
    "measurementInformation/measurementID",
    "measurementInformation/seriesDate",
    "measurementInformation/seriesTime",
    "measurementInformation/seriesDescription",
    "measurementInformation/seriesInstanceUIDRoot",
    "measurementInformation/frameOfReferenceUID",
    "measurementInformation/referencedImageSequence",
    "measurementInformation/protocolName",
    "acquisitionSystemInformation/institutionName",
    "acquisitionSystemInformation/stationName",
    "acquisitionSystemInformation/deviceID",
    "acquisitionSystemInformation/deviceSerialNumber",
    "userParameters",
)

#: ISMRMRD fields an extractor reads (``patientID`` only through a keyed hash, ``protocolName`` only
#: as a modality hint).
ISMRMRD_ALLOWED_FIELDS: tuple[str, ...] = (
    "acquisitionSystemInformation/systemVendor",
    "acquisitionSystemInformation/systemModel",
    "acquisitionSystemInformation/systemFieldStrength_T",
    "acquisitionSystemInformation/receiverChannels",
    "encoding/encodedSpace/matrixSize",
    "encoding/encodedSpace/fieldOfView_mm",
    "encoding/reconSpace/matrixSize",
    "encoding/reconSpace/fieldOfView_mm",
    "encoding/encodingLimits",
    "encoding/parallelImaging/accelerationFactor",
    "sequenceParameters/TR",
    "sequenceParameters/TE",
    "sequenceParameters/TI",
    "subjectInformation/patientID",
    "measurementInformation/protocolName",
)

#: Siemens twix header keys dropped (found in the ``Config``, ``Dicom``, ``Meas`` and ``MeasYaps``
#: buffers of ``twixtools.read_twix``).
TWIX_SCRUB_KEYS: tuple[str, ...] = (
    "PatientName", "tPatientName", "PatientsName", "PatientID", "PatientBirthDay", "PatientSex",
    "PatientLOID", "StudyLOID", "SeriesLOID", "PatientQuadruple", "flPatientAge", "flPatientHeight",
    "flUsedPatientWeight", "InstitutionName", "InstitutionAddress", "DeviceSerialNumber",
    "tReferringPhysician", "tStudyDescription", "tPerformingPhysician", "tOperatorsName",
    "MeasUID", "FrameOfReference", "ExamMemoryUID", "CommentsOnThePerformedProcedureStep",
    "tPatientPosition", "SeriesDescription4Compose",
)  # fmt: skip

#: Siemens twix keys an extractor reads (``PatientID`` only through a keyed hash; ``tProtocolName``
#: only as a modality hint).
TWIX_ALLOWED_KEYS: tuple[str, ...] = (
    "Dicom.Manufacturer", "Dicom.ManufacturersModelName", "Dicom.flMagneticFieldStrength",
    "MeasYaps.sProtConsistencyInfo.flNominalB0", "MeasYaps.sKSpace.lBaseResolution",
    "MeasYaps.sKSpace.lPhaseEncodingLines", "MeasYaps.sKSpace.lPartitions",
    "MeasYaps.sKSpace.ucDimension", "MeasYaps.sSliceArray", "MeasYaps.alTR", "MeasYaps.alTE",
    "MeasYaps.alTI", "MeasYaps.sPrepPulses.adT2PrepDuration", "MeasYaps.lContrasts",
    "MeasYaps.lRepetitions", "MeasYaps.sPhysioImaging.lPhases", "MeasYaps.sPat.lAccelFactPE",
    "MeasYaps.sPat.lRefLinesPE", "MeasYaps.sCoilSelectMeas", "MeasYaps.tProtocolName",
    "Config.PatientID",
)  # fmt: skip

#: ``<name>_info.csv`` parameters kept: only the typed fields of the io package's scan parameters
#: (FOV, matrix, slice thickness, TR, TE, TI); every other row (free text, dates...) is dropped.
INFO_CSV_ALLOWED: tuple[str, ...] = (
    "FOVx", "FOVy", "ReconMatrix_X", "ReconMatrix_Y", "SliceThickness", "TR", "TE", "TI",
)  # fmt: skip

#: Environment variable naming the salt file.
SALT_ENV = "CARDIOMM_SALT_FILE"


def default_salt_path() -> Path:
    """``$CARDIOMM_SALT_FILE`` if set, else ``$XDG_CONFIG_HOME/cardiomm/pseudonym.salt`` (``~/.config``)."""
    env = os.environ.get(SALT_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cardiomm" / "pseudonym.salt"


def load_salt(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> bytes:
    """Read the pseudonymisation salt, creating it (32 random bytes, mode 0600) if missing.

    Parameters
    ----------
    path
        Salt file; ``None`` uses :func:`default_salt_path`.
    create
        Create the file when it does not exist.

    Raises
    ------
    PHIError
        The file is readable or writable by group/others, or too short.
    ConfigError
        The file is missing and ``create`` is False.
    """
    p = Path(path).expanduser() if path is not None else default_salt_path()
    if not p.exists():
        if not create:
            raise ConfigError("salt file not found (pseudonyms need the salt used at indexing)", path=p)
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created concurrently
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        raise PHIError(f"salt file permissions {oct(mode)} are too open; run chmod 600", path=p)
    salt = p.read_bytes().strip()
    if len(salt) < 16:
        raise PHIError("salt file holds fewer than 16 bytes", path=p)
    return salt


def ensure_outside(salt_path: str | os.PathLike[str] | None, *folders: str | os.PathLike[str]) -> None:
    """Raise :class:`PHIError` if the salt file lies inside one of ``folders`` (catalog, shards...)."""
    p = (Path(salt_path) if salt_path is not None else default_salt_path()).expanduser().resolve()
    for folder in folders:
        base = Path(folder).expanduser().resolve()
        if p == base or base in p.parents:
            raise PHIError("the salt file must be kept outside catalog and output folders", path=folder)


@dataclass(frozen=True)
class Pseudonymizer:
    """Keyed hashes (HMAC-SHA256) for patient IDs, scan IDs and source fingerprints.

    The salt is excluded from ``repr`` so it cannot leak into logs.
    """

    salt: bytes = field(repr=False)
    length: int = 16

    def _digest(self, kind: str, *parts: str) -> str:
        msg = "\0".join((kind, *parts)).encode("utf-8", errors="surrogateescape")
        return hmac.new(self.salt, msg, hashlib.sha256).hexdigest()[: self.length]

    def patient_id(self, center: str, original_id: str) -> str:
        """Pseudonymous patient ID from the center and the original (possibly identifying) ID."""
        return "pt-" + self._digest("patient", center, original_id.strip())

    def scan_id(self, source_key: str) -> str:
        """Pseudonymous scan ID from the source path (and series key for DICOM)."""
        return "sc-" + self._digest("scan", source_key)

    def fingerprint(self, *parts: str | int) -> str:
        """Keyed fingerprint of change-detection data (sizes, mtimes) that must not appear in clear."""
        return self._digest("fingerprint", *(str(p) for p in parts))

    def key(self, kind: str, value: str) -> str:
        """Generic keyed hash, e.g. for grouping DICOM files by ``SeriesInstanceUID``."""
        return self._digest(kind, value)


_TOKEN_RE = re.compile(r"[^A-Za-z0-9 ._+\-]")

_VENDORS = (
    ("siemens", "Siemens"), ("ge ", "GE"), ("ge_", "GE"), ("general electric", "GE"), ("philips", "Philips"),
    ("uih", "UIH"), ("united imaging", "UIH"), ("canon", "Canon"), ("toshiba", "Canon"),
    ("hitachi", "Hitachi"),
    ("fujifilm", "Fujifilm"), ("neusoft", "Neusoft"), ("esaote", "Esaote"),
)  # fmt: skip


def clean_token(value: object, max_len: int = 40) -> str:
    """Reduce a short header string (model name...) to safe characters; ``UNKNOWN`` if empty.

    A value that looks identifying (:func:`screen_text`: a person name, a date, a record number)
    gives ``UNKNOWN``; the replacement is counted (:func:`take_screened_count`) and logged without
    the value.
    """
    if value is None:
        return UNKNOWN
    if screen_value(str(value)) == UNKNOWN:
        return UNKNOWN
    text = _TOKEN_RE.sub("", str(value))
    text = " ".join(text.split())[:max_len].strip()
    return text or UNKNOWN


def normalise_vendor(value: object) -> str:
    """Normalise a manufacturer string: ``SIEMENS`` -> ``Siemens``, ``GE MEDICAL SYSTEMS`` -> ``GE``..."""
    if value is None:
        return UNKNOWN
    low = str(value).strip().lower() + " "
    if low.strip() == "ge":
        return "GE"
    for needle, name in _VENDORS:
        if low.startswith(needle) or f" {needle.strip()} " in f" {low}":
            return name
    return clean_token(value, max_len=24)


# ----------------------------------------------------------------------- identifying-looking text
#: Words of the known layouts, sequences, anatomy, vendors and scanner models (lower case). A run of
#: capitalised or upper-case words is read as a person name only when none of them is listed here.
_KNOWN_WORDS = frozenset(
    """
    acc acdc acquisition after all analysis aorta ao ax axial axis before black blood brain bssfp
    cardiac case center chamber ch cine cmr cmrx cmrxrecon coil contours contrast cor coronal cs ct
    data db demo dicom dicoms dixon ecv export fastmri fiesta fit flair flash flow free fs full gre
    ground gt gtsos haste heart images image imaging imag img inversion ir kspace ksp kt la lax left
    lge long lv lvot magnitude map mapping mask masks medical molli mr mri multi native new ocmr old
    pa perfusion phase post pre pt ra raw real recon reconstruction recovery rest results right rv
    sa sag sagittal sample saturation sax scan scans scd scout sense series set shmolli short single
    slice sos spgr ssfp stress study subset sunnybrook survey systems t1 t2 tagging task test trufi
    tra train training truth tse under us validation view ventricle
    siemens philips ge uih canon toshiba hitachi fujifilm neusoft esaote bruker united healthcare
    healthineers general electric
    aera altea amira avanto biograph concerto espree freemax harmony lumina magnetom prisma skyra
    sola sonata symphony terra tim trio triotim verio vida achieva ambition dstream elition evolution
    gyroscan ingenia intera multiva panorama prodiva architect artist creator discovery excite
    explorer genesis hdx hdxt hero optima pioneer premier signa voyager atlas elan excelart galan
    orian titan vantage echelon oval airis umr
    cad hcm dcm rcm ucm mc mi pc hhd pah arr hf hvd chd cbn cmn cam nc
    """.split()
)
#: Whole names (extension removed) of known public layouts that would otherwise trip the digit rule.
_LAYOUT_NAME_RE = re.compile(
    r"file\d{7}"  # fastMRI knee / singlecoil
    r"|file_brain_[A-Za-z0-9]+_\d{3}_\d{7}"  # fastMRI brain
    r"|SCD\d{7}"  # Sunnybrook Cardiac Data
)
_EXT_RE = re.compile(r"\.(?:mat|h5|hdf5|dat|dcm|ima|dicom|csv|nii|gz|npy|json|txt)$", re.IGNORECASE)
_Y, _M, _D = r"(?:19|20)\d\d", r"(?:0?[1-9]|1[0-2])", r"(?:0?[1-9]|[12]\d|3[01])"
_M2, _D2 = r"(?:0[1-9]|1[0-2])", r"(?:0[1-9]|[12]\d|3[01])"
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_DATE_RE = re.compile(
    rf"(?<!\d)(?:{_Y}([-_./ ]){_M}\1{_D}|{_D}([-_./ ]){_M}\2{_Y}|{_M}([-_./ ]){_D}\3{_Y}"
    rf"|{_Y}{_M2}{_D2}|{_D2}{_M2}{_Y}|{_M2}{_D2}{_Y}"
    rf"|{_D}[-_. ]?{_MON}[-_. ]?{_Y}|{_Y}[-_. ]?{_MON}[-_. ]?{_D})(?!\d)",
    re.IGNORECASE,
)
_ID_RE = re.compile(
    r"(?<![A-Za-z])(?:MRN|MR|PID|PATID|PATIENTID|ID|ACC|ACCESSION|SSN|NHS|SN|SERIAL|EMPI|URN)"
    r"[\s#:._-]*(?:NO|NR|NUM)?[\s#:._-]*\d{5,}",
    re.IGNORECASE,
)
_LONG_DIGITS_RE = re.compile(r"(?<!\d)\d{7,}(?!\d)")
_PERSON_RES = (
    re.compile(r"[A-Za-z]\s*\^\s*[A-Za-z]"),  # DICOM person name LAST^FIRST
    re.compile(r"[A-Za-z]{2,}\s*,\s*[A-Za-z]{2,}"),  # "Last, First"
)
_WORD_SPLIT_RE = re.compile(r"[\s_^,.\-]+")
_NAME_WORD_RE = re.compile(r"[A-Z]{2,}|[A-Z][a-z]+")


def _name_run(text: str) -> bool:
    """Two or more adjacent capitalised / upper-case words, none of them a known word."""
    run = 0
    for word in _WORD_SPLIT_RE.split(text):
        if _NAME_WORD_RE.fullmatch(word) and word.lower() not in _KNOWN_WORDS:
            run += 1
            if run >= 2:
                return True
        else:
            run = 0
    return False


def screen_text(text: str) -> str | None:
    """What makes ``text`` look identifying: ``"person name"``, ``"date"``, ``"identifier"`` or ``None``.

    The patterns (the same for path components and free-text header values):

    - **person name**: a DICOM ``LAST^FIRST``, a ``Last, First``, or two or more adjacent words
      that are capitalised (``Smith_John``) or upper case (``SMITH JOHN``), split on ``_``, ``-``,
      ``.``, ``,`` and spaces, none of which is a known layout, sequence, vendor or scanner word
      (so ``Mask_TaskAll``, ``Siemens_30T_Vida``, ``MAGNETOM Vida`` pass). Lower-case names and
      single words cannot be told from ordinary tokens and are not detected.
    - **date**: ``YYYYMMDD``, ``DDMMYYYY``, ``MMDDYYYY``, ``YYYY-MM-DD``, ``DD.MM.YYYY``,
      ``MM-DD-YYYY`` (separators ``-_./`` or space), ``12Apr1965``/``1965-Apr-12``; years 1900-2099.
    - **identifier**: an ``MRN``/``MR``/``PID``/``PatID``/``ID``/``ACC``/``SSN``/``NHS``/``SN``/
      ``Serial``/``EMPI``/``URN`` prefix followed by >= 5 digits, or any run of >= 7 digits.
    """
    reasons = _reasons(text)
    return reasons[0] if reasons else None


def _reasons(text: str) -> list[str]:
    """Every pattern family of :func:`screen_text` that matches ``text`` (in that order)."""
    reasons = []
    if any(p.search(text) for p in _PERSON_RES) or _name_run(text):
        reasons.append("person name")
    if _DATE_RE.search(text):
        reasons.append("date")
    if _ID_RE.search(text) or _LONG_DIGITS_RE.search(text):
        reasons.append("identifier")
    return reasons


def screen_path(relpath: str) -> tuple[str, ...]:
    """Reasons (sorted, unique) why a ``/``-separated relative path looks identifying; empty if clean.

    Every component (folders and the file name without its extension) is checked with
    :func:`screen_text`, except whole names of known public layouts (fastMRI ``file1000021``,
    Sunnybrook ``SCD0000101``). The root the path is relative to is not checked (it is never stored).
    """
    folder, _, name = relpath.rpartition("/")
    return tuple(sorted(set(_folder_reasons(folder)) | set(_component_reasons(name))))


@functools.lru_cache(maxsize=1 << 14)
def _folder_reasons(folder: str) -> tuple[str, ...]:
    """:func:`screen_path` of a folder path (cached: a folder holds many files)."""
    reasons: set[str] = set()
    for part in folder.split("/") if folder else ():
        reasons.update(_component_reasons(part))
    return tuple(sorted(reasons))


@functools.lru_cache(maxsize=1 << 16)
def _component_reasons(part: str) -> tuple[str, ...]:
    """:func:`screen_path` of one path component (cached: a tree repeats its folder names)."""
    stem = part
    while _EXT_RE.search(stem):
        stem = _EXT_RE.sub("", stem)
    if not stem or _LAYOUT_NAME_RE.fullmatch(stem):
        return ()
    return tuple(_reasons(stem))


_SCREENED = [0]  # free-text values replaced in this process since the last take_screened_count()


def screen_value(value: str, what: str = "header value") -> str:
    """``value`` unchanged, or ``UNKNOWN`` (counted and logged without the value) if it looks identifying."""
    reason = screen_text(value)
    if reason is None:
        return value
    _SCREENED[0] += 1
    log.warning("a free-text %s looks like a %s; stored as %r", what, reason, UNKNOWN)
    return UNKNOWN


def take_screened_count() -> int:
    """Number of free-text values replaced by ``UNKNOWN`` in this process since the last call (reset)."""
    n, _SCREENED[0] = _SCREENED[0], 0
    return n


_MASK_RES = (re.compile(r"\S*\^\S*"), re.compile(r"\d{6,}"), re.compile(r"['\"].*?['\"]"))


def safe_error(exc: BaseException) -> str:
    """One-line, PHI-masked description of an exception for failure summaries and logs.

    cardiomm's typed errors keep their message (written by us, naming only the file); other
    exceptions keep their type and the first 120 characters of their first line, with quoted text,
    DICOM person names (``A^B``) and long digit runs (dates, IDs) masked.
    """
    if isinstance(exc, CardiommError):
        return f"{type(exc).__name__}: {exc.message}"
    first = (str(exc).splitlines() or [""])[0][:120]
    for pattern in _MASK_RES:
        first = pattern.sub("<masked>", first)
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def find_strings(
    paths: Iterable[str | os.PathLike[str]], needles: Iterable[str], *, texts: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Search files (recursively for folders) and extra texts for forbidden strings.

    Each needle is searched as UTF-8 bytes, case-insensitively, and also as UTF-16-LE.

    Returns
    -------
    list[tuple[str, str]]
        ``(where, needle)`` pairs, empty when nothing is found.
    """
    pats = []
    for n in needles:
        pats.append((n, re.compile(re.escape(n.encode("utf-8")), re.IGNORECASE)))
        pats.append((n, re.compile(re.escape(n.encode("utf-16-le")), re.IGNORECASE)))
    hits: list[tuple[str, str]] = []
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.exists():
            files.append(p)
    for f in files:
        data = f.read_bytes()
        hits.extend((str(f), n) for n, pat in pats if pat.search(data) or pat.search(f.name.encode()))
    for i, text in enumerate(texts):
        data = text.encode("utf-8")
        hits.extend((f"<text {i}>", n) for n, pat in pats if pat.search(data))
    return sorted(set(hits))
