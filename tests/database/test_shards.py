"""Re-organisation into shards: content, determinism, restarts after SIGKILL, Dask, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from cardiomm.database.catalog import index_tree, read_catalog
from cardiomm.database.manifest import MANIFEST_NAME, read_manifest, shard_digest, sidecar_path
from cardiomm.database.shards import prepare_shards
from cardiomm.io import read_cmrxrecon, save_mat


def _rss_reference(frames: np.ndarray) -> np.ndarray:
    """RSS of the centred orthonormal IFFT, straight from numpy (independent of cardiomm)."""
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(frames, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    return np.sqrt((np.abs(img) ** 2).sum(axis=1))


def test_prepare_shard_content(mini_root: Path, mini_catalog: Path, mini_shards: Path) -> None:
    frame = read_catalog(mini_catalog)
    manifest = read_manifest(mini_shards)
    assert len(manifest["shards"]) == len(frame)
    assert [e["path"] for e in manifest["shards"]] == sorted(e["path"] for e in manifest["shards"])
    row = frame[frame.subtype == "sax"].iloc[0]
    entry = next(e for e in manifest["shards"] if e["scan_id"] == row.scan_id)
    vol = read_cmrxrecon(mini_root / row.relpath)
    expected = vol.frames().numpy()
    with h5py.File(mini_shards / entry["path"], "r") as f:
        k, rss = f["kspace"][()], f["reconstruction_rss"][()]
        attrs = dict(f.attrs)
        assert f["kspace"].chunks == (1, *k.shape[1:]) and k.dtype == np.complex64
    np.testing.assert_array_equal(k, expected)
    np.testing.assert_allclose(rss, _rss_reference(expected), rtol=1e-5, atol=1e-6)
    assert attrs["max"] == pytest.approx(rss.max())
    assert attrs["norm"] == pytest.approx(np.linalg.norm(rss), rel=1e-5)
    assert entry["shape"] == [row.nt * row.nz, row.nc, row.ny, row.nx] and entry["n_frames"] == row.n_frames
    got = (attrs["scan_id"], attrs["center"], attrs["field"], attrs["medcon"])
    assert got == (row.scan_id, "Center001", "3.0T", "unknown")
    prompt = "Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis."
    assert attrs["prompt"] == prompt
    assert attrs["source_sha256"] == row.sha256 and attrs["axis_order"] == "b,c,ky,kx"
    assert attrs["source"] == "" and str(mini_root) not in json.dumps({k: str(v) for k, v in attrs.items()})


def test_prepare_is_deterministic_and_resumable(
    mini_root: Path, mini_catalog: Path, mini_shards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(mini_shards, out)
    rep = prepare_shards(mini_root, out, mini_catalog, workers=1)
    assert (rep.n_written, rep.n_verified) == (0, len(read_manifest(out)["shards"]))
    first = read_manifest(out)["shards"][0]
    flip_chunk_byte(out / first["path"])  # corrupt the k-space of a shard
    sidecar_path(out / read_manifest(out)["shards"][1]["path"]).unlink()  # lose a sidecar
    (out / "Cine" / ".cardiomm-tmp-deadbeef-x.h5").write_bytes(b"stale")
    rep = prepare_shards(mini_root, out, mini_catalog, workers=2)
    assert (rep.n_written, rep.n_failed) == (2, 0)
    assert (out / MANIFEST_NAME).read_bytes() == (mini_shards / MANIFEST_NAME).read_bytes()
    assert not list(out.rglob(".cardiomm-tmp-*"))


def test_prepare_reports_bad_input(mini_root: Path, tmp_path: Path, mini_spec: dict) -> None:
    root = tmp_path / "raw"
    shutil.copytree(mini_root, root)
    patient = root / "MultiCoil/Cine/TrainingSet/FullSample/Center002/UIH_15T_umr588/P001"
    k = mini_spec["random_kspace"](np.random.default_rng(1))
    k[0, 0, 0, 0, 0] = np.nan
    save_mat(patient / "cine_nan.mat", {"kspace_full": k})  # indexes fine, fails on conversion
    cat = tmp_path / "cat" / "c.parquet"
    index_tree(root, cat)
    changed = patient / "cine_sax.mat"
    save_mat(changed, {"kspace_full": mini_spec["random_kspace"](np.random.default_rng(2))})  # after indexing
    out = tmp_path / "out"
    rep = prepare_shards(root, out, cat, workers=1)
    assert rep.n_failed == 2 and rep.n_written == mini_spec["n_scans"] - 1
    failures = json.loads((out / "failures.json").read_text())
    messages = " | ".join(f["error"] for f in failures)
    assert "NaN" in messages and "source changed" in messages
    frame = read_catalog(cat)
    bad = frame.relpath.str.endswith(("cine_nan.mat", "P001/cine_sax.mat")) & (frame.center == "Center002")
    bad_ids = set(frame[bad].scan_id)
    assert {f["scan_id"] for f in failures} <= bad_ids
    assert not any(p.stem in bad_ids for p in out.rglob("*.h5"))


def test_prepare_converts_real_twix(
    shared_data: Path, tmp_path: Path, write_dicom_series: Callable[..., None]
) -> None:
    """A real Siemens twix scan is indexed and converted; the shard k-space is twixtools' own reading
    (readout oversampling removed), its RSS the numpy reference, and no header text reaches it. A DICOM
    series beside it is catalogued but, without k-space, counted as skipped."""
    import contextlib
    import io

    import twixtools

    from cardiomm.database.phi import find_strings

    src = shared_data / "kspace/fallback_noncardiac/twixtools_gre_brain_2ch.dat"
    if not src.is_file():
        pytest.skip(f"real twix file {src.name} not found in the shared data folder; skipping")
    root = tmp_path / "raw"
    (root / "twix").mkdir(parents=True)
    shutil.copyfile(src, root / "twix" / "meas_gre.dat")  # a temporary copy, outside the repository
    write_dicom_series(root / "dicom", np.zeros((2, 1, 8, 8), np.uint16), positions=[0.0])
    cat, out = tmp_path / "cat" / "c.parquet", tmp_path / "out"
    index_tree(root, cat)
    frame = read_catalog(cat)
    assert sorted(frame.source_format) == ["dicom", "twix-dat"]
    row = frame[frame.source_format == "twix-dat"].iloc[0]
    assert bool(row.has_kspace)
    rep = prepare_shards(root, out, cat, workers=1)
    assert (rep.n_written, rep.n_failed, rep.n_unsupported, rep.n_image_only) == (1, 0, 0, 1), rep.failures
    entry = read_manifest(out)["shards"][0]
    assert entry["shape"] == [row.nt * row.nz, row.nc, row.ny, row.nx] == [1, 2, 160, 160]
    with contextlib.redirect_stdout(io.StringIO()):
        image = twixtools.map_twix(str(src), verbose=False)[-1]["image"]
    image.flags["remove_os"] = True
    expected = np.moveaxis(image[:].reshape(160, 2, 160), 1, 0)[None]  # (b, c, ky, kx); centre line 80
    with h5py.File(out / entry["path"], "r") as f:
        k, rss = f["kspace"][()], f["reconstruction_rss"][()]
        assert f.attrs["source_format"] == "twix-dat"
    np.testing.assert_allclose(k, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_allclose(rss, _rss_reference(k), rtol=1e-5, atol=1e-6 * rss.max())
    assert find_strings([out, cat.parent], ("DZNE", "Venusberg", "Freud")) == []  # header PHI stays out


def flip_chunk_byte(shard: Path) -> None:
    """Invert one byte inside the first k-space chunk of a shard."""
    with h5py.File(shard, "r") as f:
        offset = f["kspace"].id.get_chunk_info(0).byte_offset
    data = bytearray(shard.read_bytes())
    data[offset + 5] ^= 0xFF
    shard.write_bytes(bytes(data))


def _count(out: Path) -> tuple[int, bool]:
    sidecars = len(list(out.rglob("*.sha256")))
    return sidecars, any(out.rglob(".cardiomm-tmp-*"))


def test_prepare_survives_sigkill(
    mini_root: Path, mini_catalog: Path, mini_shards: Path, tmp_path: Path
) -> None:
    """Kill ``cardiomm db prepare`` (whole process group) at random points, then finish the run."""
    out = tmp_path / "out"
    reference = {e["path"]: e["sha256"] for e in read_manifest(mini_shards)["shards"]}
    argv = [sys.executable, "-m", "cardiomm.cli.main", "db", "prepare", str(mini_root), str(out),
            "--catalog", str(mini_catalog), "--workers", "1", "--no-progress"]  # fmt: skip
    rng = np.random.default_rng(2024)
    kills = attempts = 0
    while kills < 5 and attempts < 15:
        attempts += 1
        proc = subprocess.Popen(
            argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base, _ = _count(out) if out.exists() else (0, False)
        extra = int(rng.integers(0, 3))
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            n, tmp = _count(out) if out.exists() else (0, False)
            if (n >= base + extra and (tmp or n > base)) or n == len(reference):
                time.sleep(float(rng.uniform(0, 0.02)))
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait()
        kills += proc.returncode == -signal.SIGKILL
        for shard in out.rglob("*.h5"):  # no partial shard survives under its final name
            if not shard.name.startswith(".cardiomm-tmp-"):
                assert shard_digest(shard) == reference[shard.relative_to(out).as_posix()]
    assert kills >= 5
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / MANIFEST_NAME).read_bytes() == (mini_shards / MANIFEST_NAME).read_bytes()
    verify = [sys.executable, "-m", "cardiomm.cli.main", "db", "verify", str(out)]
    check = subprocess.run(verify, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and f"{len(reference)}/{len(reference)} file(s) OK" in check.stdout


def test_prepare_on_dask_local_cluster(
    mini_root: Path, mini_catalog: Path, mini_shards: Path, tmp_path: Path
) -> None:
    """A LocalCluster of 3 worker processes gives the manifest of the serial (in-process) run and of 1 and
    2 local worker processes, byte for byte."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    serial = prepare_shards(mini_root, tmp_path / "serial", mini_catalog, workers=0)
    two = prepare_shards(mini_root, tmp_path / "two", mini_catalog, workers=2)
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rep = prepare_shards(mini_root, tmp_path / "out", mini_catalog, scheduler=cluster.scheduler_address)
    assert rep.n_failed == serial.n_failed == two.n_failed == 0
    assert rep.n_written == serial.n_written == len(read_manifest(mini_shards)["shards"])
    assert rep.peak_worker_rss_mb > 0 and serial.peak_worker_rss_mb > 0
    got, want = read_manifest(tmp_path / "out")["shards"], read_manifest(tmp_path / "serial")["shards"]
    assert [(a, b) for a, b in zip(got, want, strict=True) if a != b] == []
    reference = (tmp_path / "serial" / MANIFEST_NAME).read_bytes()
    for out in (tmp_path / "out", tmp_path / "two", mini_shards):
        assert (out / MANIFEST_NAME).read_bytes() == reference


