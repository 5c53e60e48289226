"""Scan-parameter CSV files (``<name>_info.csv``, fallback ``<name>.csv``) -> :class:`ScanParameters`.

File format (reference section 3.2): a header row with ``Parameter`` and ``Value`` (or ``Value_1``,
``Value_2``, ... for list-valued parameters). Parameter names may carry a unit in parentheses, e.g.
``TR(ms)`` or ``FOVx (mm)``; the unit is stripped from the name and used for conversion. Times without
a unit are taken as milliseconds (as in the published files). All times are returned in **seconds**,
lengths in **millimetres**.

Keys used (case-insensitive): ``FOVx``, ``FOVy``, ``ReconMatrix_X``, ``ReconMatrix_Y``,
``SliceThickness``, ``TR``, ``TE``, ``TI`` (or ``InversionTime``, ``TI_list``), prep times (``T2prep``,
``PrepTime``, ``TSL``, ``PrepTimes``). Anything else lands in :attr:`ScanParameters.extras`.
Defaults when missing: slice thickness 8 mm, in-plane resolution 2 mm; the names of defaulted fields
are in :attr:`ScanParameters.defaulted`.
"""

from __future__ import annotations

import csv
import io as _io
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, MissingKeyError
from cardiomm.io.checks import reading
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "ScanParameters",
    "read_scan_csv",
    "write_scan_csv",
    "find_scan_csv",
    "DEFAULT_SLICE_THICKNESS_MM",
    "DEFAULT_INPLANE_MM",
]

PathLike = str | os.PathLike[str]

DEFAULT_SLICE_THICKNESS_MM = 8.0
DEFAULT_INPLANE_MM = 2.0

_UNIT_RE = re.compile(r"^\s*(.*?)\s*\(([^)]*)\)\s*$")
_TIME_SCALE = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "µs": 1e-6, "": 1e-3}
_LEN_SCALE = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "": 1.0}
_TI_KEYS = ("ti", "inversiontime", "ti_list", "tilist", "inversiontimes")
_PREP_KEYS = ("t2prep", "preptime", "preptimes", "prep_times", "tsl", "t2preptime")
ExtraValue = str | float | tuple[float, ...]
# Plausibility bounds of the known parameters (beyond them the file is corrupt).
_MAX_LENGTH_MM = 1e4
_MAX_TIME_S = 1e3
_MAX_MATRIX = 65535


@dataclass(frozen=True)
class ScanParameters:
    """Scan parameters of one acquisition.

    Attributes
    ----------
    fov_x_mm, fov_y_mm
        Field of view along readout x / phase encode y [mm], ``None`` when absent.
    recon_matrix_x, recon_matrix_y
        Reconstruction matrix size [pixels], ``None`` when absent.
    slice_thickness_mm
        Slice thickness [mm] (default 8).
    pixel_spacing_x_mm, pixel_spacing_y_mm
        In-plane pixel size [mm]: ``FOV / ReconMatrix`` when both are known, else 2.
    tr_s, te_s
        Repetition and echo time [s], ``None`` when absent.
    ti_list_s
        Inversion times [s] (mapping), empty when absent.
    prep_times_s
        Preparation times (T2 prep / spin-lock) [s], empty when absent.
    extras
        Other parameters: name (unit stripped) -> string, number or tuple of numbers.
    defaulted
        Names of the fields filled with defaults (``slice_thickness_mm``, ``pixel_spacing_x_mm``,
        ``pixel_spacing_y_mm``).
    source
        The CSV file, if read from one.
    """

    fov_x_mm: float | None = None
    fov_y_mm: float | None = None
    recon_matrix_x: int | None = None
    recon_matrix_y: int | None = None
    slice_thickness_mm: float = DEFAULT_SLICE_THICKNESS_MM
    pixel_spacing_x_mm: float = DEFAULT_INPLANE_MM
    pixel_spacing_y_mm: float = DEFAULT_INPLANE_MM
    tr_s: float | None = None
    te_s: float | None = None
    ti_list_s: tuple[float, ...] = ()
    prep_times_s: tuple[float, ...] = ()
    extras: dict[str, ExtraValue] = field(default_factory=dict)
    defaulted: frozenset[str] = frozenset()
    source: Path | None = None

    @property
    def slice_spacing_mm(self) -> float:
        """Centre-to-centre slice distance [mm]: ``SliceSpacing(mm)`` when the CSV has it (written by
        ``simulate from-images`` from the DICOM positions), else the slice thickness (CMRxRecon CSVs
        have no gap). Volumes (Simpson's rule) need this, not the thickness."""
        value = self.extras.get("SliceSpacing")
        try:
            spacing = float(value)  # type: ignore[arg-type]  # None or a tuple: TypeError, handled
        except (TypeError, ValueError):
            return self.slice_thickness_mm
        return spacing if spacing > 0 else self.slice_thickness_mm

    @property
    def voxel_size_mm(self) -> tuple[float, float, float]:
        """``(dx, dy, dz)`` [mm] for NIfTI export (x = readout, y = phase encode, z = slice distance)."""
        return (self.pixel_spacing_x_mm, self.pixel_spacing_y_mm, self.slice_spacing_mm)


