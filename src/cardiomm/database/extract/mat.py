"""CMRxRecon / MMCMR-427K ``.mat`` files (v5 and v7.3) and their ``<name>_info.csv``.

Only variable names and shapes are read (:func:`cardiomm.io.mat.list_mat_variables`), never the
k-space samples. Scan parameters come from the io package's typed
:class:`~cardiomm.io.scan_csv.ScanParameters`; its ``extras`` (every other CSV row, free text
included) are dropped, and defaulted values (slice thickness 8 mm) are not copied.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cardiomm.database.extract import NotAScanError, RawScan, dims_from_shape
from cardiomm.errors import CardiommError, ShapeError
from cardiomm.layout import KSPACE_KEYS

__all__ = ["extract_mat", "info_csv_fields"]

_SUB_RE = re.compile(r"^kspace(_single)?_sub(\d+)$")

#: CMRxRecon2023 ``kspace_subXX`` variables: uniform undersampling with 24 ACS lines.
_SUB_ACS_2023 = 24


def _pick_key(names: list[str]) -> str | None:
    for key in KSPACE_KEYS:
        if key in names:
            return key
    subs = sorted(n for n in names if _SUB_RE.match(n))
    return subs[0] if subs else None


def info_csv_fields(mat_path: Path) -> dict[str, Any]:
    """Typed scan parameters of ``<name>_info.csv`` (or ``<name>.csv``) next to ``mat_path``.

    A missing or unreadable CSV gives ``{}`` (the scan is still indexed). Only allow-listed, typed
    values are returned: FOV, reconstruction matrix, slice thickness (unless defaulted), TR, TE,
    TI list and preparation times, in mm and s.
    """
    from cardiomm.io.scan_csv import find_scan_csv, read_scan_csv  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    csv_path = find_scan_csv(mat_path)
    if csv_path is None:
        return {}
    try:
        params = read_scan_csv(csv_path)
    except CardiommError:
        return {}
    out: dict[str, Any] = {
        "fov_x_mm": params.fov_x_mm,
        "fov_y_mm": params.fov_y_mm,
        "matrix_x": params.recon_matrix_x,
        "matrix_y": params.recon_matrix_y,
        "tr_s": params.tr_s,
        "te_s": params.te_s,
        "ti_s": tuple(float(v) for v in params.ti_list_s),
        "prep_times_s": tuple(float(v) for v in params.prep_times_s),
    }
    if "slice_thickness_mm" not in params.defaulted:
        out["slice_thickness_mm"] = float(params.slice_thickness_mm)
    return out


def extract_mat(path: Path) -> RawScan:
    """Metadata of one CMRxRecon ``.mat`` k-space file.

    Raises
    ------
    NotAScanError
        No k-space variable (e.g. ``gtsosimage``, ``reconimage`` or ``mask`` files).
    cardiomm.errors.FileFormatError
        Not a MAT file, or truncated/corrupt.
    """
    from cardiomm.io.mat import list_mat_variables  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    variables = list_mat_variables(path)
    key = _pick_key(list(variables))
    if key is None:
        raise NotAScanError(f"no k-space variable (found {', '.join(sorted(variables)) or 'none'})")
    shape, mclass = variables[key]
    if not 2 <= len(shape) <= 5 or mclass in ("struct", "cell"):
        raise ShapeError(f"variable {key!r} has shape {shape}; expected 2-D to 5-D k-space", path=path)
    fields: dict[str, Any] = dims_from_shape(tuple(shape), coil_axis="single" not in key)
    fields["source_format"] = "cmrxrecon-mat"
    sub = _SUB_RE.match(key)
    if sub:
        fields.update(sampling_pattern="Uniform", acceleration=int(sub.group(2)), acs_lines=_SUB_ACS_2023)
    elif key != "kus":
        fields.update(sampling_pattern="full", acceleration=1)
    fields.update(info_csv_fields(path))
    return RawScan(fields=fields, kspace_key=key)
