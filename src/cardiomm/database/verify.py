"""Integrity checks: shard checksums against the manifest, archive parts against an md5 list.

The md5 list has the ``md5sum`` format MMCMR-427K publishes: one ``<md5>  <file name>`` per line
(e.g. ``9e107d9d372bb6826bd81d3542a419d6  Data-part-000.tar.gz``; a ``*`` before the name marks
binary mode and is ignored; blank lines and ``#`` comments are skipped).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cardiomm.database.manifest import read_manifest, shard_digest
from cardiomm.errors import CardiommError, FileFormatError, InputFileError

__all__ = ["VerifyReport", "verify_shards", "verify_md5", "read_md5_list", "md5_file"]

_MD5_LINE = re.compile(r"^(?P<md5>[0-9a-fA-F]{32})\s+\*?(?P<name>.+?)\s*$")


@dataclass(frozen=True)
class VerifyReport:
    """Result of a verification.

    Attributes
    ----------
    n_checked
        Files checked.
    ok
        Files whose checksum matched.
    mismatched
        Files whose checksum differs.
    missing
        Files listed but not found.
    """

    n_checked: int
    ok: tuple[str, ...] = field(default=())
    mismatched: tuple[str, ...] = field(default=())
    missing: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True when nothing is mismatched or missing."""
        return not self.mismatched and not self.missing


def verify_shards(out: str | os.PathLike[str]) -> VerifyReport:
    """Re-compute the content digest of every shard listed in ``OUT/manifest.json``.

    A shard that HDF5 cannot read counts as mismatched.

    Raises
    ------
    InputFileError, FileFormatError
        No manifest, or not a shard manifest.
    """
    base = Path(out)
    doc = read_manifest(base)
    ok: list[str] = []
    bad: list[str] = []
    missing: list[str] = []
    for entry in doc.get("shards", []):
        path = base / entry["path"]
        if not path.is_file():
            missing.append(entry["path"])
            continue
        try:
            same = shard_digest(path) == entry["sha256"]
        except CardiommError:
            same = False
        (ok if same else bad).append(entry["path"])
    n = len(doc.get("shards", []))
    return VerifyReport(n_checked=n, ok=tuple(ok), mismatched=tuple(bad), missing=tuple(missing))


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    """MD5 of a file, streamed."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_md5_list(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Parse an ``md5sum`` list into ``(md5, file name)`` pairs.

    Raises
    ------
    InputFileError
        Missing list.
    FileFormatError
        A line that is not ``<32 hex digits>  <name>``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError("md5 list not found", path=p)
    pairs = []
    for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _MD5_LINE.match(line.strip())
        if not m:
            raise FileFormatError(f"line {i} is not '<md5>  <file name>'", path=p)
        pairs.append((m.group("md5").lower(), m.group("name")))
    return pairs


def verify_md5(md5_list: str | os.PathLike[str], folder: str | os.PathLike[str]) -> VerifyReport:
    """Check the files of ``folder`` named in an md5 list (e.g. downloaded ``Data-part-*.tar.gz``)."""
    base = Path(folder)
    ok, bad, missing = [], [], []
    pairs = read_md5_list(md5_list)
    for digest, name in pairs:
        path = base / name
        if not path.is_file():
            missing.append(name)
        elif md5_file(path) != digest:
            bad.append(name)
        else:
            ok.append(name)
    return VerifyReport(n_checked=len(pairs), ok=tuple(ok), mismatched=tuple(bad), missing=tuple(missing))
