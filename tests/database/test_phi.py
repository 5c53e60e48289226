"""PHI safety: salt, keyed pseudonyms, path and free-text screening, end-to-end runs with planted PHI."""

from __future__ import annotations

import json
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
    clean_token,
    ensure_outside,
    find_strings,
    load_salt,
    normalise_vendor,
    safe_error,
    screen_path,
    take_screened_count,
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

    twix_header["Dicom"]["ManufacturersModelName"] = "Erika Mustermann"  # a name in an allow-listed field
    monkeypatch.setattr(twixtools, "read_twix", lambda *a, **k: [{"hdr": twix_header}])
    caplog.set_level(logging.DEBUG)
    cat, out, stats = tmp_path / "cat" / "catalog.parquet", tmp_path / "shards", tmp_path / "stats"
    splits = tmp_path / "splits.json"
    # --workers 0: in this process, where the twix reader is patched
    steps = [
        ["db", "index", str(phi_root), "--catalog", str(cat), "--no-progress", "--workers", "0"],
        ["db", "prepare", str(phi_root), str(out), "--catalog", str(cat), "--workers", "0", "--no-progress"],
        ["db", "stats", str(cat), "--csv", str(stats), "--figure", str(stats / "fig.png")],
        ["db", "query", str(cat), "--json"],
        ["db", "query", str(cat), "--where", "source_format = 'dicom'"],
        ["db", "split", str(cat), "--out", str(splits), "--val", "0.3", "--test", "0.3"],
        ["db", "verify", str(out)],
    ]
    for argv in steps:
        # prepare: exit 1, the twix file is a header-only placeholder (see _assert_only_twix_failed)
        assert main(argv) == (1 if argv[1] == "prepare" else 0), argv
    _assert_only_twix_failed(out)
    captured = capsys.readouterr()
    assert '"source_format":"twix-dat"' in captured.out and '"source_format":"dicom"' in captured.out
    needles = (*phi_strings, "1970-01-01", load_salt(salt_file).decode())
    texts = [captured.out, captured.err, caplog.text]
    hits = find_strings([cat.parent, out, stats, splits], needles, texts=texts)
    assert hits == []
    # every format was catalogued, the k-space formats were converted
    assert len(list(out.rglob("*.h5"))) == 4
    from cardiomm.database.catalog import read_catalog

    frame = read_catalog(cat)
    formats = ["cmrxrecon-mat", "dicom", "fastmri-h5", "ismrmrd-h5", "ismrmrd-h5", "twix-dat"]
    assert sorted(frame["source_format"]) == formats
    ocmr = frame[frame.source_format == "ismrmrd-h5"].set_index("relpath")
    assert ocmr.loc["ocmr/fs_0001_1_5T.h5", ["vendor", "scanner"]].tolist() == ["Siemens", "Avanto"]
    assert ocmr.loc["ocmr/fs_0002_1_5T.h5", ["vendor", "scanner"]].tolist() == ["unknown", "unknown"]
    assert frame.loc[frame.source_format == "twix-dat", "scanner"].tolist() == ["unknown"]
    # vendor + model of the OCMR file, model of the twix file: counted, logged without the value
    assert "3 free-text header value(s) looked identifying" in captured.err
    assert "looks like a person name" in caplog.text


def _assert_only_twix_failed(out: Path) -> None:
    """The one failure of `db prepare` on the PHI trees: the twix placeholder (only its header is
    patched, it has no k-space), recorded under its scan ID and its (clean) path."""
    failures = json.loads((out / "failures.json").read_text())
    assert [(f["kind"], "twix" in f["error"]) for f in failures] == [("error", True)]
    assert failures[0]["scan_id"].startswith("sc-") and failures[0]["source"].startswith("twix/")


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


# ------------------------------------------------------------------------- screening of paths and text
@pytest.mark.parametrize(
    "relpath",
    [
        "MultiCoil/Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/cine_sax.mat",
        "MultiCoil/Cine/TrainingSet/Mask_TaskAll/Center001/Siemens_30T_Vida/P001/cine_sax_mask_ktGaussian16.mat",
        "MultiCoil/Mapping/TestSet/FullSample/Center014/Siemens_055T_Freemax/P012/T1map.mat",
        "Aorta/ValidationSet/FullSample/Center002/UIH_30T_umr790/P002/aorta_sag_mask_ktRadial24.mat",
        "Center003/Philips_30T_Ingenia_Elition/P003/cine_lax_4ch.mat",
        "Center004/GE_15T_Signa_HDxt/P004/lge.mat",
        "MultiCoil/Cine/TrainingSet/GTSOS/Center001/gt.mat",
        "knee/file1000021.h5",
        "brain/file_brain_AXT2_200_2000019.h5",
        "ocmr/fs_0005_1_5T.h5",
        "ocmr/us_0165_pt_1_5T.h5",
        "twix/meas_MID00123_FID04567_cine.dat",
        "sunnybrook/dicoms/SCD0000101",
        "contourfiles/SC-HF-I-4/i-contours/IM-0001-0007-icontour-manual.txt",
        "acdc/patient099.h5",
    ],
)
def test_screen_path_passes_known_layouts(relpath: str) -> None:
    assert screen_path(relpath) == ()


