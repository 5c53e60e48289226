"""``cardiomm db verify``: shard checksums and md5 lists of archive parts."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import h5py
import pytest

from cardiomm.cli.main import main
from cardiomm.database.shards import read_manifest
from cardiomm.database.verify import read_md5_list, verify_md5, verify_shards
from cardiomm.errors import FileFormatError


def test_verify_shards_detects_tampering(
    mini_shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    shutil.copytree(mini_shards, out)
    assert verify_shards(out).passed
    entries = read_manifest(out)["shards"]
    victim = out / entries[0]["path"]
    with h5py.File(victim, "r") as f:
        offset = f["reconstruction_rss"].id.get_chunk_info(0).byte_offset
    data = bytearray(victim.read_bytes())
    data[offset] ^= 0x55
    victim.write_bytes(bytes(data))
    truncated = out / entries[2]["path"]
    truncated.write_bytes(truncated.read_bytes()[:100])
    (out / entries[1]["path"]).unlink()
    rep = verify_shards(out)
    assert rep.mismatched == (entries[0]["path"], entries[2]["path"]) and rep.missing == (entries[1]["path"],)
    assert main(["db", "verify", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"MISMATCH {entries[0]['path']}" in printed and f"MISSING  {entries[1]['path']}" in printed


def test_verify_md5_list(tmp_path: Path) -> None:
    parts = tmp_path / "download"
    parts.mkdir()
    lines = []
    for i in range(3):
        data = f"archive part {i}".encode() * 100
        (parts / f"Data-part-{i:03d}.tar.gz").write_bytes(data)
        lines.append(f"{hashlib.md5(data).hexdigest()}  Data-part-{i:03d}.tar.gz")
    lines.append(f"{'0' * 32}  Data-part-003.tar.gz")
    listing = tmp_path / "MMCMR_427K-parts-md5sum.txt"
    listing.write_text("\n".join(lines) + "\n")
    rep = verify_md5(listing, parts)
    assert len(rep.ok) == 3 and rep.missing == ("Data-part-003.tar.gz",)
    (parts / "Data-part-001.tar.gz").write_bytes(b"corrupt")
    assert verify_md5(listing, parts).mismatched == ("Data-part-001.tar.gz",)
    assert main(["db", "verify", str(parts), "--md5", str(listing)]) == 1
    listing.write_text(lines[0] + "\n")
    assert main(["db", "verify", str(parts), "--md5", str(listing)]) == 0
    listing.write_text("not an md5 line\n")
    with pytest.raises(FileFormatError):
        read_md5_list(listing)