def test_shard_digest_is_layout_independent(mini_shards: Path, tmp_path: Path) -> None:
    """Same datasets and attrs written with another HDF5 layout give the same digest; edits do not."""
    src = mini_shards / read_manifest(mini_shards)["shards"][0]["path"]
    copy = tmp_path / "copy.h5"
    with h5py.File(src, "r") as f, h5py.File(copy, "w", libver="latest") as g:
        for name in reversed(list(f.keys())):  # other creation order, contiguous, other libver
            g.create_dataset(name, data=f[name][()])
        for name in reversed(list(f.attrs.keys())):
            g.attrs[name] = f.attrs[name]
    assert copy.read_bytes() != src.read_bytes() and shard_digest(copy) == shard_digest(src)
    with h5py.File(copy, "a") as g:
        g.attrs["center"] = "Center999"
    assert shard_digest(copy) != shard_digest(src)


def _tree_with_bad_scans(
    mini_root: Path, mini_catalog: Path, tmp_path: Path, bad_sources: Callable[[Path, Path], None]
) -> tuple[Path, Path, Any, Any]:
    """A copy of the mini tree, its serial shards, and two of its scans (catalog rows) whose sources
    became a crashing and a hanging reader after indexing (read by the source check)."""
    root = tmp_path / "raw"
    shutil.copytree(mini_root, root)
    serial = tmp_path / "serial"
    prepare_shards(root, serial, mini_catalog, workers=0)
    frame = read_catalog(mini_catalog).sort_values("relpath")
    crash, hang = frame.iloc[0], frame.iloc[1]
    bad_sources(root / crash.relpath, root / hang.relpath)
    return root, serial, crash, hang


