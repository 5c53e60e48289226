"""ISMRMRD ``.h5`` raw data (OCMR style): metadata from the XML header, via the ``ismrmrd`` package.

Read (allow-list, :data:`~cardiomm.database.phi.ISMRMRD_ALLOWED_FIELDS`): ``systemVendor``,
``systemModel``, ``systemFieldStrength_T``, ``receiverChannels``, the encoded/recon matrix and FOV,
encoding limits (slices; contrasts x sets x repetitions x phases = frames, as in
:func:`cardiomm.io.ismrmrd_h5.read_ismrmrd`), parallel-imaging acceleration, TR/TE/TI (ms -> s).
``patientID`` is returned only as the transient original ID (hashed by the caller) and
``protocolName`` only as a modality hint. Nothing else of the header is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cardiomm.database.extract import RawScan
from cardiomm.database.header import nominal_field_t
from cardiomm.database.phi import clean_token, normalise_vendor
from cardiomm.errors import FileFormatError

__all__ = ["extract_ismrmrd", "fields_from_xml"]

_FRAME_COUNTERS = ("contrast", "set", "repetition", "phase")


def _count(limits: Any, name: str) -> int:
    lim = getattr(limits, name, None) if limits is not None else None
    return int(lim.maximum) + 1 if lim is not None and lim.maximum is not None else 1


def _ms_list(values: Any) -> tuple[float, ...]:
    return tuple(float(v) * 1e-3 for v in (values or ()) if v is not None)


def fields_from_xml(xml: str | bytes) -> tuple[dict[str, Any], str | None, str]:
    """Parse an ISMRMRD XML header into allow-listed header fields.

    Returns
    -------
    tuple
        ``(fields, original_patient_id, hint)``: header fields, the original patient ID (PHI, to be
        hashed; ``None`` if absent) and the protocol name (hint only, may be empty).

    Raises
    ------
    FileFormatError
        The XML does not parse as an ISMRMRD header.
    """
    import ismrmrd.xsd  # noqa: PLC0415 - lazy: importing this module loads no ismrmrd

    text = xml.decode("utf-8", errors="replace") if isinstance(xml, bytes) else str(xml)
    try:
        hdr = ismrmrd.xsd.CreateFromDocument(text)
    except Exception as err:  # xsdata raises parser-specific types
        raise FileFormatError(f"ISMRMRD XML header does not parse ({type(err).__name__})") from None
    fields: dict[str, Any] = {}
    asi = hdr.acquisitionSystemInformation
    if asi is not None:
        fields["vendor"] = normalise_vendor(asi.systemVendor)
        fields["scanner"] = clean_token(asi.systemModel)
        fields["field_t"] = nominal_field_t(asi.systemFieldStrength_T)
        fields["nc"] = int(asi.receiverChannels) if asi.receiverChannels else None
    if hdr.encoding:
        enc = hdr.encoding[0]
        em, rm = enc.encodedSpace.matrixSize, enc.reconSpace.matrixSize
        fields["nx"], fields["ny"] = int(em.x), int(em.y)
        fields["matrix_x"], fields["matrix_y"] = int(rm.x), int(rm.y)
        fov = enc.reconSpace.fieldOfView_mm
        fields["fov_x_mm"], fields["fov_y_mm"] = float(fov.x), float(fov.y)
        if em.z is not None and int(em.z) <= 1:
            fields["slice_thickness_mm"] = float(enc.encodedSpace.fieldOfView_mm.z)
        lim = enc.encodingLimits
        fields["nz"] = _count(lim, "slice") * (int(em.z) if em.z else 1)
        nt = 1
        for name in _FRAME_COUNTERS:
            nt *= _count(lim, name)
        fields["nt"] = nt
        pi = enc.parallelImaging
        accel = 1
        if pi is not None and pi.accelerationFactor is not None:
            af = pi.accelerationFactor
            accel = int(af.kspace_encoding_step_1 or 1) * int(af.kspace_encoding_step_2 or 1)
        fields["acceleration"] = accel
        fields["sampling_pattern"] = "full" if accel == 1 else "parallel"
    seq = hdr.sequenceParameters
    if seq is not None:
        tr, te, ti = _ms_list(seq.TR), _ms_list(seq.TE), _ms_list(seq.TI)
        fields["tr_s"] = tr[0] if tr else None
        fields["te_s"] = te[0] if te else None
        fields["ti_s"] = ti
    patient = None
    if hdr.subjectInformation is not None and hdr.subjectInformation.patientID:
        patient = str(hdr.subjectInformation.patientID)
    hint = ""
    if hdr.measurementInformation is not None and hdr.measurementInformation.protocolName:
        hint = str(hdr.measurementInformation.protocolName)
    return fields, patient, hint


def extract_ismrmrd(path: Path) -> RawScan:
    """Metadata of an ISMRMRD ``.h5`` file (group ``dataset`` with an ``xml`` header).

    Raises
    ------
    FileFormatError
        Unreadable HDF5 or XML header.
    """
    import ismrmrd  # noqa: PLC0415 - lazy: importing this module loads no ismrmrd

    try:
        dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=False, mode="r")
    except Exception as err:
        raise FileFormatError(f"cannot open as ISMRMRD HDF5 ({type(err).__name__})", path=path) from None
    try:
        xml = dset.read_xml_header()
    except Exception as err:
        msg = f"cannot read the ISMRMRD XML header ({type(err).__name__})"
        raise FileFormatError(msg, path=path) from None
    finally:
        dset.close()
    try:
        fields, patient, hint = fields_from_xml(xml)
    except FileFormatError as err:
        raise FileFormatError(err.message, path=path) from None
    fields["source_format"] = "ismrmrd-h5"
    return RawScan(fields=fields, original_patient_id=patient, hint=hint, kspace_key="dataset")
