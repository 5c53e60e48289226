"""``.h5`` files: ISMRMRD raw data or fastMRI files (``kspace`` dataset + attrs + ``ismrmrd_header``).

fastMRI ``kspace`` is ``(slices, coils, kx, ky)`` (or ``(slices, kx, ky)`` single-coil); only its
shape is read. From the attributes only ``acceleration`` / ``num_low_frequency`` (test files) are
used, ``patient_id`` only as the transient original ID; the XML header goes through
:func:`cardiomm.database.extract.ismrmrd.fields_from_xml` (allow-list). cardiomm's own training
shards (``axis_order`` attribute) are not scans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cardiomm.database.extract import NotAScanError, RawScan
from cardiomm.database.extract.ismrmrd import extract_ismrmrd, fields_from_xml
from cardiomm.errors import FileFormatError

__all__ = ["extract_h5", "extract_fastmri"]


def _str(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def extract_h5(path: Path) -> RawScan:
    """Detect the flavour of an ``.h5`` file and extract its metadata.

    Raises
    ------
    NotAScanError
        No raw k-space (e.g. a cardiomm shard, a ``_gt.h5`` sidecar or other HDF5).
    FileFormatError
        Not readable as HDF5.
    """
    import h5py  # noqa: PLC0415 - lazy: importing this module loads no h5py

    try:
        with h5py.File(path, "r") as f:
            is_ismrmrd = "dataset" in f and isinstance(f["dataset"], h5py.Group) and "xml" in f["dataset"]
            has_kspace = "kspace" in f and isinstance(f["kspace"], h5py.Dataset)
            is_shard = "axis_order" in f.attrs
    except OSError as err:
        msg = (str(err).splitlines() or [""])[0][:80]
        raise FileFormatError(f"cannot open as HDF5, truncated or corrupt ({msg})", path=path) from None
    if is_ismrmrd:
        return extract_ismrmrd(path)
    if has_kspace and not is_shard:
        return extract_fastmri(path)
    raise NotAScanError("HDF5 file without raw k-space (ISMRMRD 'dataset' or fastMRI 'kspace')")


def extract_fastmri(path: Path) -> RawScan:
    """Metadata of a fastMRI ``.h5`` file (shape, selected attrs, ISMRMRD XML header).

    Raises
    ------
    FileFormatError
        Unreadable file, or ``kspace`` that is not 3-D/4-D.
    """
    import h5py  # noqa: PLC0415 - lazy: importing this module loads no h5py

    try:
        with h5py.File(path, "r") as f:
            shape = tuple(int(s) for s in f["kspace"].shape)
            wanted = ("acceleration", "num_low_frequency", "patient_id")
            attrs = {k: f.attrs[k] for k in wanted if k in f.attrs}
            xml = f["ismrmrd_header"][()] if "ismrmrd_header" in f else None
            has_mask = "mask" in f
    except (OSError, KeyError) as err:
        raise FileFormatError(f"cannot read fastMRI HDF5 ({type(err).__name__})", path=path) from None
    if len(shape) not in (3, 4):
        msg = f"fastMRI 'kspace' has shape {shape}; expected (slices, [coils,] kx, ky)"
        raise FileFormatError(msg, path=path)
    fields: dict[str, Any] = {}
    patient = None
    hint = ""
    if xml is not None:
        fields, patient, hint = fields_from_xml(_str(xml))
    fields.update(
        nz=shape[0], nt=1, nc=shape[1] if len(shape) == 4 else 1, nx=shape[-2], ny=shape[-1],
        source_format="fastmri-h5",
    )  # fmt: skip
    if has_mask or "acceleration" in attrs:
        accel = attrs.get("acceleration")
        fields["acceleration"] = int(accel) if accel is not None else None
        fields["sampling_pattern"] = "fastmri"
        acs = attrs.get("num_low_frequency")
        fields["acs_lines"] = int(acs) if acs is not None else None
    else:
        fields.update(sampling_pattern="full", acceleration=1)
    if "patient_id" in attrs:
        patient = _str(attrs["patient_id"])
    return RawScan(fields=fields, original_patient_id=patient, hint=hint, kspace_key="kspace")