@pytest.mark.parametrize(
    ("relpath", "reason"),
    [
        ("SMITH_JOHN/scan.h5", "person name"),
        ("raw/Smith_John/cine.mat", "person name"),
        ("raw/DOE^JANE/cine.mat", "person name"),
        ("raw/Doe, Jane.h5", "person name"),
        ("raw/MUSTERMANN-ERIKA/x.h5", "person name"),
        ("raw/Center001/Siemens_30T_Vida/Erika Mustermann/cine_sax.mat", "person name"),
        ("raw/P001/19650412.mat", "date"),
        ("raw/1965-04-12/cine.mat", "date"),
        ("raw/12.04.1965/cine.mat", "date"),
        ("raw/cine_sax_04-12-1965.mat", "date"),
        ("raw/cine_12Apr1965.mat", "date"),
        ("raw/MRN-55443322/cine.mat", "identifier"),
        ("raw/PatID_12345/cine.mat", "identifier"),
        ("raw/case/1234567.h5", "identifier"),
        ("SMITH_JOHN_19650412/MRN-55443322/scan.h5", "date"),
    ],
)
def test_screen_path_flags_names_dates_and_ids(relpath: str, reason: str) -> None:
    assert reason in screen_path(relpath)


def test_screen_path_passes_project_trees(mini_root: Path, sim_root: Path, phi_root: Path) -> None:
    for root in (mini_root, sim_root, phi_root):
        flagged = [p for p in root.rglob("*") if screen_path(p.relative_to(root).as_posix())]
        assert flagged == [], root


def test_screen_path_passes_shared_data(shared_data: Path) -> None:
    flagged = [p for p in shared_data.rglob("*") if screen_path(p.relative_to(shared_data).as_posix())]
    assert flagged == []