def test_prepare_isolates_a_crash_and_a_hang(
    mini_root: Path, mini_catalog: Path, tmp_path: Path, bad_sources: Callable[[Path, Path], None]
) -> None:
    """A scan whose reader segfaults and one whose reader never returns are recorded failures; the run
    completes with exit code 1 and every other shard equals a serial in-process run."""
    from cardiomm.cli.main import main

    root, serial, crash, hang = _tree_with_bad_scans(mini_root, mini_catalog, tmp_path, bad_sources)
    out = tmp_path / "out"
    argv = ["db", "prepare", str(root), str(out), "--catalog", str(mini_catalog), "--workers", "2",
            "--timeout", "5", "--no-progress"]  # fmt: skip
    start = time.monotonic()
    assert main(argv) == 1
    assert time.monotonic() - start < 120
    failures = json.loads((out / "failures.json").read_text())
    got = sorted((f["scan_id"], f["source"], f["kind"], f.get("signal")) for f in failures)
    assert got == sorted(
        [(crash.scan_id, crash.relpath, "crash", "SIGSEGV"), (hang.scan_id, hang.relpath, "timeout", None)]
    )
    expected = [
        e for e in read_manifest(serial)["shards"] if e["scan_id"] not in (crash.scan_id, hang.scan_id)
    ]
    assert read_manifest(out)["shards"] == expected
    assert not list(out.rglob(".cardiomm-tmp-*"))


