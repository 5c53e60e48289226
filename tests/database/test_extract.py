"""Per-format metadata extractors (headers and shapes only, allow-listed fields)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cardiomm.database.extract import NotAScanError, RawScan, dims_from_shape, merge_scan
from cardiomm.database.extract.dicom import extract_dicom_series
from cardiomm.database.extract.fastmri import extract_h5
from cardiomm.database.extract.mat import extract_mat
from cardiomm.database.extract.twix import extract_twix, fields_from_twix_header
from cardiomm.database.header import HEADER_FIELDS
from cardiomm.database.phi import Pseudonymizer
from cardiomm.errors import FileFormatError, PHIError


def _fake_twix(monkeypatch: pytest.MonkeyPatch, header: dict) -> None:
    import twixtools

    monkeypatch.setattr(twixtools, "read_twix", lambda *a, **k: [{"hdr": header}])


def test_dims_from_shape_promotes_missing_leading_axes() -> None:
    assert dims_from_shape((3, 2, 10, 12)) == {"nt": 1, "nz": 3, "nc": 2, "ny": 10, "nx": 12}
    assert dims_from_shape((4, 3, 10, 12), coil_axis=False) == {"nt": 4, "nz": 3, "nc": 1, "ny": 10, "nx": 12}


def test_extract_mat_v73_and_info_csv(phi_root: Path) -> None:
    scan = "MultiCoil/Cine/TrainingSet/FullSample/Center003/Siemens_15T_Avanto/P007/cine_sax.mat"
    raw = extract_mat(phi_root / scan)
    f = raw.fields
    assert (f["nt"], f["nz"], f["nc"], f["ny"], f["nx"]) == (2, 2, 2, 12, 8)
    assert f["fov_x_mm"] == 320 and f["tr_s"] == pytest.approx(0.04) and f["sampling_pattern"] == "full"
    assert "slice_thickness_mm" not in f  # defaulted by the CSV reader -> not copied
    assert raw.kspace_key == "kspace_full" and set(f) <= set(HEADER_FIELDS)


def test_extract_mat_v5_and_non_scan(mini_root: Path) -> None:
    base = mini_root / "MultiCoil/Cine/TrainingSet"
    raw = extract_mat(base / "FullSample/Center001/Siemens_30T_Vida/P001/cine_lvot.mat")
    assert (raw.fields["nt"], raw.fields["nz"], raw.fields["nc"]) == (1, 3, 2)
    with pytest.raises(NotAScanError):
        extract_mat(base / "GTSOS/Center001/gt.mat")


def test_extract_ismrmrd_header_allow_list(phi_root: Path) -> None:
    raw = extract_h5(phi_root / "ocmr/fs_0001_1_5T.h5")
    f = raw.fields
    assert (f["vendor"], f["scanner"], f["field_t"], f["nc"]) == ("Siemens", "Avanto", 1.5, 2)
    assert (f["nx"], f["ny"], f["nz"], f["nt"]) == (8, 8, 1, 2)
    assert f["tr_s"] == pytest.approx(0.04) and f["ti_s"] == pytest.approx((0.3,))
    assert f["source_format"] == "ismrmrd-h5" and raw.original_patient_id == "ORIGID-4242"
    assert "St Elsewhere" not in repr(raw) and "ORIGID" not in repr(raw)


def test_extract_fastmri_shape_and_attrs(phi_root: Path) -> None:
    raw = extract_h5(phi_root / "fastmri/file1000001.h5")
    f = raw.fields
    assert (f["nz"], f["nc"], f["nx"], f["ny"], f["nt"]) == (2, 2, 8, 6, 1)
    assert f["source_format"] == "fastmri-h5" and f["vendor"] == "Siemens"


def test_extract_h5_rejects_shards_and_corrupt_files(mini_shards: Path, tmp_path: Path) -> None:
    shard = next(mini_shards.rglob("*.h5"))
    with pytest.raises(NotAScanError):
        extract_h5(shard)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(FileFormatError):
        extract_h5(bad)


def test_extract_twix_header_units(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, twix_header: dict
) -> None:
    fields, patient, hint = fields_from_twix_header(twix_header)
    assert (fields["vendor"], fields["scanner"], fields["field_t"]) == ("Siemens", "Aera", 1.5)
    assert (fields["nx"], fields["ny"], fields["nz"], fields["nt"], fields["nc"]) == (192, 156, 10, 25, 4)
    assert fields["tr_s"] == pytest.approx(0.039) and fields["te_s"] == pytest.approx(0.0014)
    assert (fields["sampling_pattern"], fields["acceleration"], fields["acs_lines"]) == ("parallel", 2, 24)
    assert patient == "ORIGID-4242" and "cine_sax" in hint
    path = tmp_path / "meas.dat"
    path.write_bytes(b"x")
    _fake_twix(monkeypatch, twix_header)
    raw = extract_twix(path)
    assert raw.fields["source_format"] == "twix-dat" and set(raw.fields) <= set(HEADER_FIELDS)


def test_extract_twix_real_file(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "kspace/fallback_noncardiac/twixtools_gre_brain_2ch.dat"
    raw = extract_twix(src)
    f = raw.fields
    assert (f["vendor"], f["scanner"], f["field_t"], f["nc"]) == ("Siemens", "Skyra", 3.0, 2)
    assert (f["nx"], f["ny"], f["tr_s"]) == (160, 160, pytest.approx(0.01))
    assert f["fov_x_mm"] == 200 and f["slice_thickness_mm"] == 4
    text = repr(sorted(f.items()))
    assert "DZNE" not in text and "Strasse" not in text and "45385" not in text
    broken = tmp_path / "broken.dat"
    broken.write_bytes(src.read_bytes()[:3000])
    with pytest.raises(FileFormatError):
        extract_twix(broken)


def test_extract_dicom_series(phi_root: Path) -> None:
    folder = phi_root / "dicom/series01"
    pseudo = Pseudonymizer(b"k" * 32)
    raws = extract_dicom_series(sorted(folder.iterdir()), lambda uid: pseudo.key("series", uid))
    assert len(raws) == 1
    f = raws[0].fields
    assert (f["nx"], f["ny"], f["nz"], f["nt"], f["nc"]) == (6, 8, 2, 3, None)
    assert f["fov_x_mm"] == pytest.approx(7.5) and f["fov_y_mm"] == pytest.approx(12.0)
    assert (f["vendor"], f["field_t"], f["modality"]) == ("Siemens", 1.5, "Cine")
    assert raws[0].has_kspace is False and "1970" not in raws[0].series_key


def test_merge_scan_pseudonymises_and_enforces_allow_list() -> None:
    pseudo = Pseudonymizer(b"s" * 32)
    rel = "MultiCoil/Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/cine_sax.mat"
    raw = RawScan(fields={"nx": 8, "vendor": "GE"}, original_patient_id="ORIGID-4242")
    header = merge_scan(raw, rel, pseudo, source_key=rel)
    assert header.vendor == "Siemens"  # the MMCMR folder wins over the file header
    assert header.patient_id == pseudo.patient_id("Center001", "P001")
    assert header.scan_id == pseudo.scan_id(rel)
    other = merge_scan(raw, rel, Pseudonymizer(b"t" * 32), source_key=rel)
    assert other.patient_id != header.patient_id  # keyed: another salt, other pseudonyms
    with pytest.raises(PHIError):
        merge_scan(RawScan(fields={"PatientName": "DOE^JANE"}), rel, pseudo, source_key=rel)


def test_real_dicom_series(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "segmentation/sunnybrook_scd_subset/dicoms"
    patient = sorted(p for p in src.iterdir() if p.is_dir())[0]
    files = sorted(patient.glob("*.dcm"))[:40]
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    raws = extract_dicom_series(sorted(tmp_path.iterdir()), lambda uid: uid[-6:])
    assert raws and raws[0].fields["vendor"] == "GE" and raws[0].fields["field_t"] == 1.5
    assert raws[0].fields["nx"] == 256 and raws[0].fields["fov_x_mm"] == pytest.approx(256 * 1.367, rel=1e-2)
    # no series description in these files: 20 cardiac phases make it a cine
    assert raws[0].fields["modality"] == "Cine"


def test_structural_modality_hint() -> None:
    from types import SimpleNamespace as NS

    from cardiomm.database.extract.dicom import structural_hint

    tis = (100, 180, 900, 980, 1700)
    molli = [NS(InversionTime=ti, TriggerTime=400.0, CardiacNumberOfImages=1) for ti in tis]
    cine = [NS(TriggerTime=40.0 * k, CardiacNumberOfImages=25) for k in range(25)]
    few = [NS(TriggerTime=40.0 * k) for k in range(3)]  # e.g. an ED/ES-only export without the tag
    assert structural_hint(molli) == "T1map"
    assert structural_hint([NS(EchoTime=te) for te in (1.5, 3.2, 5.0, 6.8, 8.6)]) == "T2map"  # multi-echo
    assert structural_hint(cine) == "Cine"
    assert structural_hint([NS(TriggerTime=40.0 * k) for k in range(12)]) == "Cine"  # phases from triggers
    assert structural_hint(few) == "" and structural_hint([NS()]) == ""
    # an inversion-prepared multi-phase series is not a plain cine
    prepared = [NS(TriggerTime=40.0 * k, InversionTime=300 + 200 * (k % 2)) for k in range(12)]
    assert structural_hint(prepared) == ""
