"""Seeded byte-level mutators, and :func:`mutate`, which applies any mutator to a seed.

A mutator gets the seed's name and path (file or DICOM folder), a destination, a
:class:`numpy.random.Generator` and the reader the input is meant for. It writes the mutated input and
returns whether the reader **must** reject it: ``True`` for corruption that reader can detect (NaN
data, unwritten HDF5 chunks, counters outside the header's limits ...), ``False`` when any outcome but
a failure is acceptable, ``None`` when it does not apply (the runner counts it apart).

Byte-level mutators work on any file: bit flips, byte overwrites with interesting values, truncation,
insertion, deletion, zeroed 8-byte segments, duplicated spans. For a DICOM folder they damage one
file. The structured mutators are in :mod:`tests.fuzz.h5_mutators` (HDF5 datasets and attributes,
ISMRMRD headers) and :mod:`tests.fuzz.format_mutators` (MAT v5 tags, NIfTI header fields, DICOM
elements, CSV values, twix counters).
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .format_mutators import FORMAT_MUTATORS
from .h5_mutators import H5_MUTATORS, Mutator, Rng

_INTERESTING = [
    b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\xff\x7f", b"\x00\x80",
    b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80",
    struct.pack("<I", 65535), struct.pack("<I", 65536), struct.pack("<I", 10**9), struct.pack("<i", -1),
    struct.pack("<f", float("nan")), struct.pack("<f", float("inf")), struct.pack("<d", float("nan")),
    struct.pack("<Q", 10**12), struct.pack("<Q", 2**63), b"\x00" * 8, b"\xff" * 8,
]  # fmt: skip


def _offset(rng: Rng, n: int, width: int = 1) -> int:
    """A random offset, biased to the first 1 KiB (headers) half of the time."""
    top = max(n - width, 1)
    if rng.random() < 0.5:
        return int(rng.integers(0, min(top, 1024)))
    return int(rng.integers(0, top))


def bitflip(data: bytes, rng: Rng) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 17))):
        i = _offset(rng, len(out))
        out[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def overwrite(data: bytes, rng: Rng) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        value = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
        if rng.random() < 0.3:
            value = rng.bytes(int(rng.integers(1, 9)))
        i = _offset(rng, len(out), len(value))
        if rng.random() < 0.5:
            i -= i % len(value)
        out[i : i + len(value)] = value
    return bytes(out[: len(data)])


def truncate(data: bytes, rng: Rng) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def insert(data: bytes, rng: Rng) -> bytes:
    i = int(rng.integers(0, len(data) + 1))
    return data[:i] + rng.bytes(int(rng.integers(1, 65))) + data[i:]


def delete(data: bytes, rng: Rng) -> bytes:
    i = _offset(rng, len(data))
    return data[:i] + data[i + int(rng.integers(1, 65)) :]


def zero8(data: bytes, rng: Rng) -> bytes:
    """Zero aligned 8-byte segments (MAT v5 tags are 8-byte aligned)."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 3))):
        i = _offset(rng, len(out), 8)
        i -= i % 8
        out[i : i + 8] = bytes(8)
    return bytes(out)


def duplicate(data: bytes, rng: Rng) -> bytes:
    n = int(rng.integers(1, 257))
    src, dst = _offset(rng, len(data), n), _offset(rng, len(data), n)
    out = bytearray(data)
    out[dst : dst + n] = data[src : src + n]
    return bytes(out[: len(data)])


BYTE_MUTATORS: dict[str, Callable[[bytes, Rng], bytes]] = {
    "bitflip": bitflip,
    "overwrite": overwrite,
    "truncate": truncate,
    "insert": insert,
    "delete": delete,
    "zero8": zero8,
    "duplicate": duplicate,
}


def _byte_mutator(fn: Callable[[bytes, Rng], bytes]) -> Mutator:
    def apply(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
        if src.is_dir():
            shutil.copytree(src, dst)
            files = sorted(p for p in dst.iterdir() if p.is_file())
            victim = files[int(rng.integers(0, len(files)))]
            victim.write_bytes(fn(victim.read_bytes(), rng))
        else:
            dst.write_bytes(fn(src.read_bytes(), rng))
        return False

    return apply


#: Every mutator: name -> (function, seed names it applies to, or None for all), with weights.
MUTATORS: dict[str, tuple[Mutator, frozenset[str] | None, float]] = {
    **{name: (_byte_mutator(fn), None, 1.0) for name, fn in BYTE_MUTATORS.items()},
    **H5_MUTATORS,
    **FORMAT_MUTATORS,
}


def applicable(seed: str) -> list[tuple[str, float]]:
    """Names and weights of the mutators that apply to ``seed``."""
    return [(name, w) for name, (_, seeds, w) in MUTATORS.items() if seeds is None or seed in seeds]


def mutate(seed: str, src: Path, dst: Path, mutator: str, rng_seed: int, reader: str) -> bool | None:
    """Write the mutation ``mutator`` (seeded with ``rng_seed``) of ``src`` to ``dst``; see the module doc.

    Deterministic: the same arguments give the same bytes, so a failing input can be rebuilt from its
    job description alone.
    """
    fn, seeds, _ = MUTATORS[mutator]
    if seeds is not None and seed not in seeds:
        return None
    rng = np.random.default_rng(rng_seed)
    return fn(seed, src, dst, rng, reader)
