"""Raw scans -> training shards (one HDF5 file per scan) + a deterministic manifest.

``prepare_shards(root, out, catalog)`` writes, for every catalog scan with raw k-space, the file
``OUT/<Modality folder>/<scan_id>.h5`` in the layout of :func:`cardiomm.io.h5.write_training_h5`:

- ``kspace`` ``(b, c, ky, kx)`` complex64, ``b = t * nz + z`` (t-major; attributes ``axis_order``,
  ``frame_order``), one chunk per frame (gzip-compressed with ``compress``); ``reconstruction_rss``
  ``(b, y, x)`` float32;
- attributes: ``max``, ``norm`` (of the RSS volume), ``prompt`` (metadata prompt text), and the
  PHI-free catalog fields (``center``, ``vendor``, ``field``, ``scanner``, ``modality``, ``view``,
  ``subtype``, ``lifespan``, ``disease``, ``patient_id``, ``scan_id``, ``source_sha256``...; ``medcon``
  is ``unknown`` as published). No timestamps and no source path are stored.

**Checksums.** Shard content is deterministic (no timestamps, fixed per-frame chunking, attributes
in sorted order), but the HDF5 byte layout is not guaranteed to be (chunk placement depends on when
h5py closes dataset handles; a Dask worker and the main process were seen to differ). The checksum
is therefore the content digest :func:`cardiomm.database.manifest.shard_digest` (datasets + attrs,
canonical serialisation), taken while the shard is written (:mod:`cardiomm.database.convert`: the
k-space is streamed in frame blocks, so memory per worker does not grow with the scan, and the shard
is not read back). It is written to ``<shard>.sha256`` (atomically, after the shard) and to
``manifest.json`` (entries sorted by path, no run-dependent fields); the test suite checks that an
uninterrupted run, a run killed and resumed, and a Dask run give identical manifests.

**Isolation.** Each scan is converted in a worker process with a per-scan timeout
(:func:`cardiomm.utils.isolation.run_isolated`): a reader that segfaults or hangs costs that scan only.
``failures.json`` lists every failed scan (``scan_id``, ``source`` below the raw root unless it looks
identifying, ``kind`` ``error`` / ``crash`` / ``timeout``, ``error``, ``signal`` for a crash). Workers
are killed with the main process, so a killed run leaves nothing writing.

**Restarts.** Writes are atomic (temporary name, then rename). A re-run removes stale temporary
files, skips shards whose content digest matches their sidecar and whose ``source_sha256`` matches the
catalog, and rewrites anything else. A corrupt input is listed in the printed summary and in
``failures.json`` and skipped; it never aborts the run nor leaves a partial shard.

**Execution.** Local worker processes (see Isolation) by default, or a Dask distributed cluster
(``scheduler`` address); both run :func:`prepare_one` on picklable :class:`ShardTask` records. Dask
workers cannot start worker processes of their own, so there the timeout is a watchdog thread that ends
the Dask worker process running a scan past it (its nanny starts a new one; the libraries a scan needs
are imported before the clock starts); a scan that ends the workers that run it (a hang or a crash) as
often as the scheduler allows (``distributed.scheduler.allowed-failures``, 3 by default) is recorded as
a ``crash``.
"""

from __future__ import annotations

import fcntl
import functools
import importlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cardiomm.database._progress import progress_bar
from cardiomm.database.catalog import WORKER_PRELOAD, read_catalog
from cardiomm.database.header import CardiacHeader
from cardiomm.database.manifest import (
    FAILURES_NAME,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    ShardEntry,
    manifest_text,
    read_manifest,
    read_sidecar,
    shard_digest,
    shard_relpath,
    sidecar_path,
)
from cardiomm.database.phi import ensure_outside, safe_error, screen_path
from cardiomm.database.query import filter_frame
from cardiomm.database.sources import sha256_file
from cardiomm.errors import CardiommError, ConfigError, FileFormatError
from cardiomm.types import UNKNOWN
from cardiomm.utils.atomic import TMP_PREFIX, atomic_path
from cardiomm.utils.isolation import PREPARE_TIMEOUT_S, Failure, run_isolated, write_failures

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "MANIFEST_NAME",
    "FAILURES_NAME",
    "ShardTask",
    "ShardEntry",
    "PrepareReport",
    "prepare_shards",
    "prepare_one",
    "read_manifest",
    "shard_relpath",
    "sidecar_path",
]

