"""Acceptance on the ``cardiomm simulate mini --size tiny`` tree: index, stats, query, split, prepare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardiomm.cli.main import main
from cardiomm.database.catalog import index_tree, read_catalog
from cardiomm.database.dataset import CardiacFrameDataset
from cardiomm.database.query import query_catalog
from cardiomm.database.splits import check_no_leakage, load_splits, patient_key
from cardiomm.database.stats import catalog_stats


@pytest.fixture(scope="module")
def sim_catalog(sim_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cat = tmp_path_factory.mktemp("simcat") / "catalog.parquet"
    report = index_tree(sim_root, cat, workers=2)
    assert report.failures == () and report.n_skipped == 0
    return cat


def _sim_manifest(sim_root: Path) -> dict:
    return json.loads((sim_root / "manifest.json").read_text())


def test_simulated_index_matches_simulator_manifest(sim_root: Path, sim_catalog: Path) -> None:
    files = _sim_manifest(sim_root)["files"]
    frame = read_catalog(sim_catalog).set_index("relpath")
    assert sorted(frame.index) == sorted(f["path"] for f in files)  # _gt.h5, _info.csv, masks are not scans
    for f in files:
        row = frame.loc[f["path"]]
        assert [row.nt, row.nz, row.nc, row.ny, row.nx] == f["shape_tzcyx"], f["path"]
        assert row.n_frames == f["shape_tzcyx"][0] * f["shape_tzcyx"][1]
        assert (row.modality, row.center) == (f["modality"], f["center"])
        assert sorted(row.mask_relpaths) == sorted(f["masks"])
        assert list(row.ti_s) == pytest.approx(f["ti_s"])
    c007 = frame[frame.center == "Center007"]
    assert set(c007.field_t) == {0.55} and set(c007.scanner) == {"Freemax"}


def test_simulated_stats_query_and_prompt(sim_root: Path, sim_catalog: Path) -> None:
    files = _sim_manifest(sim_root)["files"]
    tables = catalog_stats(sim_catalog)
    modality = tables["modality"].set_index("modality")["scans"].to_dict()
    expected: dict[str, int] = {}
    for f in files:
        expected[f["modality"]] = expected.get(f["modality"], 0) + 1
    assert modality == expected
    frames = sum(f["shape_tzcyx"][0] * f["shape_tzcyx"][1] for f in files)
    assert tables["total"]["frames"].iloc[0] == frames
    ext = query_catalog(sim_catalog, "center = 'Center007'", ["scan_id"])
    assert len(ext) == sum(f["center"] == "Center007" for f in files)
    from cardiomm.database.header import CardiacHeader

    row = query_catalog(sim_catalog, "relpath LIKE '%TrainingSet%cine_sax.mat'").iloc[0]
    expected = "Adult cardiac MRI reconstruction.Vendor: 1.5T, Siemens, Aera. Modality: cine, short-axis."
    assert CardiacHeader.from_record(row.to_dict()).metadata_prompt() == expected


def test_simulated_split_no_leakage(sim_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits.json"
    argv = ["db", "split", str(sim_catalog), "--out", str(out), "--external", "Center007", "--val", "0.5"]
    assert main(argv) == 0
    splits, frame = load_splits(out), read_catalog(sim_catalog)
    check_no_leakage(splits, frame)
    per_patient: dict[str, set[str]] = {}
    for s, c, p in zip(frame.scan_id, frame.center, frame.patient_id, strict=True):
        per_patient.setdefault(patient_key(c, p), set()).add(splits.scans[s])
    assert all(len(v) == 1 for v in per_patient.values())
    assert {splits.scans[s] for s in frame[frame.center == "Center007"].scan_id} == {"external"}


def test_simulated_prepare_verify_dataset(sim_root: Path, sim_catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    argv = ["db", "prepare", str(sim_root), str(out), "--catalog", str(sim_catalog), "--workers", "1",
            "--where", "modality IN ('T1map', 'Aorta')", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert main(["db", "verify", str(out)]) == 0
    ds = CardiacFrameDataset(sim_catalog, out)
    selected = read_catalog(sim_catalog).query("modality in ['T1map', 'Aorta']")
    assert ds.n_scans == len(selected) >= 2 and len(ds) == int(selected.n_frames.sum())
    sample = ds[len(ds) - 1]
    assert sample.kspace.shape[-2:] == sample.target.shape and sample.prompt.startswith("Adult cardiac MRI")
