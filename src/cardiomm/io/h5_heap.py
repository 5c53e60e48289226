"""HDF5 variable-length data: check global heaps and references before libhdf5 reads them.

Variable-length values (strings, ISMRMRD acquisition samples) are stored in *global heap collections*
(``GCOL``); a dataset element holds a reference ``(length, collection address, object index)``.
libhdf5 trusts both:

- it walks a collection's objects by their declared sizes and loops forever on a zero-size object
  (one damaged byte hangs the reader);
- it copies a heap object of the *declared object size* into a buffer sized from the *reference's
  length*: a length that disagrees with the object overflows the buffer and crashes the process later.

:func:`check_global_heaps` walks every collection of a file the way libhdf5 does (used before reading
variable-length attributes, whose references are not reachable here). :func:`check_vlen_references`
reads a dataset's raw references (contiguous or chunked storage, no filter or deflate) and checks each
one against the object it points to: the collection is walked as above, the object exists and holds
exactly ``length x item size`` bytes. Layouts it cannot read (compact storage, other filters, strings
inside compound types) fall back to :func:`check_global_heaps`.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from typing import Any

import h5py

from cardiomm.errors import FileFormatError

__all__ = ["check_global_heaps", "check_vlen_references"]

PathArg = str | os.PathLike[str] | None
_REF = struct.Struct("<IQI")  # sequence length, collection address (relative to the base), object index
_DEFLATE = 1
_HEAPS_CHECKED: dict[tuple[str, int, int], None] = {}


def _collection(mm: mmap.mmap, start: int, file_size: int) -> dict[int, int] | str | None:
    """Objects ``{index: size}`` of the collection at ``start``, a problem (str), or ``None`` when there
    is no collection there."""
    if start < 0 or start + 16 > file_size or mm[start : start + 4] != b"GCOL" or mm[start + 4] != 1:
        return None
    (size,) = struct.unpack_from("<Q", mm, start + 8)
    if size < 4096 or start + size > file_size:
        return None  # libhdf5 reports a bad collection size itself
    objects: dict[int, int] = {}
    p, end = start + 16, start + size
    while p + 16 <= end:  # a tail too small for an object header is free space
        index, _, _, obj_size = struct.unpack_from("<HHIQ", mm, p)
        need = 16 + -(-obj_size // 8) * 8 if index > 0 else obj_size
        if need < 16 or p + need > end:
            return f"object {index} at byte {p} declares {obj_size} bytes"
        if index > 0:
            objects[index] = obj_size
        p += need
    return objects


def check_global_heaps(filename: str | os.PathLike[str], path: PathArg = None) -> None:
    """Walk every global heap collection of an HDF5 file (cached per path, size and mtime).

    Raises
    ------
    FileFormatError
        A collection whose objects do not tile it (libhdf5 would loop forever or read past it).
    """
    st = os.stat(filename)
    key = (os.path.realpath(filename), st.st_size, st.st_mtime_ns)
    if key in _HEAPS_CHECKED or st.st_size < 16:
        return
    with open(filename, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = mm.find(b"GCOL")
        while pos != -1:
            found = _collection(mm, pos, st.st_size)
            if isinstance(found, str):
                msg = f"damaged HDF5 global heap collection at byte {pos}: {found}"
                raise FileFormatError(msg, path=path if path is not None else filename)
            pos = mm.find(b"GCOL", pos + 4)
    if len(_HEAPS_CHECKED) > 256:
        _HEAPS_CHECKED.clear()
    _HEAPS_CHECKED[key] = None


def _vlen_fields(tid: Any) -> tuple[int, list[tuple[int, int]]] | None:
    """``(element size, [(offset of a reference, bytes per item)])``; ``None`` when unsupported."""
    h5t = h5py.h5t
    if isinstance(tid, h5t.TypeStringID):
        return (16, [(0, 1)]) if tid.is_variable_str() else (tid.get_size(), [])
    if isinstance(tid, h5t.TypeVlenID):
        return 16, [(0, tid.get_super().get_size())]
    if isinstance(tid, h5t.TypeCompoundID):
        refs: list[tuple[int, int]] = []
        for i in range(tid.get_nmembers()):
            member = tid.get_member_type(i)
            if isinstance(member, h5t.TypeStringID) and member.is_variable_str():
                return None  # its memory and file sizes differ: member offsets are not file offsets
            sub = _vlen_fields(member)
            if sub is None:
                return None
            refs += [(tid.get_member_offset(i) + off, item) for off, item in sub[1]]
        return tid.get_size(), refs
    if isinstance(tid, h5t.TypeArrayID):
        sub = _vlen_fields(tid.get_super())
        return None if sub is None or sub[1] else (tid.get_size(), [])
    return tid.get_size(), []


def _raw_blocks(ds: Any, mm: mmap.mmap, file_size: int, size: int) -> list[bytes] | None:
    """The dataset's raw element bytes, block by block; ``None`` when the layout cannot be read."""
    dsid = ds.id
    dcpl = dsid.get_create_plist()
    layout = dcpl.get_layout()
    filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    if layout == h5py.h5d.CONTIGUOUS:
        start, size = dsid.get_offset(), dsid.get_storage_size()
        return None if start is None or start + size > file_size else [mm[start : start + size]]
    if layout != h5py.h5d.CHUNKED or any(f != _DEFLATE for f in filters):
        return None
    infos: list[Any] = []
    dsid.chunk_iter(infos.append)
    chunk_bytes = size
    for c in ds.chunks:
        chunk_bytes *= int(c)
    blocks = []
    for info in infos:
        raw = mm[info.byte_offset : info.byte_offset + info.size]
        if len(raw) != info.size:
            return None  # libhdf5 reports the truncated chunk itself
        for _ in filters if not info.filter_mask else ():
            raw = zlib.decompressobj().decompress(raw, chunk_bytes)  # bounded: no zip bomb
        blocks.append(raw)
    return blocks


