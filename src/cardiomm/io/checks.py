"""Checks shared by the readers: size guard, finite values, HDF5 storage, library errors -> typed errors.

Every public reader of :mod:`cardiomm.io` validates what it returns with these helpers, so a damaged or
crafted file gives a typed :class:`~cardiomm.errors.CardiommError` that names the file, never a raw
library exception, a huge allocation or silently wrong data (``docs/robustness.md``).

Size guard
----------
A file declares the size of what it holds (an HDF5 dataset shape, MAT dimensions, ISMRMRD counters,
DICOM rows and columns, NIfTI dims). Before allocating, a reader checks the declared number of elements
against :func:`max_elements`: ``CARDIOMM_MAX_ELEMENTS`` from the environment (an integer, ``2**31``
style expressions are not parsed; ``1e9`` is accepted) or :data:`DEFAULT_MAX_ELEMENTS` = ``2**31``
elements (16 GiB of complex64). Raise it for bigger real data, e.g. ``CARDIOMM_MAX_ELEMENTS=8e9``.

HDF5
----
:func:`check_h5_dataset` and :func:`h5_attrs` guard every dataset and attribute a reader reads; the
format-level walks they rely on live in :mod:`cardiomm.io.h5_types` (datatype encodings),
:mod:`cardiomm.io.h5_heap` (variable-length data) and :mod:`cardiomm.io.h5_btree` (B-tree cycles,
walked when a reader opens the file). MAT v5/v4 files are walked by :mod:`cardiomm.io.mat_structure`.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import h5py
import numpy as np

from cardiomm.errors import (
    CardiommError,
    ConfigError,
    DataValueError,
    FileFormatError,
    SizeLimitError,
)
from cardiomm.io.h5_heap import check_global_heaps, check_vlen_references
from cardiomm.io.h5_types import datatype_problem

__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "MAX_ELEMENTS_ENV",
    "max_elements",
    "check_size",
    "check_finite",
    "check_h5_dataset",
    "h5_member",
    "h5_attrs",
    "h5_attr",
    "h5_attr_id",
    "check_global_heaps",
    "reading",
    "first_line",
]

#: Default limit on the number of elements one reader may allocate for one array.
DEFAULT_MAX_ELEMENTS = 2**31
#: Environment variable overriding :data:`DEFAULT_MAX_ELEMENTS`.
MAX_ELEMENTS_ENV = "CARDIOMM_MAX_ELEMENTS"

PathArg = str | os.PathLike[str] | None


def first_line(err: BaseException) -> str:
    """First line of an exception's message, or its type name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def max_elements() -> int:
    """The element limit: ``$CARDIOMM_MAX_ELEMENTS`` when set, else :data:`DEFAULT_MAX_ELEMENTS`.

    Raises
    ------
    ConfigError
        The variable is set but not a positive number.
    """
    raw = os.environ.get(MAX_ELEMENTS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_ELEMENTS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < 1:
        raise ConfigError(f"{MAX_ELEMENTS_ENV}={raw!r} is not a positive number of elements")
    return int(value)


def check_size(shape: Iterable[int], what: str, path: PathArg) -> int:
    """Check a declared shape before allocating it; return its number of elements.

    Raises
    ------
    FileFormatError
        A negative dimension.
    SizeLimitError
        More elements than :func:`max_elements` allows (the message names the override).
    """
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise FileFormatError(f"{what} declares a negative size {tuple(dims)}", path=path)
    n = math.prod(dims)
    limit = max_elements()
    if n > limit:
        raise SizeLimitError(
            f"{what} declares {tuple(dims)} = {n:.3g} elements, more than the limit of {limit:.3g} "
            f"(corrupt, or set {MAX_ELEMENTS_ENV} to raise the limit)",
            path=path,
        )
    return n


def check_finite(arr: np.ndarray | Any, what: str, path: PathArg) -> None:
    """Raise :class:`DataValueError` when a numeric array holds NaN or Inf (no-op for integer data)."""
    a = np.asarray(arr)
    if a.dtype.kind not in "fc" or a.size == 0:
        return
    finite = np.isfinite(a)
    if not finite.all():
        raise DataValueError(f"{what} has {int((~finite).sum())} NaN/Inf values", path=path)


def _expected_chunks(shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    return math.prod(-(-s // c) for s, c in zip(shape, chunks, strict=True))


def check_h5_dataset(ds: Any, what: str, path: PathArg) -> None:
    """Refuse an HDF5 dataset whose content would not come from this file, or was never written.

    External raw storage and virtual datasets read other files (or zeros when those are missing);
    datasets without allocated storage, or chunked ones with chunks missing, read as the fill value.
    Also applies :func:`check_size` to the declared shape, checks the datatype's encoding
    (:func:`~cardiomm.io.h5_types.datatype_problem`, non-overlapping compound members) and
    variable-length data against their heap objects (:func:`~cardiomm.io.h5_heap.check_vlen_references`):
    converting data of a damaged type or with damaged references crashes libhdf5 / h5py.

    Raises
    ------
    FileFormatError
        External, virtual or (partly) unwritten dataset; storage smaller than the declared shape;
        a damaged datatype or damaged variable-length data.
    SizeLimitError
        Declared shape over the element limit.
    """
    shape = tuple(int(s) for s in (ds.shape or ()))
    check_size(shape, what, path)
    if ds.external:
        raise FileFormatError(f"{what} uses external raw storage (other files); refused", path=path)
    if ds.is_virtual:
        raise FileFormatError(f"{what} is a virtual dataset (maps other files); refused", path=path)
    problem = datatype_problem(ds.id.get_type()) or _dtype_problem(ds.dtype)
    if problem:  # converting data of such a type crashes libhdf5 / h5py (seen with both)
        raise FileFormatError(f"{what} has a damaged datatype ({problem})", path=path)
    n = math.prod(shape)
    if n == 0:
        return
    _check_storage(ds, what, path, shape, n)
    if _has_vlen(ds.dtype):
        check_vlen_references(ds, path)


def _check_storage(ds: Any, what: str, path: PathArg, shape: tuple[int, ...], n: int) -> None:
    dsid = ds.id
    if ds.chunks is not None:
        expected = _expected_chunks(shape, tuple(ds.chunks))
        written = int(dsid.get_num_chunks())
        if written < expected:
            raise FileFormatError(
                f"{what}: {expected - written} of {expected} chunks were never written (would read as "
                "fill values)",
                path=path,
            )
        return
    stored = int(dsid.get_storage_size())
    layout = dsid.get_create_plist().get_layout()

    if layout == h5py.h5d.COMPACT:
        return
    if stored == 0:
        raise FileFormatError(f"{what} was never written (no storage allocated)", path=path)
    need = n * int(dsid.get_type().get_size())  # the file type's size (h5py may widen it in memory)
    if not _has_vlen(ds.dtype) and stored < need:
        raise FileFormatError(f"{what} stores {stored} bytes, its shape {shape} needs {need}", path=path)


def _dtype_problem(dtype: np.dtype[Any]) -> str | None:
    """Overlapping or overhanging members of a compound type (HDF5 never writes them), else ``None``."""
    if dtype.subdtype is not None:
        return _dtype_problem(dtype.subdtype[0])
    if dtype.names is None:
        return None
    end = 0
    members = sorted((dtype.fields[n][1], n, dtype.fields[n][0]) for n in dtype.names)  # type: ignore[index]
    for offset, name, sub in members:
        if offset < end or offset + sub.itemsize > dtype.itemsize:
            return f"member {name!r} at byte {offset} overlaps another or the end"
        end = offset + sub.itemsize
        inner = _dtype_problem(sub)
        if inner:
            return inner
    return None


def _has_vlen(dtype: np.dtype[Any]) -> bool:
    """Whether a dtype holds variable-length members (stored as heap references, not inline)."""
    if dtype.names is not None:
        return any(_has_vlen(dtype.fields[n][0]) for n in dtype.names)  # type: ignore[index]
    if dtype.subdtype is not None:
        return _has_vlen(dtype.subdtype[0])
    return dtype.kind == "O"


def h5_member(group: Any, name: str, path: PathArg) -> Any:
    """``group[name]``, refusing an HDF5 external link (it would open another file)."""
    link = group.get(name, getlink=True)
    if link is None:
        raise FileFormatError(f"no member {name!r} in {group.name!r}", path=path)
    if isinstance(link, h5py.ExternalLink):
        raise FileFormatError(f"{name!r} is an external link to another file; refused", path=path)
    return group[name]


def h5_attrs(obj: Any, path: PathArg) -> dict[str, Any]:
    """All attributes of an HDF5 object, each type checked first (:mod:`cardiomm.io.h5_types`, compound
    layout); variable-length values only after :func:`check_global_heaps`."""
    names = list(obj.attrs)
    _check_attr_types(obj, names, path)
    return {n: obj.attrs[n] for n in names}


def h5_attr(obj: Any, name: str, path: PathArg, default: Any = None) -> Any:
    """One attribute of an HDF5 object (``default`` when absent), its type checked as in
    :func:`h5_attrs`; the other attributes are neither checked nor read (``db index`` reads only
    ``MATLAB_class`` of each variable, at a third of the cost of all of them)."""
    return h5_attr_id(obj.id, name, path, default)


def h5_attr_id(oid: Any, name: str, path: PathArg, default: Any = None) -> Any:
    """:func:`h5_attr` on a low-level h5py object id (``h5py.h5o.open``): the value as numpy reads it
    (a scalar for a scalar attribute), ``default`` when absent.

    Raises
    ------
    FileFormatError
        A damaged type, or an attribute without a value (null dataspace).
    SizeLimitError
        An attribute declaring more elements than :func:`max_elements` allows.
    """
    key = name.encode()
    if not h5py.h5a.exists(oid, key):
        return default
    aid = h5py.h5a.open(oid, key)
    _check_attr_id(aid, name, oid, path)
    if aid.shape is None:
        where = h5py.h5i.get_name(oid).decode(errors="replace")
        raise FileFormatError(f"attribute {name!r} of {where!r} has no value (null dataspace)", path=path)
    check_size(aid.shape, f"attribute {name!r}", path)
    out = np.empty(aid.shape, dtype=aid.dtype)
    aid.read(out)
    return out[()] if out.ndim == 0 else out


def _check_attr_types(obj: Any, names: list[str], path: PathArg) -> None:
    """Refuse a damaged type among the attributes ``names``; walk the global heaps before any
    variable-length one is read."""
    for n in names:
        _check_attr_id(obj.attrs.get_id(n), n, obj.id, path)


def _check_attr_id(aid: Any, name: str, oid: Any, path: PathArg) -> None:
    """Refuse a damaged type of the attribute ``aid`` (named ``name``, of the object ``oid``); walk the
    file's global heaps first if it is variable-length."""
    problem = datatype_problem(aid.get_type()) or _dtype_problem(aid.dtype)
    if problem:
        where = h5py.h5i.get_name(oid).decode(errors="replace")
        raise FileFormatError(f"attribute {name!r} of {where!r} has a damaged type ({problem})", path=path)
    if _has_vlen(aid.dtype):
        check_global_heaps(os.fsdecode(h5py.h5f.get_name(oid)), path)


@contextlib.contextmanager
def reading(path: PathArg, what: str) -> Iterator[None]:
    """Turn any non-cardiomm exception raised while reading ``path`` into a typed error naming it.

    :class:`~cardiomm.errors.CardiommError` without a path gets ``path``; ``MemoryError`` becomes
    :class:`~cardiomm.errors.SizeLimitError`; anything else (h5py ``OSError`` / ``KeyError`` /
    ``RuntimeError``, parser ``ValueError`` ...) becomes :class:`~cardiomm.errors.FileFormatError`
    "cannot read <what>, truncated or corrupt (<type>: <first line>)". The library error
    stays chained as ``__cause__`` for debugging.
    """
    try:
        yield
    except CardiommError as err:
        if err.path is None and path is not None:
            raise type(err)(err.message, path=path) from err
        raise
    except MemoryError as err:
        msg = f"out of memory reading {what} (corrupt sizes, or set {MAX_ELEMENTS_ENV} lower)"
        raise SizeLimitError(msg, path=path) from err
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except Exception as err:
        msg = f"cannot read {what}, truncated or corrupt ({type(err).__name__}: {first_line(err)})"
        raise FileFormatError(msg, path=path) from err