def find_scan_csv(kspace_path: PathLike) -> Path | None:
    """Return ``<name>_info.csv`` or ``<name>.csv`` next to ``<name>.mat``, or ``None``."""
    p = Path(kspace_path)
    for cand in (p.with_name(f"{p.stem}_info.csv"), p.with_suffix(".csv")):
        if cand.is_file():
            return cand
    return None


def _split_unit(name: str) -> tuple[str, str]:
    m = _UNIT_RE.match(name)
    return (m.group(1), m.group(2).strip()) if m else (name.strip(), "")


_SEPARATORS = re.compile(r"[\s,;]+")


def _numbers(cells: list[str]) -> tuple[float, ...] | None:
    out: list[float] = []
    for cell in cells:
        try:  # the usual cell, one number: what the split below would give
            out.append(float(cell))
            continue
        except ValueError:
            pass
        for tok in _SEPARATORS.split(cell.strip().strip("[]")):
            if not tok:
                continue
            try:
                out.append(float(tok))
            except ValueError:
                return None
    return tuple(out)


def _scale(unit: str, table: Mapping[str, float], what: str, path: Path) -> float:
    u = unit.strip().lower()
    if u not in table:
        raise DataValueError(f"unknown unit {unit!r} for {what}", path=path)
    return table[u]


