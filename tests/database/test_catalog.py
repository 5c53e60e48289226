"""Catalog: one row per scan, versioned schema, incremental re-indexing, bad input reported."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.database.catalog import (
    SCHEMA_VERSION,
    catalog_metadata,
    failures_path,
    index_tree,
    read_catalog,
)
from cardiomm.errors import ConfigError, InputFileError, PHIError
from cardiomm.io import save_mat

CINE = "MultiCoil/Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P002/cine_sax.mat"


def _table(path: Path) -> tuple[list[tuple[object, ...]], dict[str, str]]:
    """Rows and cardiomm metadata of a catalog file (for equality checks)."""
    rows = duckdb.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    return rows, catalog_metadata(path)


def test_index_mini_tree_rows_and_fields(mini_root: Path, mini_catalog: Path, mini_spec: dict) -> None:
    N_MINI_SCANS, SHAPE = mini_spec["n_scans"], mini_spec["shape"]  # noqa: N806
    frame = read_catalog(mini_catalog)
    assert len(frame) == N_MINI_SCANS and frame["scan_id"].is_unique
    assert catalog_metadata(mini_catalog)["cardiomm.schema_version"] == str(SCHEMA_VERSION)
    assert set(frame["schema_version"]) == {SCHEMA_VERSION}
    assert not frame["relpath"].str.contains("cardiomm-tmp|GTSOS|Mask_").any()
    row = frame[frame.relpath == CINE].iloc[0]
    t, z, c, ky, kx = SHAPE
    assert (row.nt, row.nz, row.nc, row.ny, row.nx, row.n_frames) == (t, z, c, ky, kx, t * z)
    assert (row.center, row.vendor, row.field_t, row.scanner, row.modality, row.subtype) == (
        "Center001", "Siemens", 3.0, "Vida", "Cine", "sax")  # fmt: skip
    assert list(row.masks) == ["Uniform4", "ktGaussian8"] and len(row.mask_relpaths) == 2
    assert row.fov_x_mm == 320 and row.slice_thickness_mm == 6 and row.te_s == pytest.approx(0.0015)
    assert row.patient_id.startswith("pt-") and "P002" not in row.patient_id
    assert len(row.sha256) == 64 and row.file_size == (mini_root / CINE).stat().st_size
    low = frame[frame.center == "Center014"]
    assert set(low.field_t) == {0.55} and set(low.disease) == {"NC"}
    v5 = frame[frame.subtype == "lvot"].iloc[0]
    assert (v5.nt, v5.nz, v5.nc, v5.n_frames) == (1, 3, 2, 3)


def _copy(mini_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    shutil.copytree(mini_root, root)
    return root


def test_index_is_incremental(mini_root: Path, tmp_path: Path, mini_spec: dict) -> None:
    N_MINI_SCANS, random_kspace = mini_spec["n_scans"], mini_spec["random_kspace"]  # noqa: N806
    root, cat = _copy(mini_root, tmp_path), tmp_path / "cat" / "catalog.parquet"
    first = index_tree(root, cat)
    assert first.n_extracted == N_MINI_SCANS and first.n_skipped == 1  # Results/.../cine_sax.mat
    again = index_tree(root, cat)
    assert (again.n_hashed, again.n_extracted, again.n_unchanged) == (0, 0, first.n_sources)
    before = read_catalog(cat)
    target = root / CINE
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))  # touch only
    touched = index_tree(root, cat)
    assert (touched.n_hashed, touched.n_extracted) == (1, 0)
    rng = np.random.default_rng(99)
    save_mat(target, {"kspace_full": random_kspace(rng, (3, 2, 2, 12, 8))})  # new content and shape
    (root / CINE).with_name("cine_lax.mat").unlink()
    new = root / "MultiCoil/Cine/TrainingSet/FullSample/Center002/UIH_15T_umr588/P009/cine_sax.mat"
    save_mat(new, {"kspace_full": random_kspace(rng)})
    changed = index_tree(root, cat)
    assert (changed.n_extracted, changed.n_removed, changed.n_scans) == (2, 1, N_MINI_SCANS)
    after = read_catalog(cat)
    assert int(after.loc[after.relpath == CINE, "nt"].iloc[0]) == 3
    same = before[before.relpath != CINE].merge(after, on="scan_id")
    assert len(same) == N_MINI_SCANS - 2  # untouched rows kept with their IDs
    info = target.with_name("cine_sax_info.csv")
    info.write_text(info.read_text().replace("TR(ms),40", "TR(ms),45"))
    csv_change = index_tree(root, cat)
    assert csv_change.n_extracted == 1
    assert read_catalog(cat).loc[lambda f: f.relpath == CINE, "tr_s"].iloc[0] == pytest.approx(0.045)


def test_index_reports_bad_input_and_parallel_matches_serial(
    mini_root: Path, tmp_path: Path, mini_spec: dict
) -> None:
    N_MINI_SCANS = mini_spec["n_scans"]  # noqa: N806
    root = _copy(mini_root, tmp_path)
    bad = root / "MultiCoil/Cine/TrainingSet/FullSample/Center002/UIH_15T_umr588/P001/cine_bad.mat"
    bad.write_bytes(b"this is not a MAT file" * 20)
    trunc = root / "MultiCoil/Cine/TrainingSet/FullSample/Center002/UIH_15T_umr588/P002/cine_cut.mat"
    trunc.write_bytes((root / CINE).read_bytes()[:900])
    serial = index_tree(root, tmp_path / "a" / "c.parquet", workers=1)
    parallel = index_tree(root, tmp_path / "b" / "c.parquet", workers=2)
    assert sorted(f[0].rsplit("/", 1)[1] for f in serial.failures) == ["cine_bad.mat", "cine_cut.mat"]
    assert serial.failures == parallel.failures and serial.n_scans == N_MINI_SCANS
    doc = json.loads((tmp_path / "a" / "c.failures.json").read_text())
    assert len(doc) == 2 and all("error" in d for d in doc)
    assert _table(tmp_path / "a" / "c.parquet") == _table(tmp_path / "b" / "c.parquet")


def test_index_records_a_source_it_cannot_stat(mini_root: Path, tmp_path: Path, mini_spec: dict) -> None:
    """A dangling symbolic link named like a scan (or a file removed during the walk) is a recorded
    failure, not a traceback; the other scans are indexed and it does not count as unchanged."""
    root = _copy(mini_root, tmp_path)
    gone = root / "MultiCoil/Cine/TrainingSet/FullSample/Center002/UIH_15T_umr588/P001/cine_gone.mat"
    gone.symlink_to(tmp_path / "nowhere.mat")
    rep = index_tree(root, tmp_path / "a" / "c.parquet", workers=1)
    assert [(f[0].rsplit("/", 1)[1], f[1].split(":")[0]) for f in rep.failures] == [
        ("cine_gone.mat", "cannot stat")
    ]
    assert rep.n_scans == mini_spec["n_scans"] and rep.n_unchanged == 0
    doc = json.loads((tmp_path / "a" / "c.failures.json").read_text())
    assert [d["source"].rsplit("/", 1)[1] for d in doc] == ["cine_gone.mat"]


def test_index_refuses_other_salt_and_old_schema(mini_root: Path, mini_catalog: Path, tmp_path: Path) -> None:
    cat = tmp_path / "c.parquet"
    shutil.copy(mini_catalog, cat)
    with pytest.raises(PHIError):
        index_tree(mini_root, cat, salt_file=tmp_path.parent / f"{tmp_path.name}-other.salt")
    old = tmp_path / "old.parquet"
    meta = "KV_METADATA {'cardiomm.schema_version': '0'}"
    duckdb.execute(f"COPY (SELECT * FROM read_parquet('{cat}')) TO '{old}' ({meta})")
    assert catalog_metadata(old) == {"cardiomm.schema_version": "0"}
    with pytest.raises(ConfigError):
        read_catalog(old)
    with pytest.raises(InputFileError):
        read_catalog(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputFileError):
        read_catalog(tmp_path / "junk.parquet")
    shutil.copy(old, cat)
    with pytest.raises(ConfigError):
        read_catalog(cat)


def test_index_isolates_a_crash_and_a_hang(
    mini_root: Path, tmp_path: Path, bad_sources: Callable[[Path, Path], None]
) -> None:
    """A source whose reader segfaults and one whose reader never returns are recorded failures; the
    run completes with exit code 1 and the catalog equals a serial in-process run without them."""
    root = _copy(mini_root, tmp_path)
    serial = tmp_path / "serial" / "c.parquet"
    index_tree(root, serial, workers=0)
    patient = "MultiCoil/Cine/TrainingSet/FullSample/Center002/UIH_15T_umr588"
    crash, hang = f"{patient}/P001/cine_crash.mat", f"{patient}/P002/cine_hang.mat"
    bad_sources(root / crash, root / hang)
    cat = tmp_path / "isolated" / "c.parquet"
    argv = [
        "db",
        "index",
        str(root),
        "--catalog",
        str(cat),
        "--workers",
        "2",
        "--timeout",
        "5",
        "--no-progress",
    ]
    start = time.monotonic()
    assert main(argv) == 1
    assert time.monotonic() - start < 120
    failures = json.loads(failures_path(cat).read_text())
    assert [(f["source"], f["kind"], f.get("signal")) for f in failures] == [
        (crash, "crash", "SIGSEGV"),
        (hang, "timeout", None),
    ]
    assert _table(cat) == _table(serial)


def test_batches_group_small_sources_only() -> None:
    from cardiomm.database.catalog import BATCH_BYTES, BATCH_FILES, _batches

    def task(size: int) -> tuple[Any, ...]:
        return ("root", None, b"", "", size, "fp", True)

    small = [task(1000)] * 200
    batches = list(_batches(iter(small)))  # drawn lazily: sizes grow 1, 2, 4 ... up to BATCH_FILES
    assert [len(b) for b in batches] == [1, 2, 4, 8, 16] + [BATCH_FILES] * 5 + [9]  # 200 sources
    mixed = [task(1000), task(BATCH_BYTES), task(1000), task(BATCH_BYTES // 2), task(BATCH_BYTES // 2)]
    mixed += [task(1000)] * 40
    batches = list(_batches(mixed))
    assert [len(b) for b in batches] == [1, 1, 2, 8, 16, 17]  # a big source alone; <= BATCH_BYTES each
    assert [t for b in batches for t in b] == mixed  # order kept, nothing lost
    assert all(sum(t[4] for t in b) <= BATCH_BYTES for b in batches)


def test_index_reads_headers_without_importing_torch(
    mini_root: Path, mini_spec: dict[str, Any], tmp_path: Path
) -> None:
    """`db index` (its fork server's preload, and indexing .mat files of v7.3 and v5 in-process) never
    imports torch, whose import costs more than indexing a thousand files; `db prepare`'s preload does."""
    import subprocess
    import sys

    code = (
        "import importlib, sys; from pathlib import Path; "
        "import cardiomm.io; assert 'torch' not in sys.modules, 'cardiomm.io'; "
        "from cardiomm.database.catalog import INDEX_PRELOAD, WORKER_PRELOAD, index_tree; "
        "[importlib.import_module(m) for m in INDEX_PRELOAD]; assert 'torch' not in sys.modules, 'preload'; "
        f"rep = index_tree(Path({str(mini_root)!r}), Path({str(tmp_path / 'c.parquet')!r}), workers=0); "
        "assert 'torch' not in sys.modules, 'index'; print(rep.n_scans); "
        "[importlib.import_module(m) for m in WORKER_PRELOAD]; assert 'torch' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == mini_spec["n_scans"]
