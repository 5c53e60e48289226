"""Structure check of MAT v5 and v4 files before :mod:`scipy.io` reads them.

scipy's compiled v5 reader trusts the element tags: a zeroed or damaged tag (e.g. the tag of an array's
data element) can make it read out of bounds and kill the process with a segmentation fault, and a
damaged dimension can make it allocate gigabytes. :func:`check_mat_structure` therefore walks the file
first, without reading array data, and raises a typed error for anything scipy could not read safely:

- the 128-byte header with the ``IM`` / ``MI`` endian indicator (v5), or the 20-byte headers of v4;
- every top-level element is ``miMATRIX`` or ``miCOMPRESSED`` and lies inside the file (compressed
  elements are decompressed in a stream, output discarded, and checked the same way);
- inside an array: the flags (``miUINT32``, 8 bytes, a known class), the dimensions (``miINT32``,
  at least two, none negative, the element count under :func:`~cardiomm.io.checks.max_elements`),
  the name, and the data elements: a numeric type whose byte count equals ``count * itemsize``;
  cells and structs are checked recursively (depth at most 32); sparse arrays check their index
  element sizes; function handles and opaque objects (MATLAB classes) are skipped unchecked;
- every sub-element ends inside its parent.

Only the layout is checked: the values are scipy's business.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from cardiomm.errors import FileFormatError
from cardiomm.io.checks import check_size

__all__ = ["check_mat_structure"]

# miType -> item size in bytes (numeric and text types), and the two container types.
_MI_SIZE = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
_MI_NUMERIC = {1, 2, 3, 4, 5, 6, 7, 9, 12, 13}
_MI_TEXT = _MI_NUMERIC | {16, 17, 18}
_MI_INT32, _MI_UINT32, _MI_INT8 = 5, 6, 1
_MI_MATRIX, _MI_COMPRESSED = 14, 15
# mxClass values
_MX_CELL, _MX_STRUCT, _MX_OBJECT, _MX_CHAR, _MX_SPARSE = 1, 2, 3, 4, 5
_MX_NUMERIC = set(range(6, 16))
_MX_SKIPPED = {16, 17}  # function handle, opaque object (e.g. MATLAB string, table)
_MAX_DEPTH = 32
_MAX_NAME = 4096


class _Corrupt(Exception):
    """Internal: a structural problem, turned into :class:`FileFormatError` with the path."""


class _FileSource:
    """Bytes of a file region, read sequentially; ``skip`` seeks."""

    def __init__(self, fh: BinaryIO, start: int, end: int) -> None:
        self.fh, self.pos, self.end = fh, start, end
        fh.seek(start)

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise _Corrupt(f"element at byte {self.pos} runs past the end of its container")
        data = self.fh.read(n)
        if len(data) != n:
            raise _Corrupt(f"file ends inside the element at byte {self.pos}")
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise _Corrupt(f"element at byte {self.pos} runs past the end of its container")
        self.pos += n
        self.fh.seek(self.pos)


class _ZlibSource:
    """The decompressed bytes of one ``miCOMPRESSED`` element, streamed; ``skip`` discards."""

    _BLOCK = 1 << 16

    def __init__(self, fh: BinaryIO, start: int, n_compressed: int) -> None:
        self.fh, self.left = fh, n_compressed
        fh.seek(start)
        self.zobj = zlib.decompressobj()
        self.buf = b""
        self.pos = 0
        self.end = 1 << 62  # no container limit until an element sets one

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            tail = self.zobj.unconsumed_tail
            if not tail:
                if self.left <= 0 or self.zobj.eof:
                    raise _Corrupt("compressed variable ends early (truncated or corrupt)")
                tail = self.fh.read(min(self._BLOCK, self.left))
                if not tail:
                    raise _Corrupt("file ends inside a compressed variable")
                self.left -= len(tail)
            try:
                self.buf += self.zobj.decompress(tail, max(n - len(self.buf), self._BLOCK))
            except zlib.error as err:
                raise _Corrupt(f"compressed variable is corrupt ({err})") from None

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise _Corrupt(f"element at byte {self.pos} of a compressed variable runs past its container")
        out = b""
        while len(out) < n:
            want = min(n - len(out), 1 << 20)
            self._fill(want)
            out, self.buf = out + self.buf[:want], self.buf[want:]
        self.pos += n
        return out

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise _Corrupt(f"element at byte {self.pos} of a compressed variable runs past its container")
        left = n
        while left:
            want = min(left, 1 << 20)
            self._fill(want)
            self.buf = self.buf[want:]
            left -= want
        self.pos += n


_Source = _FileSource | _ZlibSource


class _Walker:
    def __init__(self, endian: str, path: Path, names: set[str] | None) -> None:
        self.bo: str = "little" if endian == "<" else "big"
        self.path = path
        self.names = names  # variables checked in full (None: all); the others only by their header

    def u32(self, b: bytes, i: int = 0) -> int:
        return int.from_bytes(b[i : i + 4], self.bo)  # type: ignore[arg-type]

    def i32(self, b: bytes, i: int = 0) -> int:
        return int.from_bytes(b[i : i + 4], self.bo, signed=True)  # type: ignore[arg-type]

    def tag(self, src: _Source) -> tuple[int, int, bytes | None]:
        """``(miType, nbytes, data of a small element or None)``."""
        raw = src.read(8)
        word = self.u32(raw)
        if word >> 16:  # small data element: 2-byte size, 2-byte type, data in the next 4 bytes
            mtype, nbytes = word & 0xFFFF, word >> 16
            if nbytes > 4:
                raise _Corrupt(f"small data element of {nbytes} bytes")
            return mtype, nbytes, raw[4 : 4 + nbytes]
        return word, self.u32(raw, 4), None

    def element(self, src: _Source, allowed: set[int], what: str) -> tuple[int, int, bytes | None]:
        """Read a sub-element tag; return ``(type, nbytes, data)``, data read only when small."""
        mtype, nbytes, small = self.tag(src)
        if mtype not in allowed:
            raise _Corrupt(f"{what}: element type {mtype} where {sorted(allowed)} expected")
        return mtype, nbytes, small

    def data(self, src: _Source, nbytes: int, small: bytes | None) -> bytes:
        if small is not None:
            return small
        out = src.read(nbytes)
        src.skip((-nbytes) % 8)
        return out

    def skip_data(self, src: _Source, nbytes: int, small: bytes | None) -> None:
        if small is None:
            src.skip(nbytes + (-nbytes) % 8)

    def matrix(self, src: _Source, nbytes: int, depth: int) -> None:
        """Check one ``miMATRIX`` body of ``nbytes`` starting at the current position."""
        if depth > _MAX_DEPTH:
            raise _Corrupt(f"cells/structs nested deeper than {_MAX_DEPTH}")
        if nbytes == 0:
            return  # empty cell / struct field
        start, outer_end = src.pos, src.end
        end = start + nbytes
        if end > outer_end:
            raise _Corrupt(f"array at byte {start} runs past the end of its container")
        src.end = end
        try:
            complete = self._matrix_body(src, depth)
        finally:
            src.end = outer_end
        if complete:
            src.skip(end - src.pos)

    def _matrix_body(self, src: _Source, depth: int) -> bool:
        """Check an array's sub-elements; ``False`` when only its header was checked (not wanted)."""
        _, n, small = self.element(src, {_MI_UINT32}, "array flags")
        flags = self.data(src, n, small)
        if n != 8:
            raise _Corrupt(f"array flags of {n} bytes, 8 expected")
        mclass, complex_ = self.u32(flags) & 0xFF, bool(self.u32(flags) & 0x0800)
        if mclass in _MX_SKIPPED:
            src.skip(src.end - src.pos)
            return True
        if mclass not in _MX_NUMERIC | {_MX_CELL, _MX_STRUCT, _MX_OBJECT, _MX_CHAR, _MX_SPARSE}:
            raise _Corrupt(f"unknown array class {mclass}")
        _, n, small = self.element(src, {_MI_INT32}, "dimensions")
        raw = self.data(src, n, small)
        if n < 8 or n % 4:
            raise _Corrupt(f"dimensions element of {n} bytes")
        dims = [self.i32(raw, 4 * i) for i in range(n // 4)]
        count = check_size(dims, "MAT v5 array", self.path)
        _, n, small = self.element(src, _MI_TEXT, "array name")
        if n > _MAX_NAME:
            raise _Corrupt(f"array name of {n} bytes")
        name = self.data(src, n, small).decode("latin-1")
        header_only = depth == 0 and self.names is not None and name not in self.names
        if mclass in _MX_NUMERIC or mclass == _MX_CHAR:
            for _part in range(2 if complex_ else 1):
                if count == 0 and src.pos == src.end:
                    return True  # empty array without data element
                allowed = _MI_NUMERIC if mclass in _MX_NUMERIC else _MI_TEXT
                mtype, n, small = self.element(src, allowed, "array data")
                if mtype not in (16, 17) and n != count * _MI_SIZE[mtype]:
                    need = count * _MI_SIZE[mtype]
                    raise _Corrupt(f"array data of {n} bytes, its dimensions {dims} need {need}")
                if header_only:
                    return False  # scipy reads no data of this variable: its size was checked, enough
                self.skip_data(src, n, small)
        elif header_only:
            return False
        elif mclass == _MX_SPARSE:
            if len(dims) != 2:
                raise _Corrupt(f"sparse array with {len(dims)} dimensions")
            nzmax = self.u32(flags, 4)
            _, n, small = self.element(src, {_MI_INT32}, "sparse row indices")
            if n > 4 * max(nzmax, 1):
                raise _Corrupt("sparse row indices larger than nzmax")
            self.skip_data(src, n, small)
            _, n, small = self.element(src, {_MI_INT32}, "sparse column indices")
            if n != 4 * (dims[1] + 1):
                raise _Corrupt(f"sparse column indices of {n} bytes for {dims[1]} columns")
            self.skip_data(src, n, small)
            for _part in range(2 if complex_ else 1):
                _, n, small = self.element(src, _MI_NUMERIC, "sparse values")
                self.skip_data(src, n, small)
        elif mclass == _MX_CELL:
            for _ in range(count):
                _, n, _small = self.element(src, {_MI_MATRIX}, "cell element")
                self.matrix(src, n, depth + 1)
        else:  # struct / object
            if mclass == _MX_OBJECT:
                _, n, small = self.element(src, {_MI_INT8}, "object class name")
                self.data(src, n, small)
            _, n, small = self.element(src, {_MI_INT32}, "field name length")
            raw = self.data(src, n, small)
            if n != 4:
                raise _Corrupt(f"field name length of {n} bytes")
            length = self.i32(raw)
            _, n, small = self.element(src, {_MI_INT8}, "field names")
            if length <= 0 or n % length:
                raise _Corrupt(f"field names of {n} bytes with field length {length}")
            self.skip_data(src, n, small)
            n_fields = n // length
            check_size([count, n_fields], "MAT v5 struct", self.path)
            for _ in range(count * n_fields):
                _, n, _small = self.element(src, {_MI_MATRIX}, "struct field")
                self.matrix(src, n, depth + 1)
        return True


def _check_v5(fh: BinaryIO, size: int, path: Path, names: set[str] | None) -> None:
    fh.seek(0)
    head = fh.read(128)
    if len(head) < 128:
        raise _Corrupt("header shorter than 128 bytes")
    indicator = head[126:128]
    if indicator not in (b"IM", b"MI"):
        raise _Corrupt("no endian indicator in the header")
    walker = _Walker("<" if indicator == b"IM" else ">", path, names)
    pos = 128
    while pos < size:
        if size - pos < 8:
            raise _Corrupt(f"{size - pos} stray bytes at the end of the file")
        src: _Source = _FileSource(fh, pos, size)
        mtype, nbytes, small = walker.tag(src)
        if small is not None or mtype not in (_MI_MATRIX, _MI_COMPRESSED):
            raise _Corrupt(f"top-level element of type {mtype} at byte {pos} (miMATRIX expected)")
        if pos + 8 + nbytes > size:
            raise _Corrupt(f"variable at byte {pos} declares {nbytes} bytes, past the end of the file")
        if mtype == _MI_MATRIX:
            walker.matrix(src, nbytes, 0)
        else:
            zsrc = _ZlibSource(fh, pos + 8, nbytes)
            inner, n, small = walker.tag(zsrc)
            if small is not None or inner != _MI_MATRIX:
                raise _Corrupt(f"compressed variable at byte {pos} does not hold an array")
            walker.matrix(zsrc, n, 0)
        pos += 8 + nbytes


def _check_v4(fh: BinaryIO, size: int, path: Path, names: set[str] | None) -> None:
    pos = 0
    while pos < size:
        fh.seek(pos)
        head = fh.read(20)
        if len(head) < 20:
            raise _Corrupt(f"variable header at byte {pos} cut short")
        bo = "little"
        mopt = int.from_bytes(head[:4], "little")
        if not 0 <= mopt < 5000:
            bo, mopt = "big", int.from_bytes(head[:4], "big")
        if not 0 <= mopt < 5000:
            raise _Corrupt(f"bad v4 type code at byte {pos}")
        m, rest = divmod(mopt, 1000)
        o, rest = divmod(rest, 100)
        prec, kind = divmod(rest, 10)
        if m > 4 or o != 0 or prec > 5 or kind > 2:
            raise _Corrupt(f"bad v4 type code {mopt} at byte {pos}")
        mrows, ncols, imagf, namlen = (int.from_bytes(head[i : i + 4], bo) for i in (4, 8, 12, 16))  # type: ignore[arg-type]
        count = check_size([mrows, ncols], "MAT v4 array", path)
        item = (8, 4, 4, 2, 2, 1)[prec]
        nbytes = namlen + count * item * (2 if imagf else 1)
        if namlen > _MAX_NAME or pos + 20 + nbytes > size:
            raise _Corrupt(f"variable at byte {pos} runs past the end of the file")
        pos += 20 + nbytes


def check_mat_structure(path: str | Path, version: str, names: Iterable[str] | None = None) -> None:
    """Walk a MAT ``version`` ``"5"`` or ``"4"`` file's element structure (see the module docstring).

    Every variable's header (class, dimensions, name, and the size of its first data element) is
    checked; all data elements only of the variables in ``names`` (``None``: all), which are the ones
    scipy will read. Listing variables
    (:func:`scipy.io.whosmat`) needs ``names=()``: no compressed variable is decompressed then.

    Raises
    ------
    FileFormatError
        A structural problem (the message gives the byte offset).
    SizeLimitError
        An array with more elements than the size guard allows.
    """
    p = Path(path)
    size = p.stat().st_size
    try:
        with open(p, "rb") as fh:
            wanted = None if names is None else set(names)
            if version == "5":
                _check_v5(fh, size, p, wanted)
            else:
                _check_v4(fh, size, p, wanted)
    except _Corrupt as err:
        raise FileFormatError(f"MAT v{version} file truncated or corrupt: {err}", path=p) from None