def read_scan_csv(path: PathLike) -> ScanParameters:
    """Read a scan-parameter CSV file.

    Parameters
    ----------
    path
        ``<name>_info.csv`` (see the module docstring for the format).

    Returns
    -------
    ScanParameters
        Lengths in mm, times in s, defaults recorded in ``defaulted``.

    Raises
    ------
    InputFileError
        Missing file.
    FileFormatError
        Not a CSV with a ``Parameter`` column and at least one ``Value``/``Value_N`` column.
    DataValueError
        A known parameter with a non-numeric value or an unknown unit, or out of range: field of view,
        slice thickness, TR and the reconstruction matrix must be finite and positive, TE, TI and prep
        times finite and non-negative (lengths at most 10 m, times at most 1000 s).
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError("file not found", path=p)
    with reading(p, "scan-parameter CSV file"):
        return _read_scan_csv(p)


def _check_range(
    name: str, values: tuple[float, ...], low: float, high: float, p: Path, *, zero: bool
) -> None:
    """Every value finite, ``> low`` (``>= low`` with ``zero``) and ``<= high``, else DataValueError."""
    for v in values:
        if not (math.isfinite(v) and (v >= low if zero else v > low) and v <= high):
            bound = ">=" if zero else ">"
            raise DataValueError(f"{name} = {v:g} is not a number {bound} {low:g} and <= {high:g}", path=p)


def _read_scan_csv(p: Path) -> ScanParameters:
    try:
        text = p.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(_io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as err:
        raise FileFormatError(f"not a readable CSV file ({err})", path=p) from None
    if not rows:
        raise FileFormatError("empty CSV file", path=p)
    head = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in head]
    if "parameter" not in lower:
        raise MissingKeyError(f"no 'Parameter' column; columns: {', '.join(head) or 'none'}", path=p)
    pcol = lower.index("parameter")
    vcols = [i for i, h in enumerate(lower) if re.fullmatch(r"value(_\d+)?", h)]
    if not vcols:
        raise MissingKeyError(f"no 'Value' or 'Value_1' column; columns: {', '.join(head)}", path=p)

    values: dict[str, tuple[str, list[str]]] = {}  # lower name -> (unit, cells)
    names: dict[str, str] = {}
    for row in rows[1:]:
        if len(row) <= pcol or not row[pcol].strip():
            continue
        name, unit = _split_unit(row[pcol])
        cells = [row[i].strip() for i in vcols if i < len(row) and row[i].strip()]
        values[name.lower()] = (unit, cells)
        names[name.lower()] = name

    used: set[str] = set()

    def number(key: str, what: str) -> tuple[str, tuple[float, ...]] | None:
        if key not in values:
            return None
        used.add(key)
        unit, cells = values[key]
        nums = _numbers(cells)
        if nums is None or not nums:
            raise DataValueError(f"{what} has no numeric value ({', '.join(cells) or 'empty'})", path=p)
        return unit, nums

    def length(key: str) -> float | None:
        got = number(key, names.get(key, key))
        return None if got is None else got[1][0] * _scale(got[0], _LEN_SCALE, key, p)

    def times(keys: tuple[str, ...]) -> tuple[float, ...] | None:
        for key in keys:
            got = number(key, names.get(key, key))
            if got is not None:
                scale = _scale(got[0], _TIME_SCALE, key, p)
                return tuple(v * scale for v in got[1])
        return None

    def integer(key: str) -> int | None:
        got = number(key, names.get(key, key))
        if got is None:
            return None
        _check_range(names.get(key, key), got[1][:1], 0, _MAX_MATRIX, p, zero=False)
        return int(round(got[1][0]))

    fov_x, fov_y = length("fovx"), length("fovy")
    mx, my = integer("reconmatrix_x"), integer("reconmatrix_y")
    thick = length("slicethickness")
    tr, te = times(("tr",)), times(("te",))
    ti, prep = times(_TI_KEYS), times(_PREP_KEYS)

    for name, value in (("FOVx", fov_x), ("FOVy", fov_y), ("SliceThickness", thick)):
        if value is not None:
            _check_range(f"{name} [mm]", (value,), 0.0, _MAX_LENGTH_MM, p, zero=False)
    if tr is not None:
        _check_range("TR [s]", tr, 0.0, _MAX_TIME_S, p, zero=False)
    for name, vals in (("TE [s]", te), ("TI [s]", ti), ("prep time [s]", prep)):
        if vals is not None:
            _check_range(name, vals, 0.0, _MAX_TIME_S, p, zero=True)

    defaulted: set[str] = set()
    if thick is None:
        thick = DEFAULT_SLICE_THICKNESS_MM
        defaulted.add("slice_thickness_mm")
    dx = fov_x / mx if fov_x is not None and mx else None
    dy = fov_y / my if fov_y is not None and my else None
    if dx is None:
        dx = DEFAULT_INPLANE_MM
        defaulted.add("pixel_spacing_x_mm")
    if dy is None:
        dy = DEFAULT_INPLANE_MM
        defaulted.add("pixel_spacing_y_mm")

    extras: dict[str, ExtraValue] = {}
    for key, (_unit, cells) in values.items():
        if key in used:
            continue
        nums = _numbers(cells)
        if nums is not None and len(nums) == 1:
            extras[names[key]] = nums[0]
        elif nums:
            extras[names[key]] = nums
        else:
            extras[names[key]] = ", ".join(cells)
    return ScanParameters(
        fov_x_mm=fov_x,
        fov_y_mm=fov_y,
        recon_matrix_x=mx,
        recon_matrix_y=my,
        slice_thickness_mm=thick,
        pixel_spacing_x_mm=dx,
        pixel_spacing_y_mm=dy,
        tr_s=None if tr is None else tr[0],
        te_s=None if te is None else te[0],
        ti_list_s=ti or (),
        prep_times_s=prep or (),
        extras=extras,
        defaulted=frozenset(defaulted),
        source=p,
    )


def _fmt(v: float) -> str:
    return f"{v:.10g}"


def write_scan_csv(path: PathLike, params: ScanParameters) -> Path:
    """Write :class:`ScanParameters` as ``Parameter, Value_1, Value_2, ...`` CSV, atomically.

    Times are written in ms (``TR(ms)``...), lengths in mm. Defaulted fields are not written, so
    reading the file back restores the same ``defaulted`` set.

    Returns
    -------
    Path
        The written file.
    """
    rows: list[list[str]] = []

    def add(name: str, vals: tuple[float, ...] | list[float]) -> None:
        rows.append([name, *(_fmt(v) for v in vals)])

    if params.fov_x_mm is not None:
        add("FOVx(mm)", [params.fov_x_mm])
    if params.fov_y_mm is not None:
        add("FOVy(mm)", [params.fov_y_mm])
    if params.recon_matrix_x is not None:
        add("ReconMatrix_X", [params.recon_matrix_x])
    if params.recon_matrix_y is not None:
        add("ReconMatrix_Y", [params.recon_matrix_y])
    if "slice_thickness_mm" not in params.defaulted:
        add("SliceThickness(mm)", [params.slice_thickness_mm])
    if params.tr_s is not None:
        add("TR(ms)", [params.tr_s * 1e3])
    if params.te_s is not None:
        add("TE(ms)", [params.te_s * 1e3])
    if params.ti_list_s:
        add("TI(ms)", [v * 1e3 for v in params.ti_list_s])
    if params.prep_times_s:
        add("PrepTimes(ms)", [v * 1e3 for v in params.prep_times_s])
    for name, value in params.extras.items():
        if isinstance(value, tuple):
            add(name, value)
        elif isinstance(value, float | int):
            add(name, [float(value)])
        else:
            rows.append([name, str(value)])
    width = max((len(r) for r in rows), default=2) - 1
    value_cols = ["Value"] if width <= 1 else [f"Value_{i + 1}" for i in range(width)]
    header = ["Parameter", *value_cols]
    final = Path(path)
    with atomic_path(final) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for r in rows:
            writer.writerow(r + [""] * (width + 1 - len(r)))
    return final