_LOCK_NAME = ".cardiomm-prepare.lock"
_READABLE = ("cmrxrecon-mat", "ismrmrd-h5", "fastmri-h5", "twix-dat")
_STR_ATTRS = (
    "center", "vendor", "scanner", "modality", "subtype", "view", "lifespan", "disease", "population",
    "patient_id", "scan_id", "source_format", "sampling_pattern",
)  # fmt: skip
_NUM_ATTRS = (
    "field_t", "acceleration", "acs_lines", "tr_s", "te_s", "fov_x_mm", "fov_y_mm", "slice_thickness_mm",
)  # fmt: skip


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to write one shard (picklable, PHI-free apart from the paths)."""

    scan_id: str
    source_format: str
    src: str
    kspace_key: str
    out: str
    rel: str
    source_sha256: str
    metadata: dict[str, str]
    numbers: dict[str, float | int]
    prompt: str
    check_source: bool = True
    compress: bool = False


@dataclass(frozen=True)
class PrepareReport:
    """Summary of a ``prepare_shards`` run (counts, failures ``(scan_id, message)``, byte totals;
    ``n_image_only``: selected catalog rows without k-space, e.g. DICOM series, which are skipped;
    ``peak_worker_rss_mb``: largest peak resident memory of a worker [MB], shared libraries included)."""

    out: Path
    n_scans: int
    n_written: int
    n_verified: int
    n_failed: int
    n_unsupported: int
    failures: tuple[tuple[str, str], ...] = field(default=())
    bytes_in: int = 0
    bytes_out: int = 0
    elapsed_s: float = 0.0
    n_image_only: int = 0
    peak_worker_rss_mb: float = 0.0


def _entry(task: ShardTask, shard: Path, digest: str) -> ShardEntry:
    import h5py  # noqa: PLC0415 - lazy: importing this module loads no h5py

    with h5py.File(shard, "r") as f:
        shape = tuple(int(s) for s in f["kspace"].shape)
        nt, nz = int(f.attrs["n_frames"]), int(f.attrs["n_slices"])
    b, c, ky, kx = shape
    return ShardEntry(task.scan_id, task.rel, digest, b, nt, nz, (b, c, ky, kx))


def _source_sha256(task: ShardTask) -> str:
    """The source digest the shard must record: the catalog's, or (an index built with
    ``--no-checksum``) the SHA-256 of the source file, computed now ("hash later")."""
    return task.source_sha256 or sha256_file(Path(task.src))


def _shard_ok(shard: Path, source_sha: Callable[[], str]) -> str | None:
    """Checksum of a finished shard that matches its sidecar and the source digest ``source_sha()``
    (called only for a shard that passed its own check), else ``None``."""
    expected = read_sidecar(sidecar_path(shard))
    if expected is None or not shard.is_file():
        return None
    try:
        digest = shard_digest(shard)
    except CardiommError:
        return None
    if digest != expected:
        return None
    import h5py  # noqa: PLC0415 - lazy: importing this module loads no h5py

    try:
        with h5py.File(shard, "r") as f:
            src = f.attrs.get("source_sha256", "")
    except OSError:
        return None
    src = src.decode() if isinstance(src, bytes) else str(src)
    return digest if src and src == source_sha() else None


@contextmanager
def _torch_single_thread() -> Iterator[None]:
    """One intra-op thread while converting: parallelism comes from processes, and several torch
    thread pools on few cores slow the FFTs down by an order of magnitude."""
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def prepare_one(task: ShardTask) -> dict[str, Any]:
    """Write (or verify) one shard; never raises for bad input.

    Returns
    -------
    dict
        ``status`` (``written``, ``verified``, ``failed``, ``unsupported``), ``scan_id``, ``entry``
        (a :class:`ShardEntry` as dict, when a shard exists), ``message``, ``bytes_in``,
        ``peak_rss_mb`` (peak resident memory of this process so far [MB], shared libraries
        included).
    """
    with _torch_single_thread():
        result = _prepare_one(task)
    return {**result, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """Peak resident set size of this process [MB] (``ru_maxrss``; 0 where unavailable)."""
    try:
        import resource  # noqa: PLC0415 - resource exists on POSIX only
    except ImportError:  # pragma: no cover - non-POSIX
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prepare_one(task: ShardTask) -> dict[str, Any]:
    shard = Path(task.out) / task.rel
    base = {"scan_id": task.scan_id, "entry": None, "message": "", "bytes_in": 0}
    if task.source_format not in _READABLE:
        return {**base, "status": "unsupported", "message": f"no k-space reader for {task.source_format}"}
    try:
        source_digest = functools.cache(lambda: _source_sha256(task))  # hashed at most once
        digest = _shard_ok(shard, source_digest)
        if digest is not None:
            return {**base, "status": "verified", "entry": asdict(_entry(task, shard, digest))}
        size = os.path.getsize(task.src)
        source_sha = source_digest()
        if task.source_sha256 and task.check_source and sha256_file(Path(task.src)) != source_sha:
            msg = "source changed since indexing (sha256 differs); re-run `cardiomm db index`"
            raise FileFormatError(msg)
        from cardiomm.database.convert import ShardContent, write_shard  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

        sidecar_path(shard).unlink(missing_ok=True)
        fastmri = task.source_format == "fastmri-h5"
        metadata = {**task.metadata, "source_sha256": source_sha}
        content = ShardContent(task.prompt, metadata, task.numbers, fastmri, task.compress)
        digest, entry = write_shard(task.src, shard, fmt=task.source_format, key=task.kspace_key or None,
                                    content=content)  # fmt: skip
        with atomic_path(sidecar_path(shard)) as tmp:
            tmp.write_text(f"{digest}  {shard.name}\n")
        entry = replace(entry, scan_id=task.scan_id, path=task.rel)
        return {**base, "status": "written", "entry": asdict(entry), "bytes_in": size}
    except Exception as err:  # corrupt input: reported, never fatal
        return {**base, "status": "failed", "message": safe_error(err)}


def _tasks(root: Path, out: Path, frame: Any, check_source: bool, compress: bool = False) -> list[ShardTask]:
    tasks = []
    for rec in frame.to_dict("records"):
        header = CardiacHeader.from_record(rec)
        prompt = header.metadata_prompt()
        meta = {k: str(getattr(header, k)) for k in _STR_ATTRS}
        sha = rec.get("sha256")
        sha = sha if isinstance(sha, str) else ""  # empty: indexed with --no-checksum, hashed here
        meta.update(field=header.field_str, medcon=UNKNOWN, source_sha256=sha)
        if header.is_undersampled:
            try:
                meta["undersampling_prompt"] = header.undersampling_prompt()
            except CardiommError:  # a pattern without prompt family (parallel imaging...)
                pass
        numbers: dict[str, float | int] = {"catalog_schema_version": int(rec.get("schema_version") or 0)}
        for name in _NUM_ATTRS:
            value = getattr(header, name)
            if value is not None:
                numbers[name] = value
        task = ShardTask(
            scan_id=header.scan_id, source_format=header.source_format, src=str(root / rec["relpath"]),
            kspace_key=str(rec.get("kspace_key") or ""), out=str(out),
            rel=shard_relpath(header.modality, header.scan_id), source_sha256=sha,
            metadata=meta, numbers=numbers, prompt=prompt, check_source=check_source, compress=compress,
        )  # fmt: skip
        tasks.append(task)
    return sorted(tasks, key=lambda t: t.rel)


def _failed(task: ShardTask, failure: Failure) -> dict[str, Any]:
    """The result record of a scan whose worker crashed, timed out or raised."""
    return {"scan_id": task.scan_id, "entry": None, "message": failure.message, "bytes_in": 0,
            "status": "failed", "failure": failure}  # fmt: skip


def _run_local(
    tasks: list[ShardTask], workers: int, advance: Callable[[int], None], timeout: float | None
) -> Iterator[dict[str, Any]]:
    if workers < 1:
        for t in tasks:
            result = prepare_one(t)
            yield result
            advance(result["bytes_in"])
        return

    for res in run_isolated(prepare_one, tasks, workers=workers, timeout=timeout, preload=WORKER_PRELOAD):
        if res.value is None:
            result = _failed(tasks[res.index], res.failure or Failure("error", "no result"))
        else:
            result = res.value
        yield result
        advance(result["bytes_in"])


#: Exit status of a Dask worker process ended by :func:`_prepare_within` (EX_SOFTWARE).
_WATCHDOG_EXIT = 70


def _prepare_within(task: ShardTask, limit: float | None) -> dict[str, Any]:
    """Dask task: :func:`prepare_one`, or the end of this worker process if the scan runs past ``limit``
    seconds (a reader hung in C code cannot be interrupted; its process can end). The worker libraries
    are imported first (once per process), outside the limit."""
    for module in WORKER_PRELOAD:
        importlib.import_module(module)
    if not limit:
        return prepare_one(task)
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(limit):
            os._exit(_WATCHDOG_EXIT)

    threading.Thread(target=watchdog, name="cardiomm-scan-watchdog", daemon=True).start()
    try:
        return prepare_one(task)
    finally:
        done.set()


def _run_dask(
    tasks: list[ShardTask], scheduler: str, advance: Callable[[int], None], timeout: float | None
) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client, as_completed  # noqa: PLC0415 - optional extra, only for --scheduler
    except ImportError:
        raise ConfigError("--scheduler needs dask.distributed: pip install 'cardiomm[dask]'") from None

    with Client(scheduler, set_as_default=False) as client:
        keys = [f"cardiomm-prepare-{t.scan_id}" for t in tasks]
        run = functools.partial(_prepare_within, limit=timeout or None)
        futures = client.map(run, tasks, pure=False, key=keys)
        by_key = {fut.key: task for fut, task in zip(futures, tasks, strict=True)}
        why = "crashed them" + (f" or ran past the {timeout:g} s limit" if timeout else "")
        for fut in as_completed(futures, loop=client.loop):
            try:
                result = fut.result()
            except Exception as err:  # e.g. KilledWorker: the scan ended the Dask workers that ran it
                message = (
                    f"the scan ended the Dask worker processes that ran it: it {why} ({safe_error(err)})"
                )
                result = _failed(by_key[fut.key], Failure("crash", message))
            yield result
            advance(result["bytes_in"])


def _failure_record(result: dict[str, Any], root: Path, tasks: dict[str, ShardTask]) -> dict[str, Any]:
    """``failures.json`` entry: ``scan_id``, ``source`` (path below the raw root, left out when it looks
    identifying: the shard folder is meant to be PHI-free), ``kind``, ``error`` and maybe ``signal``."""
    task = tasks[result["scan_id"]]
    record: dict[str, Any] = {"scan_id": task.scan_id}
    relpath = Path(task.src).relative_to(root).as_posix()
    if not screen_path(relpath):
        record["source"] = relpath
    failure = result.get("failure") or Failure("error", result["message"])
    return {**record, **failure.record()}


def _clean_temporaries(out: Path) -> None:
    for p in out.rglob(f"{TMP_PREFIX}*"):
        if p.is_file():
            p.unlink(missing_ok=True)


def prepare_shards(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    where: str | None = None,
    check_source: bool = True,
    progress: bool = False,
    salt_file: str | os.PathLike[str] | None = None,
    timeout: float | None = PREPARE_TIMEOUT_S,
    compress: bool = False,
) -> PrepareReport:
    """Re-organise the catalog's scans into shards under ``out`` (see the module docstring).

    Parameters
    ----------
    root
        Raw tree the catalog was built from.
    out
        Output folder (shards, ``manifest.json``, ``failures.json``).
    catalog
        Parquet catalog.
    workers
        Local worker processes (default ``min(4, cpu_count)``): each scan is converted in a worker
        (:func:`cardiomm.utils.isolation.run_isolated`), so that a crash or a hang is a recorded
        failure. 0: serially in this process, without timeout (for debugging). Ignored with
        ``scheduler`` (a scan that ends Dask workers is recorded as a crash).
    scheduler
        Address of a Dask distributed scheduler (e.g. ``tcp://10.0.0.1:8786``).
    where
        Optional catalog predicate selecting the scans (DuckDB SQL).
    check_source
        Check each source's SHA-256 against the catalog before converting it.
    progress
        Show a rich progress bar on stderr.
    salt_file
        The pseudonymisation salt used at indexing (default ``$CARDIOMM_SALT_FILE`` or
        ``~/.config/cardiomm``); it is not read, only its location is checked.
    timeout
        Seconds one scan may take (``None`` or 0: no limit); a scan over it is a failure. With
        ``scheduler`` the Dask worker process running it is ended (see the module docstring).
    compress
        Gzip (level 4, with shuffle) the per-frame chunks of new shards. The content digest, and so
        the manifest, is the same as without; existing shards are kept as they are.

    Raises
    ------
    ConfigError
        Another ``prepare`` holds the lock on ``out``.
    PHIError
        The salt file lies inside the raw tree, the output folder or the catalog folder.
    """
    t0 = time.perf_counter()
    root_p, out_p = Path(root).resolve(), Path(out).resolve()
    ensure_outside(salt_file, root_p, out_p, Path(catalog).parent)
    frame = read_catalog(catalog)
    if where:
        frame = filter_frame(frame, where)
    n_image_only = int((~frame["has_kspace"].astype(bool)).sum())
    frame = frame[frame["has_kspace"].astype(bool)]
    out_p.mkdir(parents=True, exist_ok=True)
    lock = open(out_p / _LOCK_NAME, "w")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError("another `cardiomm db prepare` is writing to this folder", path=out_p) from None
        _clean_temporaries(out_p)
        tasks = _tasks(root_p, out_p, frame, check_source, compress)
        workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        results: list[dict[str, Any]] = []
        with progress_bar(progress, len(tasks), "preparing") as advance:
            if scheduler:
                results.extend(_run_dask(tasks, scheduler, advance, timeout))
            else:
                results.extend(_run_local(tasks, workers, advance, timeout))
        _clean_temporaries(out_p)  # of killed workers
        entries = [r["entry"] for r in results if r["entry"] is not None]
        failed = sorted((r for r in results if r["status"] == "failed"), key=lambda r: r["scan_id"])
        failures = [(r["scan_id"], r["message"]) for r in failed]
        by_id = {t.scan_id: t for t in tasks}
        with atomic_path(out_p / MANIFEST_NAME) as tmp:
            tmp.write_text(manifest_text(entries))
        write_failures(out_p / FAILURES_NAME, [_failure_record(r, root_p, by_id) for r in failed])
    finally:
        lock.close()
    statuses = ("written", "verified", "failed", "unsupported")
    count = {s: sum(1 for r in results if r["status"] == s) for s in statuses}
    return PrepareReport(
        out=out_p, n_scans=len(tasks), n_written=count["written"], n_verified=count["verified"],
        n_failed=count["failed"], n_unsupported=count["unsupported"], failures=tuple(failures),
        bytes_in=sum(r["bytes_in"] for r in results),
        bytes_out=sum((out_p / e["path"]).stat().st_size for e in entries),
        elapsed_s=time.perf_counter() - t0, n_image_only=n_image_only,
        peak_worker_rss_mb=max((r.get("peak_rss_mb", 0.0) for r in results), default=0.0),
    )  # fmt: skip
