"""Shard manifest (``OUT/manifest.json``), content checksums, checksum sidecars and shard paths.

Checksum definition
-------------------
Shards carry no timestamps and are written with fixed chunking, but their HDF5 *byte layout* is not
reproducible: where HDF5 places raw chunks relative to metadata depends on when h5py closes the
dataset handles (observed: the same shard written in a Dask worker and in the main process had equal
content but chunks at other offsets). The checksum is therefore a **content digest**,
:func:`shard_digest`: SHA-256 over a canonical serialisation of the root datasets (sorted by name:
name, dtype, shape, C-order little-endian bytes) and the root attributes (sorted by name: name,
dtype and value bytes, strings as UTF-8), independent of the HDF5 layout. Any change of data or
metadata changes it; a file HDF5 cannot read counts as corrupt.

The manifest lists every shard, sorted by path, with that digest and its layout. It has no
run-dependent field (no time, no file size, no counts of the run), so an interrupted-and-resumed run, an
uninterrupted one and a Dask run write identical manifests. ``<shard>.sha256`` sidecars hold the same
content digest (``<digest>  <name>`` lines; not a ``sha256sum`` file digest).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardiomm.errors import FileFormatError, InputFileError
from cardiomm.types import UNKNOWN, Modality

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "MANIFEST_NAME",
    "FAILURES_NAME",
    "ShardEntry",
    "shard_relpath",
    "sidecar_path",
    "read_sidecar",
    "read_manifest",
    "manifest_text",
    "shard_digest",
    "CHECKSUM",
    "content_hasher",
    "dataset_tag",
    "update_attrs_digest",
]

MANIFEST_FORMAT = "cardiomm-shards"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
FAILURES_NAME = "failures.json"
#: How the manifest checksum is defined (written into the manifest).
CHECKSUM = "sha256 of the shard content: root datasets and attributes, canonical serialisation v1"
_DIGEST_TAG = b"cardiomm-shard-content-v1\n"


@dataclass(frozen=True)
class ShardEntry:
    """One manifest entry: shard path (relative to OUT), content digest and layout.

    ``n_frames`` is the number of 2-D frames ``b = nt * nz``; ``shape`` is ``(b, c, ky, kx)``.
    """

    scan_id: str
    path: str
    sha256: str
    n_frames: int
    nt: int
    nz: int
    shape: tuple[int, int, int, int]


def shard_relpath(modality: str, scan_id: str) -> str:
    """``<Modality folder>/<scan_id>.h5`` (``unknown/`` for scans of unknown modality)."""
    try:
        folder = Modality(modality).folder
    except ValueError:
        folder = UNKNOWN
    return f"{folder}/{scan_id}.h5"


def sidecar_path(shard: Path) -> Path:
    """The ``<shard>.sha256`` checksum sidecar."""
    return shard.with_name(shard.name + ".sha256")


def read_sidecar(path: Path) -> str | None:
    """The digest stored in a ``.sha256`` sidecar, or ``None`` if missing or empty."""
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        return None


def read_manifest(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``OUT/manifest.json``.

    Raises
    ------
    InputFileError
        No manifest (run ``cardiomm db prepare``).
    FileFormatError
        Not a cardiomm shard manifest.
    """
    path = Path(out) / MANIFEST_NAME
    if not path.is_file():
        raise InputFileError("no manifest.json (run `cardiomm db prepare` first)", path=path)
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        raise FileFormatError("manifest is not valid JSON", path=path) from None
    if doc.get("format") != MANIFEST_FORMAT:
        raise FileFormatError("not a cardiomm shard manifest", path=path)
    return doc


def manifest_text(entries: list[dict[str, Any]]) -> str:
    """Canonical manifest JSON for shard entries (sorted by path, sorted keys)."""
    doc = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "checksum": CHECKSUM,
        "layout": {
            "kspace": "(b, c, ky, kx) complex64, b = t * nz + z (t-major); n_frames = b = nt * nz",
            "reconstruction_rss": "(b, y, x) float32",
        },
        "shards": sorted(entries, key=lambda e: e["path"]),
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def _attr_bytes(value: Any) -> bytes:
    import numpy as np  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    if isinstance(value, bytes):
        return b"b:" + value
    if isinstance(value, str):
        return b"s:" + value.encode("utf-8")
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        items = (v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel())
        return b"s:" + "\x1f".join(items).encode()
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return f"{arr.dtype.str}{arr.shape}:".encode() + arr.tobytes()


def content_hasher() -> Any:
    """A ``hashlib.sha256`` object primed with the content-digest tag (first step of :func:`shard_digest`).

    A writer that streams datasets feeds it, in dataset-name order, :func:`dataset_tag` then the
    C-order little-endian bytes of the dataset, and finally :func:`update_attrs_digest`.
    """
    return hashlib.sha256(_DIGEST_TAG)


def dataset_tag(name: str, dtype: Any, shape: tuple[int, ...]) -> bytes:
    """The line that opens dataset ``name`` in the content digest (``dtype`` little-endian)."""
    import numpy as np  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    dt = np.dtype(dtype).newbyteorder("<")
    return f"D {name} {dt.str} {tuple(int(s) for s in shape)}\n".encode()


def update_attrs_digest(h: Any, attrs: Any) -> None:
    """Feed the root attributes (an h5py ``AttributeManager``, as read back) to the digest ``h``."""
    for name in sorted(attrs.keys()):
        h.update(f"A {name}\n".encode() + _attr_bytes(attrs[name]) + b"\n")


def shard_digest(path: str | os.PathLike[str]) -> str:
    """Content digest of an HDF5 shard (see the module docstring), read one frame at a time.

    Raises
    ------
    FileFormatError
        The file cannot be read as HDF5.
    """
    import h5py  # noqa: PLC0415 - lazy: importing this module loads no h5py
    import numpy as np  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    h = content_hasher()
    try:
        with h5py.File(path, "r") as f:
            for name in sorted(f.keys()):
                ds = f[name]
                if not isinstance(ds, h5py.Dataset):
                    h.update(f"G {name}\n".encode())
                    continue
                dtype = ds.dtype.newbyteorder("<")
                h.update(dataset_tag(name, dtype, ds.shape))
                if ds.ndim == 0 or ds.shape[0] == 0:
                    h.update(np.ascontiguousarray(ds[()], dtype=dtype).tobytes())
                    continue
                for i in range(ds.shape[0]):
                    h.update(np.ascontiguousarray(ds[i], dtype=dtype).tobytes())
            update_attrs_digest(h, f.attrs)
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        msg = (str(err).splitlines() or [""])[0][:80]
        text = f"cannot read shard, truncated or corrupt ({type(err).__name__}: {msg})"
        raise FileFormatError(text, path=path) from None
    return h.hexdigest()