def test_free_text_header_values_screened(phi_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    from cardiomm.database.extract import RawScan, merge_scan
    from cardiomm.database.extract.fastmri import extract_h5

    caplog.set_level(logging.WARNING)
    take_screened_count()
    models = ("Avanto", "Aera XJ", "MAGNETOM Prisma fit", "Ingenia Elition X", "SIGNA Premier", "Signa HDxt",
              "DISCOVERY MR750w", "uMR 790", "Free.Max", "Achieva dStream")  # fmt: skip
    assert [clean_token(m) for m in models] == list(models)
    assert normalise_vendor("SIEMENS") == "Siemens" and normalise_vendor("Bruker BioSpin") == "Bruker BioSpin"
    assert take_screened_count() == 0
    assert clean_token("Erika Mustermann") == "unknown" and clean_token("Avanto 1970-01-01") == "unknown"
    assert normalise_vendor("MUSTERMANN^ERIKA") == "unknown" and clean_token("SN-998877") == "unknown"
    assert take_screened_count() == 4 and take_screened_count() == 0
    raw = extract_h5(phi_root / "ocmr/fs_0002_1_5T.h5")  # vendor and model hold a name
    assert raw.fields["vendor"] == raw.fields["scanner"] == "unknown" and raw.fields["field_t"] == 1.5
    assert take_screened_count() == 2
    # second line of defence: an extractor that forgets clean_token
    rel = "ocmr/fs_0009_1_5T.h5"
    header = merge_scan(
        RawScan(fields={"scanner": "Jane Doe", "nx": 8}), rel, Pseudonymizer(b"s" * 32), source_key=rel
    )
    assert header.scanner == "unknown" and header.nx == 8 and take_screened_count() == 1
    assert "person name" in caplog.text
    assert find_strings([], ("Mustermann", "Erika", "Jane Doe", "998877", "1970"), texts=[caplog.text]) == []


def test_phi_paths_refused_and_withheld(
    phi_path_root: Path,
    phi_path_spec: dict[str, tuple[str, ...]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    twix_header: dict,
) -> None:
    import twixtools

    from cardiomm.database.catalog import catalog_metadata, index_tree, read_catalog

    monkeypatch.setattr(twixtools, "read_twix", lambda *a, **k: [{"hdr": twix_header}])
    caplog.set_level(logging.DEBUG)
    clean, refused, needles = phi_path_spec["clean"], phi_path_spec["refused"], phi_path_spec["strings"]
    cat, out, stats = tmp_path / "cat" / "catalog.parquet", tmp_path / "shards", tmp_path / "stats"
    rep = index_tree(phi_path_root, cat, workers=0)  # in this process, where the twix reader is patched
    frame = read_catalog(cat)
    assert sorted(frame["relpath"]) == sorted(clean)  # every known-layout name is indexed
    assert rep.n_phi_paths == len(refused) and sorted(rel for _, rel in rep.withheld) == sorted(refused)
    assert "SMITH" not in repr(rep)
    failures = json.loads(cat.with_name("catalog.failures.json").read_text())
    assert sorted(f["source"] for f in failures) == sorted(name for name, _ in rep.withheld)
    assert all(f["source"].startswith("withheld-") and "--allow-phi-paths" in f["error"] for f in failures)
    mask_links = frame.set_index("relpath").loc[clean[0], "mask_relpaths"].tolist()
    assert mask_links == [
        clean[0].replace("FullSample", "Mask_TaskAll").replace(".mat", "_mask_Uniform4.mat")
    ]
    # same salt, same pseudonyms; still refused on an incremental re-run
    again = index_tree(phi_path_root, cat, workers=0)
    assert again.withheld == rep.withheld and again.n_unchanged == len(clean)
    # the console names the real path (so it can be renamed) next to its pseudonym
    argv = ["db", "index", str(phi_path_root), "--catalog", str(cat), "--no-progress"]
    assert main(argv) in (0, 1)
    err = capsys.readouterr().err
    assert "ocmr/SMITH_JOHN_19650412/MRN-55443322/scan.h5 (recorded as withheld-" in err
    steps = [
        [
            "db",
            "prepare",
            str(phi_path_root),
            str(out),
            "--catalog",
            str(cat),
            "--workers",
            "0",
            "--no-progress",
        ],
        ["db", "stats", str(cat), "--csv", str(stats)],
        ["db", "query", str(cat), "--json"],
        ["db", "query", str(cat), "--columns", "source,relpath,mask_relpaths,scan_id"],
    ]
    for step in steps:
        assert main(step) == (1 if step[1] == "prepare" else 0), step
    _assert_only_twix_failed(out)
    captured = capsys.readouterr()
    assert len(list(out.rglob("*.h5"))) == 4  # mat, fastMRI, 2 OCMR (the twix file is a placeholder)
    texts = [captured.out, caplog.text, json.dumps(catalog_metadata(cat))]
    assert find_strings([cat.parent, out, stats], needles, texts=texts) == []
    # opt-in: the same needles do reach the catalog (so the checks above can fail)
    allowed = tmp_path / "allowed" / "catalog.parquet"
    rep_allowed = index_tree(phi_path_root, allowed, allow_phi_paths=True)
    assert rep_allowed.withheld == () and rep_allowed.n_phi_paths == len(refused)
    assert catalog_metadata(allowed)["cardiomm.phi_paths"] == "allowed"
    assert main(["db", "query", str(allowed), "--json"]) == 0
    for leaked in (
        find_strings([allowed], needles),
        find_strings([], needles, texts=[capsys.readouterr().out]),
    ):
        assert sorted({n for _, n in leaked}) == sorted(needles)


def test_salt_inside_a_tree_is_refused(
    mini_root: Path, mini_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardiomm.database.catalog import index_tree
    from cardiomm.database.shards import prepare_shards

    raw = tmp_path / "raw"
    raw.mkdir()
    cat, out = tmp_path / "cat" / "catalog.parquet", tmp_path / "shards"
    for salt in (raw / "pseudonym.salt", raw / "deep" / "x.salt", cat.parent / "x.salt"):
        assert main(["db", "index", str(raw), "--catalog", str(cat), "--salt-file", str(salt)]) == 2
        with pytest.raises(PHIError):
            index_tree(raw, cat, salt_file=salt)
        assert not salt.exists() and not cat.exists()
    inside = (mini_root / "pseudonym.salt", out / "pseudonym.salt", mini_catalog.parent / "x.salt")
    for salt in inside:
        argv = [
            "db",
            "prepare",
            str(mini_root),
            str(out),
            "--catalog",
            str(mini_catalog),
            "--salt-file",
            str(salt),
        ]
        assert main(argv) == 2
        with pytest.raises(PHIError):
            prepare_shards(mini_root, out, mini_catalog, workers=1, salt_file=salt)
        assert not out.exists()
    # the default location ($CARDIOMM_SALT_FILE) is checked the same way
    monkeypatch.setenv("CARDIOMM_SALT_FILE", str(raw / "pseudonym.salt"))
    assert main(["db", "index", str(raw), "--catalog", str(cat), "--no-progress"]) == 2
    monkeypatch.setenv("CARDIOMM_SALT_FILE", str(out / "pseudonym.salt"))
    with pytest.raises(PHIError):
        prepare_shards(mini_root, out, mini_catalog, workers=1)
    assert not out.exists() and not (raw / "pseudonym.salt").exists()
