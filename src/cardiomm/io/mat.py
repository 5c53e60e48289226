"""MATLAB ``.mat`` files: v7.3 (HDF5) writer and a v5/v7.3 reader that agree on axis order.

Axis order
----------
Every array crosses this module in **h5py order**, which is the reverse of MATLAB's and is cardiomm's
in-memory order. A MATLAB ``[nx, ny, nc, nz, nt]`` k-space array is ``(nt, nz, nc, ny, nx)`` here, a
``(t, ky, kx)`` mask becomes MATLAB ``[nx, ny, nt]``. v7.3 files are HDF5 and need no transpose; v5
files (read with :func:`scipy.io.loadmat`, which returns MATLAB order) are transposed on reading, so
both forms of the same MATLAB variable load to the same array.

MATLAB keeps at least two dimensions and drops trailing singleton ones: a 0-D or 1-D array passed to
:func:`save_mat` is promoted to 2-D by prepending ones (a length-``n`` vector becomes ``(1, n)`` here,
a MATLAB column ``[n, 1]``), and arrays read back keep the (at least 2-D) stored shape.

v7.3 layout written by :func:`save_mat`
---------------------------------------
- HDF5 with a 512-byte user block whose first 128 bytes are the standard MATLAB header text
  (``MATLAB 7.3 MAT-file, ... HDF5 schema 1.00 .``, padded with spaces to 116 bytes, 8 zero bytes, then
  version ``0x0200`` and the endian indicator ``IM``); the rest of the block is zeros.
- One dataset per variable at the root, with the attribute ``MATLAB_class`` (``double``, ``single``,
  ``int8`` ... ``uint64``, ``logical``). Logical arrays are stored as ``uint8`` with
  ``MATLAB_int_decode = 1``. Complex arrays use a compound type with fields ``real`` and ``imag``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from cardiomm.errors import DataValueError, FileFormatError, InputFileError, MissingKeyError
from cardiomm.io.checks import (
    check_h5_dataset,
    check_size,
    h5_attr,
    h5_attr_id,
    h5_attrs,
    h5_member,
    reading,
)
from cardiomm.io.h5_btree import check_btrees
from cardiomm.io.mat_structure import check_mat_structure
from cardiomm.utils.atomic import atomic_path

if TYPE_CHECKING:
    import torch

__all__ = ["save_mat", "load_mat_variables", "mat_version", "list_mat_variables"]

PathLike = str | os.PathLike[str]

_USERBLOCK = 512
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

#: numpy dtype -> MATLAB class name (complex types map to the class of their parts).
_MATLAB_CLASS: dict[np.dtype[Any], str] = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.bool_): "logical",
    np.dtype(np.complex64): "single",
    np.dtype(np.complex128): "double",
}
_NUMERIC_CLASSES: dict[str, type[np.generic]] = {
    "double": np.float64,
    "single": np.float32,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
}


# --------------------------------------------------------------------------------------------- writing
def _matlab_header() -> bytes:
    """Return the 128-byte MATLAB 7.3 header placed at the start of the user block."""
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {stamp} HDF5 schema 1.00 ."
    head = text.encode("ascii").ljust(116, b" ")
    return head + b"\x00" * 8 + b"\x00\x02" + b"IM"


def _to_numpy(value: np.ndarray | torch.Tensor | float | int | bool) -> np.ndarray:
    """Convert a tensor or array-like to a numpy array (detached, on CPU, conjugation resolved).

    torch is not imported here (the header path of ``db index`` reads .mat files without it): a tensor
    can only exist once torch is loaded."""
    torch_module = sys.modules.get("torch")
    if torch_module is not None and isinstance(value, torch_module.Tensor):
        return value.detach().cpu().resolve_conj().resolve_neg().numpy()
    return np.asarray(value)


def _write_dataset(f: h5py.File, key: str, arr: np.ndarray, compress: bool) -> None:
    if arr.ndim < 2:
        arr = arr.reshape((1,) * (2 - arr.ndim) + arr.shape)
    dtype = arr.dtype
    if dtype not in _MATLAB_CLASS:
        raise DataValueError(f"variable {key!r}: dtype {dtype} cannot be written to a MAT file")
    mclass = _MATLAB_CLASS[dtype]
    opts: dict[str, Any] = {}
    if compress and arr.size > 0:
        opts = {"compression": "gzip", "compression_opts": 4, "shuffle": True, "chunks": True}
    if dtype.kind == "c":
        part = np.float32 if dtype == np.complex64 else np.float64
        cdt = np.dtype([("real", part), ("imag", part)])
        data = np.empty(arr.shape, dtype=cdt)
        data["real"] = arr.real
        data["imag"] = arr.imag
    elif dtype == np.bool_:
        data = arr.astype(np.uint8)
    else:
        data = np.ascontiguousarray(arr)
    if arr.size == 0:
        # MATLAB stores empty arrays as their (MATLAB-order) dimensions with MATLAB_empty = 1.
        ds = f.create_dataset(key, data=np.asarray(arr.shape[::-1], dtype=np.uint64))
        ds.attrs.create("MATLAB_empty", np.uint8(1))
    else:
        ds = f.create_dataset(key, data=data, **opts)
    ds.attrs.create("MATLAB_class", np.bytes_(mclass.encode("ascii")))
    if dtype == np.bool_:
        ds.attrs.create("MATLAB_int_decode", np.int32(1))


def save_mat(
    path: PathLike,
    variables: Mapping[str, np.ndarray | torch.Tensor],
    *,
    compress: bool = False,
) -> Path:
    """Write variables to a MATLAB v7.3 ``.mat`` file, atomically.

    Parameters
    ----------
    path
        Destination file (parent folders are created).
    variables
        Variable name -> array, **in h5py order** (the reverse of what MATLAB shows): e.g. a
        ``(t, ky, kx)`` mask appears in MATLAB as ``[nx, ny, nt]``. Names must be valid MATLAB
        identifiers. Supported dtypes: float64/32, (u)int8-64, bool (MATLAB ``logical``),
        complex64/128 (compound ``real``/``imag``). Torch tensors are detached and moved to the CPU.
    compress
        Gzip-compress (level 4, chunked) non-empty datasets.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    DataValueError
        An invalid variable name or an unsupported dtype (nothing is written).
    """
    final = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for key, value in variables.items():
        if not isinstance(key, str) or not _NAME_RE.match(key):
            raise DataValueError(f"invalid MATLAB variable name {key!r}", path=final)
        arrays[key] = _to_numpy(value)
    if not arrays:
        raise DataValueError("no variables to write", path=final)
    with atomic_path(final) as tmp:
        with h5py.File(tmp, "w", userblock_size=_USERBLOCK, libver="earliest") as f:
            for key, arr in arrays.items():
                try:
                    _write_dataset(f, key, arr, compress)
                except DataValueError as err:
                    raise DataValueError(err.message, path=final) from None
        with open(tmp, "r+b") as fh:
            fh.write(_matlab_header())
    return final


# --------------------------------------------------------------------------------------------- reading
def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputFileError("file not found", path=path)
    if not path.is_file():
        raise InputFileError("not a file", path=path)


def mat_version(path: PathLike) -> str:
    """Return the MAT-file flavour of ``path``: ``"7.3"`` (HDF5), ``"5"`` or ``"4"``.

    Raises
    ------
    InputFileError
        The file does not exist.
    FileFormatError
        The file is not a MAT file (e.g. text renamed ``.mat``) or is empty.
    """
    p = Path(path)
    _check_exists(p)
    with open(p, "rb") as fh:
        head = fh.read(_USERBLOCK + 8)
    if len(head) == 0:
        raise FileFormatError("empty file, not a MAT file", path=p)
    if head[:8] == _HDF5_SIGNATURE or head[_USERBLOCK : _USERBLOCK + 8] == _HDF5_SIGNATURE:
        return "7.3"
    if len(head) >= 128 and head[:6] == b"MATLAB" and head[126:128] in (b"IM", b"MI"):
        version = head[124:126] if head[126:128] == b"IM" else head[124:126][::-1]
        if version == b"\x00\x02":
            # v7.3 header without a readable HDF5 signature: cut or damaged
            raise FileFormatError("MAT v7.3 header but no HDF5 data (truncated or corrupt)", path=p)
        return "5"
    # MAT v4 has no text header; its first 4 bytes are a small type code with a zero byte
    if len(head) >= 20 and 0 in head[:4]:
        mopt = int.from_bytes(head[:4], "little")
        if mopt > 5000:
            mopt = int.from_bytes(head[:4], "big")
        if 0 <= mopt < 5000:
            return "4"
    raise FileFormatError("not a MAT file (no MATLAB header or HDF5 signature)", path=p)


def _decode_attr(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode("ascii", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SU":
        return _decode_attr(value.item())
    return str(value)


def _read_h5_dataset(ds: h5py.Dataset, complex_dtype: np.dtype[Any], path: Path) -> np.ndarray:
    name = ds.name.lstrip("/") if ds.name else "?"
    check_h5_dataset(ds, f"variable {name!r}", path)
    attrs = h5_attrs(ds, path)
    mclass = _decode_attr(attrs.get("MATLAB_class", b""))
    if int(np.asarray(attrs.get("MATLAB_empty", 0)).ravel()[0]) == 1:
        dims = np.asarray(ds[()]).ravel()
        if dims.dtype.kind not in "iu" or dims.size > 32 or (dims.size > 1 and np.prod(dims) != 0):
            raise FileFormatError(f"variable {name!r} is marked empty but its dimensions are not", path=path)
        dtype = _NUMERIC_CLASSES.get(mclass, np.float64)
        if mclass == "logical":
            dtype = np.bool_
        shape = tuple(int(d) for d in dims[::-1]) if dims.size > 1 else (0, 0)
        check_size(shape, f"variable {name!r}", path)
        return np.zeros(shape, dtype=dtype)
    raw = ds[()]
    if ds.dtype.names is not None:
        if set(ds.dtype.names) != {"real", "imag"}:
            raise DataValueError(f"variable {name!r}: compound type with fields {ds.dtype.names}")
        part = np.dtype(complex_dtype.type(0).real.dtype)
        parts = np.dtype([("real", part), ("imag", part)])
        if raw.dtype == parts:  # same memory layout as the complex dtype: no copy
            return np.ascontiguousarray(raw).view(complex_dtype)
        out = np.empty(raw.shape, dtype=complex_dtype)
        out.real = raw["real"]
        out.imag = raw["imag"]
        return out
    arr = np.asarray(raw)
    if mclass == "logical":
        return arr.astype(np.bool_)
    if mclass == "char":
        codes = arr.astype(np.uint32).T.ravel()
        return np.asarray("".join(map(chr, codes.tolist())))
    return arr


def _is_readable_h5(obj: Any, path: Path) -> bool:
    if not isinstance(obj, h5py.Dataset):
        return False
    if obj.dtype.kind == "O" or obj.dtype == h5py.ref_dtype:
        return False  # cell arrays (object references)
    mclass = _decode_attr(h5_attr(obj, "MATLAB_class", path, b""))
    return mclass not in ("cell", "struct", "function_handle")


def _open_v73(path: Path) -> h5py.File:
    """The file opened with h5py, after its B-trees were walked (:mod:`cardiomm.io.h5_btree`)."""
    with reading(path, "MAT v7.3 (HDF5) file"):
        check_btrees(path)
        return h5py.File(path, "r")


def _load_v73(path: Path, keys: list[str] | None, complex_dtype: np.dtype[Any]) -> dict[str, np.ndarray]:
    with reading(path, "MAT v7.3 (HDF5) file"), _open_v73(path) as f:
        names = [k for k in f.keys() if not k.startswith("#")]
        if keys is None:
            wanted = [k for k in names if _is_readable_h5(h5_member(f, k, path), path)]
        else:
            missing = [k for k in keys if k not in names]
            if missing:
                raise MissingKeyError(_missing_message(missing, names), path=path)
            for k in keys:
                if not _is_readable_h5(h5_member(f, k, path), path):
                    msg = f"variable {k!r} is a MATLAB struct/cell, not an array"
                    raise DataValueError(msg, path=path)
            wanted = keys
        return {k: _read_h5_dataset(f[k], complex_dtype, path) for k in wanted}


def _load_v5(
    path: Path, keys: list[str] | None, complex_dtype: np.dtype[Any], version: str
) -> dict[str, np.ndarray]:
    import scipy.io  # noqa: PLC0415 - lazy: v7.3 (HDF5) files, the usual case, need no scipy

    check_mat_structure(path, version, keys)  # scipy's compiled reader can crash on damaged tags
    try:
        raw = scipy.io.loadmat(path, variable_names=keys, mat_dtype=False, chars_as_strings=True)
        if keys is not None and any(k not in raw for k in keys):
            names = sorted(scipy.io.whosmat(path), key=lambda w: w[0])
            missing = [k for k in keys if k not in raw]
            raise MissingKeyError(_missing_message(missing, [w[0] for w in names]), path=path)
    except MissingKeyError:
        raise
    except Exception as err:  # scipy raises many types on damaged files
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FileFormatError(f"cannot read MAT v5 file, truncated or corrupt ({msg})", path=path) from None
    out: dict[str, np.ndarray] = {}
    for k, v in raw.items():
        if k.startswith("__"):
            continue
        arr = np.asarray(v)
        if arr.dtype.kind in "OV":
            if keys is not None:
                raise DataValueError(f"variable {k!r} is a MATLAB struct/cell, not an array", path=path)
            continue
        if arr.dtype.kind == "U":
            out[k] = np.asarray("".join(arr.ravel().tolist()))
            continue
        if arr.dtype.kind == "c":
            arr = arr.astype(complex_dtype, copy=False)
        out[k] = np.ascontiguousarray(arr.T)
    return out


def _missing_message(missing: list[str], found: Iterable[str]) -> str:
    found_s = ", ".join(found) or "none"
    return f"missing variable(s) {', '.join(repr(m) for m in missing)}; found: {found_s}"


def load_mat_variables(
    path: PathLike,
    keys: Iterable[str] | None = None,
    *,
    complex_dtype: type[np.complexfloating[Any, Any]] | np.dtype[Any] = np.complex64,
) -> dict[str, np.ndarray]:
    """Read numeric variables from a MATLAB v7.3 (HDF5), v5 or v4 ``.mat`` file, in h5py order.

    Parameters
    ----------
    path
        The ``.mat`` file.
    keys
        Variables to read; ``None`` reads every numeric/logical/char variable (structs and cells are
        skipped). A missing key raises :class:`~cardiomm.errors.MissingKeyError`.
    complex_dtype
        dtype of complex results (default complex64, cardiomm's k-space dtype, whatever the file's
        precision). Real arrays keep their stored dtype.

    Returns
    -------
    dict[str, numpy.ndarray]
        Name -> array in **h5py order** (reverse of MATLAB's), C-contiguous, at least 2-D. MATLAB
        ``logical`` becomes ``bool`` in v7.3 files; v5 files do not record it through scipy and give
        ``uint8``. ``char`` variables become 0-D ``str`` arrays.

    Raises
    ------
    InputFileError
        The file does not exist.
    FileFormatError
        Not a MAT file, or truncated/corrupt: v5/v4 files are checked element by element before
        scipy reads them (:mod:`cardiomm.io.mat_structure`), v7.3 datasets must be stored in the file
        and written (:func:`cardiomm.io.checks.check_h5_dataset`).
    SizeLimitError
        A variable with more elements than the size guard allows.
    MissingKeyError
        A requested key is absent (the message lists the variables found).
    DataValueError
        A requested key is a struct or cell array.
    """
    p = Path(path)
    version = mat_version(p)
    key_list = None if keys is None else [keys] if isinstance(keys, str) else list(keys)
    cdt = np.dtype(complex_dtype)
    if version == "7.3":
        return _load_v73(p, key_list, cdt)
    return _load_v5(p, key_list, cdt, version)


def _list_v73(p: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """:func:`list_mat_variables` of a v7.3 file through h5py's low-level API (a quarter of the cost of
    ``h5py.File`` per file, which ``db index`` pays once per source): the same members, the same checks
    (no external links, ``MATLAB_class`` type checked by :func:`~cardiomm.io.checks.h5_attr_id`)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)  # closing the file closes what was opened in it
    fid = h5py.h5f.open(os.fsencode(p), h5py.h5f.ACC_RDONLY, fapl=fapl)
    try:
        root = h5py.h5o.open(fid, b"/")
        out: dict[str, tuple[tuple[int, ...], str]] = {}
        for raw in root:
            name = raw.decode("utf-8", errors="replace")
            if name.startswith("#"):
                continue
            if root.links.get_info(raw).type == h5py.h5l.TYPE_EXTERNAL:
                raise FileFormatError(f"{name!r} is an external link to another file; refused", path=p)
            obj = h5py.h5o.open(root, raw)
            fallback = b"struct" if isinstance(obj, h5py.h5g.GroupID) else b""
            mclass = _decode_attr(h5_attr_id(obj, "MATLAB_class", p, fallback))
            out[name] = (tuple(obj.shape) if isinstance(obj, h5py.h5d.DatasetID) else (), mclass)
        return out
    finally:
        fid.close()


def list_mat_variables(path: PathLike) -> dict[str, tuple[tuple[int, ...], str]]:
    """List the variables of a ``.mat`` file without reading their data.

    Returns
    -------
    dict[str, tuple[tuple[int, ...], str]]
        Name -> (shape in **h5py order**, MATLAB class name).
    """
    p = Path(path)
    version = mat_version(p)
    if version == "7.3":
        with reading(p, "MAT v7.3 (HDF5) file"):
            check_btrees(p)
            return _list_v73(p)

    import scipy.io  # noqa: PLC0415 - lazy: v7.3 (HDF5) files, the usual case, need no scipy

    check_mat_structure(p, version, names=())
    try:
        return {name: (tuple(shape[::-1]), cls) for name, shape, cls in scipy.io.whosmat(p)}
    except Exception as err:
        raise FileFormatError(f"cannot read MAT v5 file, truncated or corrupt ({err})", path=p) from None