def check_vlen_references(ds: Any, path: PathArg) -> None:
    """Check every variable-length reference of dataset ``ds`` against its heap object (module doc).

    Raises
    ------
    FileFormatError
        A damaged collection, a reference to a missing collection or object, or a length that does not
        match the object's size.
    """
    fields = _vlen_fields(ds.id.get_type())
    filename = ds.file.filename
    if fields is None:
        check_global_heaps(filename, path)
        return
    size, refs = fields
    if not refs:
        return
    base = int(ds.file.id.get_create_plist().get_userblock())
    file_size = os.stat(filename).st_size
    collections: dict[int, dict[int, int] | str | None] = {}
    with open(filename, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        blocks = _raw_blocks(ds, mm, file_size, size)
        if blocks is None:
            check_global_heaps(filename, path)
            return
        for raw in blocks:
            for start in range(0, len(raw) - size + 1, size):
                for off, item in refs:
                    length, addr, index = _REF.unpack_from(raw, start + off)
                    if length == 0:
                        continue
                    if addr not in collections:
                        collections[addr] = _collection(mm, base + addr, file_size)
                    objects = collections[addr]
                    problem = _reference_problem(objects, length, item, index, base + addr)
                    if problem:
                        msg = f"{ds.name}: damaged variable-length data ({problem})"
                        raise FileFormatError(msg, path=path)


def _reference_problem(
    objects: dict[int, int] | str | None, length: int, item: int, index: int, at: int
) -> str:
    if objects is None:
        return f"reference to byte {at}, which holds no global heap collection"
    if isinstance(objects, str):
        return f"global heap collection at byte {at}: {objects}"
    if index not in objects:
        return f"reference to a missing object {index} of the collection at byte {at}"
    if objects[index] != length * item:
        return f"{length} items of {item} bytes stored in a heap object of {objects[index]} bytes"
    return ""
