"""Patient-level splits: no leakage, reproducible, held-out centers, stratified."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cardiomm.cli.main import main
from cardiomm.database.catalog import read_catalog
from cardiomm.database.splits import (
    check_no_leakage,
    choose_external_centers,
    load_splits,
    make_splits,
    patient_key,
    save_splits,
)
from cardiomm.errors import ConfigError, DataValueError, UnknownChoiceError


def _synthetic(n_patients: int = 200) -> pd.DataFrame:
    rows = []
    for i in range(n_patients):
        center = f"Center{i % 5:03d}"
        modality = "Cine" if i % 3 else "T1map"
        for j in range(1 + i % 3):
            scan = {"scan_id": f"s{i}-{j}", "center": center, "patient_id": f"pt-{i}", "modality": modality}
            rows.append({**scan, "n_frames": 10})
    return pd.DataFrame(rows)


def _patient_splits(frame: pd.DataFrame, scans: dict[str, str]) -> pd.Series:
    keys = [patient_key(c, p) for c, p in zip(frame.center, frame.patient_id, strict=True)]
    return pd.Series([scans[s] for s in frame.scan_id]).groupby(keys).nunique()


def test_splits_have_no_patient_leakage(mini_catalog: Path) -> None:
    frame = read_catalog(mini_catalog)
    result = make_splits(frame, seed=3, val=0.2, test=0.2)
    assert (_patient_splits(frame, result.scans) == 1).all()
    check_no_leakage(result, frame)
    assert sum(v["scans"] for v in result.counts.values()) == len(frame)


def test_splits_reproducible_and_seed_dependent(tmp_path: Path) -> None:
    frame = _synthetic()
    a, b = make_splits(frame, seed=1), make_splits(frame, seed=1)
    save_splits(a, tmp_path / "a.json")
    save_splits(b, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert load_splits(tmp_path / "a.json") == a
    assert make_splits(frame, seed=2).patients != a.patients
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert make_splits(shuffled, seed=1).to_json() == a.to_json()  # row order does not matter


def test_splits_stratified_fractions() -> None:
    frame = _synthetic(400)
    result = make_splits(frame, seed=0, val=0.1, test=0.2)
    patients = frame.drop_duplicates(["center", "patient_id"])
    for modality, group in patients.groupby("modality"):
        keys = [patient_key(c, p) for c, p in zip(group.center, group.patient_id, strict=True)]
        splits = [result.patients[k] for k in keys]
        n = len(splits)
        assert abs(splits.count("test") - 0.2 * n) <= 1 and abs(splits.count("val") - 0.1 * n) <= 1, modality


def test_external_centers_by_name_and_fraction() -> None:
    frame = _synthetic()
    named = make_splits(frame, external=["Center001", "Center003"])
    ext = frame[frame.center.isin(["Center001", "Center003"])]
    assert {named.scans[s] for s in ext.scan_id} == {"external"}
    assert "external" not in {named.scans[s] for s in frame[~frame.center.isin(ext.center)].scan_id}
    by_fraction = choose_external_centers(frame.center, fraction=0.4, seed=5)
    assert len(by_fraction) == 2
    assert by_fraction == choose_external_centers(frame.center, fraction=0.4, seed=5)
    with pytest.raises(UnknownChoiceError):
        make_splits(frame, external=["Nowhere"])
    with pytest.raises(ConfigError):
        make_splits(frame, val=0.6, test=0.5)


def test_check_no_leakage_detects_leaks() -> None:
    frame = _synthetic(10)
    result = make_splits(frame, seed=0, val=0.3, test=0.3)
    multi = frame[frame.duplicated(["center", "patient_id"], keep=False)]
    sid = multi.scan_id.iloc[0]
    leaked = dict(result.scans)
    leaked[sid] = "test" if leaked[sid] != "test" else "train"
    with pytest.raises(DataValueError):
        check_no_leakage(type(result)(result.seed, result.parameters, result.patients, leaked), frame)


def test_cli_split(mini_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits.json"
    argv = ["db", "split", str(mini_catalog), "--out", str(out), "--seed", "4", "--external", "Center014"]
    assert main(argv) == 0
    doc = load_splits(out)
    assert doc.parameters["external_centers"] == ["Center014"] and doc.counts["external"]["patients"] == 1
    assert main(["db", "split", str(mini_catalog), "--out", str(out), "--external-fraction", "0.34"]) == 0
