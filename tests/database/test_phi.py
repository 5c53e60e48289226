"""PHI safety: salt handling, keyed pseudonyms, and an end-to-end run with planted PHI."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

import pytest

from cardiomm.cli.main import main
from cardiomm.database.phi import (
    DICOM_ALLOWED_KEYWORDS,
    DICOM_BASIC_PROFILE,
    Pseudonymizer,
    ensure_outside,
    find_strings,
    load_salt,
    normalise_vendor,
    safe_error,
)
from cardiomm.errors import ConfigError, PHIError


def test_load_salt_creates_private_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "salt"
    salt = load_salt(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(salt) >= 32
    assert load_salt(path) == salt  # stable
    os.chmod(path, 0o644)
    with pytest.raises(PHIError):
        load_salt(path)
    with pytest.raises(ConfigError):
        load_salt(tmp_path / "missing", create=False)


def test_ensure_outside_rejects_salt_in_output(tmp_path: Path) -> None:
    ensure_outside(tmp_path / "secret" / "salt", tmp_path / "catalog")
    with pytest.raises(PHIError):
        ensure_outside(tmp_path / "catalog" / "salt", tmp_path / "catalog")


def test_pseudonymizer_keyed_and_hidden() -> None:
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert a.patient_id("Center001", "ORIGID-4242") == a.patient_id("Center001", " ORIGID-4242 ")
    assert a.patient_id("Center001", "ORIGID-4242") != b.patient_id("Center001", "ORIGID-4242")
    assert a.patient_id("Center001", "X") != a.patient_id("Center002", "X")
    assert "aaaa" not in repr(a)


def test_scrub_lists_cover_basic_profile_essentials() -> None:
    keywords = {k for k, _, _ in DICOM_BASIC_PROFILE}
    for must in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
                 "DeviceSerialNumber", "StudyDate", "ImageComments", "ReferringPhysicianName"):  # fmt: skip
        assert must in keywords
    hashed_or_hint = {"PatientID", "SeriesInstanceUID", "SeriesDescription", "ProtocolName"}
    copied = set(DICOM_ALLOWED_KEYWORDS) - hashed_or_hint
    assert not copied & keywords  # nothing scrubbed is ever copied


def test_safe_error_masks_values() -> None:
    msg = safe_error(ValueError("bad value 'DOE^JANE' for 19700101 at DOE^JANE"))
    assert "DOE" not in msg and "19700101" not in msg and msg.startswith("ValueError")
    assert normalise_vendor("GE MEDICAL SYSTEMS") == "GE"
    assert normalise_vendor("Philips Medical Systems") == "Philips"


def test_planted_phi_never_reaches_outputs(
    phi_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    twix_header: dict,
    phi_strings: tuple[str, ...],
    salt_file: Path,
) -> None:
    import twixtools

    monkeypatch.setattr(twixtools, "read_twix", lambda *a, **k: [{"hdr": twix_header}])
    caplog.set_level(logging.DEBUG)
    cat, out, stats = tmp_path / "cat" / "catalog.parquet", tmp_path / "shards", tmp_path / "stats"
    splits = tmp_path / "splits.json"
    steps = [
        ["db", "index", str(phi_root), "--catalog", str(cat), "--no-progress"],
        ["db", "prepare", str(phi_root), str(out), "--catalog", str(cat), "--workers", "1", "--no-progress"],
        ["db", "stats", str(cat), "--csv", str(stats), "--figure", str(stats / "fig.png")],
        ["db", "query", str(cat), "--json"],
        ["db", "query", str(cat), "--where", "source_format = 'dicom'"],
        ["db", "split", str(cat), "--out", str(splits), "--val", "0.3", "--test", "0.3"],
        ["db", "verify", str(out)],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    captured = capsys.readouterr()
    assert '"source_format":"twix-dat"' in captured.out and '"source_format":"dicom"' in captured.out
    needles = (*phi_strings, "1970-01-01", load_salt(salt_file).decode())
    texts = [captured.out, captured.err, caplog.text]
    hits = find_strings([cat.parent, out, stats, splits], needles, texts=texts)
    assert hits == []
    # every format was catalogued, the k-space formats were converted
    assert len(list(out.rglob("*.h5"))) == 3
    from cardiomm.database.catalog import read_catalog

    frame = read_catalog(cat)
    formats = ["cmrxrecon-mat", "dicom", "fastmri-h5", "ismrmrd-h5", "twix-dat"]
    assert sorted(frame["source_format"]) == formats
    assert set(frame.loc[frame.source_format == "ismrmrd-h5", "vendor"]) == {"Siemens"}


def test_real_twix_with_planted_phi(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], phi_strings: tuple[str, ...]
) -> None:
    """A real twix file whose identifying header values are overwritten (same length) with PHI."""
    data = (shared_data / "kspace/fallback_noncardiac/twixtools_gre_brain_2ch.dat").read_bytes()
    swaps = {
        b"DZNE_Bonn-Venusberg": b"St Elsewhere Hospital", b"Sigmund - Freud - Strasse 27": b"123 Fake Street",
        b"x" * 48: b"ORIGID-4242", b'"xxxxxxxx"': b'"19700101"',
    }  # fmt: skip
    for old, new in swaps.items():
        assert old in data
        data = data.replace(old, new[: len(old)].ljust(len(old), b" "))
    raw = tmp_path / "raw" / "twix"
    raw.mkdir(parents=True)
    (raw / "meas.dat").write_bytes(data)
    cat = tmp_path / "cat" / "c.parquet"
    assert main(["db", "index", str(tmp_path / "raw"), "--catalog", str(cat), "--no-progress"]) == 0
    assert main(["db", "query", str(cat), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"scanner":"Skyra"' in out
    needles = ("St Elsewhere Hosp", "123 Fake Street", "ORIGID-4242", "19700101", "DZNE", "Bonn")
    assert find_strings([cat.parent], needles, texts=[out]) == []
    shutil.rmtree(tmp_path / "raw")