def test_prepare_workers_die_with_the_main_process(
    mini_root: Path, mini_catalog: Path, tmp_path: Path, descendants: Callable[[int], set[int]]
) -> None:
    """``kill -9`` of the main process of `db prepare` (not of its process group) while a worker is busy
    leaves no worker behind (they used to live on for minutes and keep writing)."""
    root = tmp_path / "raw"
    shutil.copytree(mini_root, root)
    busy = root / read_catalog(mini_catalog).sort_values("relpath").iloc[0].relpath
    busy.unlink()
    os.mkfifo(busy)  # the worker that reads it waits until we close our end
    argv = [sys.executable, "-m", "cardiomm.cli.main", "db", "prepare", str(root), str(tmp_path / "out"),
            "--catalog", str(mini_catalog), "--workers", "2", "--timeout", "0", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    writer = None
    try:
        deadline = time.monotonic() + 120
        while writer is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                writer = os.open(busy, os.O_WRONLY | os.O_NONBLOCK)  # once a worker has opened it
            except OSError:
                time.sleep(0.05)
        assert writer is not None, "no worker opened the source"
        family = descendants(proc.pid)
        assert len(family) >= 2  # fork server and workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and family & _live(family):
            time.sleep(0.1)
        assert not _live(family)
    finally:
        if writer is not None:
            os.close(writer)
        proc.kill()
        proc.wait()


def _live(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still exist and are not zombies."""
    live = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            live.add(pid)
    return live


def test_hash_later_index_gives_the_same_shards(
    mini_root: Path, mini_catalog: Path, mini_shards: Path, tmp_path: Path
) -> None:
    """`db index --no-checksum` reads headers only; `db prepare` hashes each source itself, so the shards
    and the manifest are byte-identical to those of a checksummed index, and resuming verifies them."""
    import hashlib

    cat = tmp_path / "nosum" / "catalog.parquet"
    rep = index_tree(mini_root, cat, workers=1, checksum=False)
    assert rep.n_hashed == 0 and rep.n_scans == len(read_catalog(mini_catalog))
    frame = read_catalog(cat)
    assert frame["sha256"].isna().all() and (frame["source_sha256"] == "").all()
    out = tmp_path / "shards"
    rep = prepare_shards(mini_root, out, cat, workers=1)
    assert rep.n_failed == 0 and rep.n_written == len(read_manifest(mini_shards)["shards"])
    assert (out / MANIFEST_NAME).read_bytes() == (mini_shards / MANIFEST_NAME).read_bytes()
    entry = read_manifest(out)["shards"][0]
    with h5py.File(out / entry["path"], "r") as f:
        recorded = f.attrs["source_sha256"]
    source = read_catalog(mini_catalog).set_index("scan_id").loc[entry["scan_id"], "relpath"]
    assert recorded == hashlib.sha256((mini_root / source).read_bytes()).hexdigest()
    assert prepare_shards(mini_root, out, cat, workers=1).n_verified == rep.n_written  # resume
    # a later checksummed run hashes the rows that have no digest
    rep = index_tree(mini_root, cat, workers=1)
    assert rep.n_hashed == rep.n_sources - rep.n_skipped - len(rep.failures)
    frame = read_catalog(cat).sort_values("scan_id").reset_index(drop=True)
    ref = read_catalog(mini_catalog).sort_values("scan_id").reset_index(drop=True)
    assert frame["sha256"].tolist() == ref["sha256"].tolist()


def test_prepare_on_dask_ends_a_hanging_scan_and_records_it(
    mini_root: Path, mini_catalog: Path, tmp_path: Path, bad_sources: Callable[[Path, Path], None]
) -> None:
    """On a Dask cluster a scan whose reader never returns is ended by the per-scan timeout (its worker
    process is ended, the nanny starts another) and recorded, as is a scan whose reader crashes its
    worker; every other shard equals the serial run."""
    pytest.importorskip("distributed")
    import dask
    from distributed import LocalCluster

    root, serial, crash, hang = _tree_with_bad_scans(mini_root, mini_catalog, tmp_path, bad_sources)
    out = tmp_path / "out"
    # one scan at a time per single-threaded worker (ending a worker then fails no other scan), no retry
    cfg = {"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}
    start = time.monotonic()
    with dask.config.set(cfg):
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            rep = prepare_shards(root, out, mini_catalog, scheduler=cluster.scheduler_address, timeout=5)
    assert time.monotonic() - start < 180
    failures = {f["scan_id"]: f for f in json.loads((out / "failures.json").read_text())}
    assert sorted(failures) == sorted([crash.scan_id, hang.scan_id]) and rep.n_failed == 2
    assert {f["kind"] for f in failures.values()} == {"crash"}
    assert "ran past the 5 s limit" in failures[hang.scan_id]["error"]
    expected = [
        e for e in read_manifest(serial)["shards"] if e["scan_id"] not in (crash.scan_id, hang.scan_id)
    ]
    assert read_manifest(out)["shards"] == expected
