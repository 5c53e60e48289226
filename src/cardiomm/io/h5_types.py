"""Check an HDF5 datatype's encoding before h5py converts data of that type.

libhdf5 decodes a datatype message without checking every enumerated field: a variable-length type
whose "sequence or string" field holds, say, 5 is accepted, and converting data of that type crashes
the process. :func:`datatype_problem` parses the type as libhdf5 holds it (``H5Tencode``, the file's
datatype message format) and reports fields outside their defined values: variable-length kind,
string padding and character set, integer and float bit layouts, compound member counts, array ranks.
Classes and versions it does not know are accepted (never a false refusal of a valid type).
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["datatype_problem"]

_INT, _FLOAT, _STRING, _BITFIELD, _COMPOUND, _VLEN, _ARRAY = 0, 1, 3, 4, 6, 9, 10


class _Bad(Exception):
    pass


def _u16(b: bytes, i: int) -> int:
    return int(struct.unpack_from("<H", b, i)[0])


def _u32(b: bytes, i: int) -> int:
    return int(struct.unpack_from("<I", b, i)[0])


def _type(b: bytes, i: int, depth: int) -> int:
    """Check the datatype message at ``b[i:]``; return the index after it."""
    if depth > 16:
        raise _Bad("types nested too deeply")
    if i + 8 > len(b):
        raise _Bad("cut short")
    cls, version = b[i] & 0x0F, b[i] >> 4
    bits = b[i + 1] | (b[i + 2] << 8) | (b[i + 3] << 16)
    size = _u32(b, i + 4)
    i += 8
    if cls in (_INT, _BITFIELD):
        offset, precision = _u16(b, i), _u16(b, i + 2)
        if size == 0 or offset + precision > 8 * size:
            raise _Bad(f"integer of {size} bytes with bits {offset}+{precision}")
        return i + 4
    if cls == _FLOAT:
        offset, precision = _u16(b, i), _u16(b, i + 2)
        exp_loc, exp_size, man_loc, man_size = b[i + 4], b[i + 5], b[i + 6], b[i + 7]
        sign_loc = (bits >> 8) & 0xFF
        if (bits >> 4) & 0x3 == 3 or size == 0 or offset + precision > 8 * size:
            raise _Bad(f"float of {size} bytes with {precision} bits")
        if max(exp_loc + exp_size, man_loc + man_size, sign_loc + 1) > precision:
            raise _Bad("float fields outside its precision")
        return i + 12
    if cls == _STRING:
        if bits & 0x0F > 2 or (bits >> 4) & 0x0F > 1:
            raise _Bad(f"string padding/character set {bits & 0xFF:#x}")
        return i
    if cls == _VLEN:
        kind, pad, cset = bits & 0x0F, (bits >> 4) & 0x0F, (bits >> 8) & 0x0F
        if kind > 1 or pad > 2 or cset > 1:
            raise _Bad(f"variable-length kind {kind}, padding {pad}, character set {cset}")
        return _type(b, i, depth + 1)
    if cls == _ARRAY:
        rank = b[i]
        if not 1 <= rank <= 32:
            raise _Bad(f"array of rank {rank}")
        i += 4 + 8 * rank if version == 2 else 1 + 4 * rank
        return _type(b, i, depth + 1)
    if cls == _COMPOUND:
        n = bits & 0xFFFF
        if n == 0:
            raise _Bad("compound without members")
        for _ in range(n):
            i = _member_type_start(b, i, version, size)
            i = _type(b, i, depth + 1)
        return i
    return len(b)  # enum, time, opaque, reference and unknown classes: accepted, stop here


def _member_type_start(b: bytes, i: int, version: int, size: int) -> int:
    """Skip a compound member's name and offset (and v1 dimension) fields; return its type's index."""
    name_len = b.index(b"\x00", i) - i + 1
    if version < 3:  # name padded to 8 bytes, 4-byte offset (+ 28 bytes of dimension fields in v1)
        return i + -(-name_len // 8) * 8 + (32 if version == 1 else 4)
    width = 1 if size < 2**8 else 2 if size < 2**16 else 3 if size < 2**24 else 4
    return i + name_len + width


def datatype_problem(tid: Any) -> str | None:
    """What is wrong with the encoding of the h5py type ``tid``, or ``None``."""
    raw = bytes(tid.encode())
    if len(raw) < 10:
        return None
    try:
        _type(raw, 2, 0)  # H5Tencode prefix: message id, encoding version
    except _Bad as err:
        return str(err)
    except (IndexError, ValueError, struct.error):
        return None  # a layout this parser does not follow: libhdf5 has accepted it
    return None
