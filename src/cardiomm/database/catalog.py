"""Raw tree -> versioned Parquet catalog (one row per scan), built incrementally and in parallel.

``index_tree(root, catalog)`` walks a mixed-format tree (:mod:`cardiomm.database.sources`), reads
headers and shapes only (:mod:`cardiomm.database.extract`) in worker processes, and writes one row per
scan: locator columns, the :class:`~cardiomm.database.header.CardiacHeader` fields, ``n_frames``
(= nt * nz), linked masks and ``schema_version``. The Parquet file metadata holds
``cardiomm.schema_version``, a salt check value (an HMAC of a constant, to refuse mixing salts) and
the keyed fingerprints of sources found not to be scans.

Incremental re-runs: a source whose ``stat`` signature (sizes + mtimes, stored only as a keyed
fingerprint) is unchanged keeps its rows without being opened; a changed signature triggers a
streamed SHA-256, and only a changed digest triggers re-extraction; removed sources are dropped.
``checksum=False`` (``db index --no-checksum``, "hash later") reads headers only: ``sha256`` and
``source_sha256`` stay empty, a changed signature re-reads the headers, and ``db prepare`` hashes each
source while converting it. At MMCMR-427K scale this turns an index bounded by reading 3.5 TB into one
bounded by header reads. A later run with checksums hashes the rows that have none.
Corrupt or unreadable sources are reported (``IndexReport.failures`` and
``<catalog>.failures.json``: ``source``, ``kind``, ``error`` and, for a crash, ``signal``) and never abort
the run. Each source is hashed and read in a worker process with a timeout
(:func:`cardiomm.utils.isolation.run_isolated`): a reader that segfaults (``kind`` ``crash``) or hangs
(``timeout``) costs that source only; typed read errors have ``kind`` ``error``.

PHI in paths: every source and mask path is screened (:func:`cardiomm.database.phi.screen_path`)
before anything is read. A path whose folder or file names look like a person name, a date or a
record number is refused: it is reported as a failure under a keyed pseudonym
(``withheld-<16 hex>``, the same for the same path and salt) and never reaches the catalog, its
metadata or the failures file; the real path is only returned in ``IndexReport.withheld`` (for the
console). ``allow_phi_paths=True`` stores such paths verbatim and records ``cardiomm.phi_paths =
allowed`` in the catalog metadata.

A DICOM folder is one source and may give several rows (one per series, ``series_index``); their
``file_size`` and ``sha256`` are those of the whole folder. ``sha256`` is the digest of the k-space
file; ``source_sha256`` also covers the ``_info.csv`` sidecar.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from cardiomm.database._progress import progress_bar
from cardiomm.database.extract import NotAScanError, extract_file, merge_scan
from cardiomm.database.extract.dicom import extract_dicom_series
from cardiomm.database.header import CardiacHeader
from cardiomm.database.paths import name_sampling, parse_path
from cardiomm.database.phi import (
    Pseudonymizer,
    ensure_outside,
    load_salt,
    safe_error,
    screen_path,
    take_screened_count,
)
from cardiomm.database.sources import SourceItem, mask_link_key, sha256_source, stat_signature, walk_sources
from cardiomm.errors import ConfigError, InputFileError, PHIError
from cardiomm.utils.atomic import atomic_path
from cardiomm.utils.isolation import INDEX_TIMEOUT_S, Failure, run_isolated, write_failures

__all__ = [
    "SCHEMA_VERSION",
    "IndexReport",
    "index_tree",
    "read_catalog",
    "catalog_schema",
    "catalog_metadata",
    "process_pool",
    "failures_path",
]

#: Version of the catalog schema (column set and meaning).
SCHEMA_VERSION = 1
#: Modules the fork server of ``db index`` / ``db prepare`` imports once, so that every worker starts
#: with them loaded (torch and h5py through ``cardiomm.io``, then the readers and the converter).
WORKER_PRELOAD = (
    "cardiomm.io", "cardiomm.database.catalog", "cardiomm.database.extract", "cardiomm.database.extract.mat",
    "cardiomm.database.shards", "cardiomm.database.convert",
)  # fmt: skip

_LOCATOR = (
    ("scan_id", "string"), ("source", "string"), ("relpath", "string"), ("series_index", "int32"),
    ("has_kspace", "bool"), ("kspace_key", "string"), ("data_set", "string"), ("source_sha256", "string"),
    ("source_fingerprint", "string"),
)  # fmt: skip
_TRAILER = (("n_frames", "int64"), ("masks", "list"), ("mask_relpaths", "list"), ("schema_version", "int32"))


#: Column kind -> DuckDB / Parquet type.
_SQL_TYPES = {
    "string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "bool": "BOOLEAN",
    "float": "DOUBLE", "list": "VARCHAR[]", "flist": "DOUBLE[]",
}  # fmt: skip


def catalog_schema() -> list[tuple[str, str]]:
    """The catalog's columns as ``(name, DuckDB type)``: locator columns, header fields, trailer columns."""
    kinds = {"int | None": "int64", "float | None": "float", "tuple[float, ...]": "flist"}
    cols: list[tuple[str, str]] = list(_LOCATOR)
    for f in fields(CardiacHeader):
        if f.name == "scan_id":
            continue
        cols.append((f.name, kinds.get(str(f.type), "string")))
    cols += list(_TRAILER)
    return [(name, _SQL_TYPES[kind]) for name, kind in cols]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parquet_query(sql: str, catalog: Path, *, frame: bool = False) -> Any:
    """Run ``sql`` (with one ``?``: the catalog path) in a fresh in-memory DuckDB connection: a pandas
    frame when ``frame``, else ``(column names, rows)``."""
    import duckdb  # noqa: PLC0415 - lazy: importing this module loads no duckdb

    con = duckdb.connect(":memory:")
    try:
        cur = con.execute(sql, [str(catalog)])
        return cur.df() if frame else ([d[0] for d in cur.description], cur.fetchall())
    finally:
        con.close()


@dataclass(frozen=True)
class IndexReport:
    """Summary of one ``index_tree`` run.

    Attributes
    ----------
    catalog
        The Parquet file written.
    n_sources, n_scans
        Sources found (refused ones included) and catalog rows written.
    n_extracted, n_hashed, n_unchanged, n_removed, n_skipped
        Sources whose headers were read; sources hashed (new or changed signature); sources kept
        untouched; sources dropped since the last run; non-scan sources.
    failures
        ``(relpath, message)`` of unreadable sources (not in the catalog); refused paths appear
        under their pseudonym (``withheld-...``).
    elapsed_s
        Wall time [s].
    n_phi_paths
        Source and mask paths that look identifying (refused, or kept with ``allow_phi_paths``).
    n_screened
        Free-text header values stored as ``unknown`` because they looked identifying.
    withheld
        ``(pseudonym, real relpath)`` of refused paths, for the console only (excluded from ``repr``;
        never written to a file).
    """

    catalog: Path
    n_sources: int
    n_scans: int
    n_extracted: int
    n_hashed: int
    n_unchanged: int
    n_removed: int
    n_skipped: int
    failures: tuple[tuple[str, str], ...] = field(default=())
    elapsed_s: float = 0.0
    n_phi_paths: int = 0
    n_screened: int = 0
    withheld: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class _Outcome:
    relpath: str
    status: str  # rows | same | skipped | failed
    rows: tuple[dict[str, Any], ...] = ()
    source_sha: str = ""
    message: str = ""
    n_screened: int = 0


def _rows_for(
    root: Path, item: SourceItem, pseudo: Pseudonymizer, size: int, sha: tuple[str, str]
) -> list[dict[str, Any]]:
    data_set = parse_path(item.relpath).data_set
    if item.kind == "dicom":
        files = [root / item.relpath / f for f in item.files]
        raws = extract_dicom_series(files, lambda uid: pseudo.key("series", uid))
    else:
        raws = extract_file(root / item.relpath, item.kind)
    rows = []
    for i, raw in enumerate(raws):
        key = f"{item.relpath}#{raw.series_key}" if raw.series_key else item.relpath
        header = merge_scan(raw, item.relpath, pseudo, source_key=key)
        header = replace(header, file_size=size, sha256=sha[1] or None)
        rec = header.to_record()
        rec.update(
            source=item.relpath, relpath=item.relpath, series_index=i, has_kspace=raw.has_kspace,
            kspace_key=raw.kspace_key, data_set=data_set, source_sha256=sha[0],
            n_frames=header.n_frames, schema_version=SCHEMA_VERSION,
        )  # fmt: skip
        rows.append(rec)
    return rows


def _process(task: tuple[str, SourceItem, bytes, str, int, str, bool]) -> _Outcome:
    """Worker: hash one source (unless ``checksum`` is off), and extract it unless its content is
    unchanged."""
    root_s, item, salt, old_sha, size, fingerprint, checksum = task
    root = Path(root_s)
    pseudo = Pseudonymizer(salt)
    take_screened_count()  # reset this process's counter
    try:
        sha = sha256_source(root, item) if checksum else ("", "")
        if old_sha and checksum and sha[0] == old_sha:
            return _Outcome(item.relpath, "same", source_sha=sha[0])
        rows = _rows_for(root, item, pseudo, size, sha)
        for r in rows:
            r["source_fingerprint"] = fingerprint
        n = take_screened_count()
        return _Outcome(item.relpath, "rows", rows=tuple(rows), source_sha=sha[0], n_screened=n)
    except NotAScanError as err:
        return _Outcome(item.relpath, "skipped", message=str(err)[:200])
    except Exception as err:  # any damaged input is reported, never fatal
        return _Outcome(item.relpath, "failed", message=safe_error(err))


def process_pool(workers: int, preload: tuple[str, ...] = ("cardiomm.io",)) -> ProcessPoolExecutor:
    """A process pool using the ``forkserver`` start method (safe with threads and torch).

    ``preload`` modules are imported once by the fork server, so workers start without paying for
    them (``cardiomm.io`` imports torch). The database commands use
    :func:`cardiomm.utils.isolation.run_isolated` instead (per-file isolation and timeout).
    """
    ctx: BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
    else:  # pragma: no cover - non-POSIX
        ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


#: Sources sent to a worker in one message: at most this many, and at most :data:`BATCH_BYTES` together.
BATCH_FILES = 32
BATCH_BYTES = 64 << 20


def _process_batch(batch: list[Any]) -> list[_Outcome]:
    """Worker: :func:`_process` on each source of a batch (one round trip for many small files)."""
    return [_process(t) for t in batch]


def _batches(tasks: Iterable[Any]) -> Iterator[list[Any]]:
    """Consecutive groups of small sources, drawn lazily from ``tasks``: the first batch holds one
    source and each next one twice as many, up to :data:`BATCH_FILES` (so that a small tree still
    reaches every worker, and a large one pays the per-message cost once per 32 sources); a source of
    :data:`BATCH_BYTES` or more travels alone, and no batch holds more bytes than that."""
    limit, size = 1, 0
    batch: list[Any] = []
    for t in tasks:
        if batch and (len(batch) >= limit or size + t[4] > BATCH_BYTES):
            yield batch
            limit, batch, size = min(2 * limit, BATCH_FILES), [], 0
        batch.append(t)
        size += t[4]
    if batch:
        yield batch


def _outcome(out: _Outcome) -> tuple[_Outcome, Failure | None]:
    return out, (Failure("error", out.message) if out.status == "failed" else None)


def _crashed(task: Any, failure: Failure | None) -> tuple[_Outcome, Failure]:
    """The outcome of a source whose worker crashed or timed out."""
    failure = failure or Failure("error", "no result")
    return _Outcome(task[1].relpath, "failed", message=failure.message), failure


def _run(
    tasks: Iterable[Any], workers: int, progress: Any, timeout: float | None
) -> Iterator[tuple[_Outcome, Failure | None]]:
    """``(outcome, failure)`` per task, in completion order (``failure`` for failed ones). ``tasks`` is
    drawn lazily (the tree walk produces them while the workers read headers), in batches
    (:func:`_batches`: the per-message cost of the isolated workers bounded the rate on small files).
    A batch whose worker crashes or times out (the limit holds per batch) is run again one source per
    message, so that the failure is pinned on its source and the other sources of the batch are read."""
    if workers < 1:
        for t in tasks:
            yield _outcome(_process(t))
            progress()
        return
    batches: list[list[Any]] = []

    def drawn() -> Iterator[list[Any]]:
        for batch in _batches(tasks):
            batches.append(batch)  # run_isolated's index i is the i-th batch drawn
            yield batch

    retry: list[Any] = []
    results = run_isolated(_process_batch, drawn(), workers=workers, timeout=timeout, preload=WORKER_PRELOAD)
    for res in results:
        if res.value is None and len(batches[res.index]) > 1:
            retry.extend(batches[res.index])
            continue
        if res.value is None:  # the worker crashed or timed out on a single source
            yield _crashed(batches[res.index][0], res.failure)
            progress()
            continue
        for out in res.value:
            yield _outcome(out)
            progress()
    if retry:
        yield from _run_single(retry, workers, progress, timeout)


def _run_single(
    tasks: list[Any], workers: int, progress: Any, timeout: float | None
) -> Iterator[tuple[_Outcome, Failure | None]]:
    """As :func:`_run`, one source per message (the fallback for a failed batch)."""
    for res in run_isolated(_process, tasks, workers=workers, timeout=timeout, preload=WORKER_PRELOAD):
        if res.value is None:  # the worker crashed or timed out
            yield _crashed(tasks[res.index], res.failure)
        else:
            yield _outcome(res.value)
        progress()


def catalog_metadata(catalog: str | os.PathLike[str]) -> dict[str, str]:
    """The ``cardiomm.*`` key/value metadata of a catalog file."""
    _, kv = _parquet_query("SELECT key, value FROM parquet_kv_metadata(?)", Path(catalog))
    return {k.decode(): v.decode() for k, v in kv if k.startswith(b"cardiomm.")}


def read_catalog(catalog: str | os.PathLike[str]) -> Any:
    """Read a catalog as a ``pandas.DataFrame`` (after checking its schema version).

    Integer columns use pandas' nullable ``Int64``/``Int32`` (missing values are ``<NA>``).

    Raises
    ------
    InputFileError
        Missing or unreadable file.
    ConfigError
        A catalog of another schema version (re-run ``cardiomm db index``).
    """
    import duckdb  # noqa: PLC0415 - lazy: importing this module loads no duckdb

    p = Path(catalog)
    if not p.is_file():
        raise InputFileError("catalog not found (run `cardiomm db index` first)", path=p)
    try:
        version = int(catalog_metadata(p).get("cardiomm.schema_version", "-1"))
    except (OSError, ValueError, duckdb.Error) as err:
        raise InputFileError(f"cannot read the Parquet catalog ({safe_error(err)})", path=p) from None
    if version != SCHEMA_VERSION:
        msg = f"catalog schema version {version}, expected {SCHEMA_VERSION}; re-run indexing"
        raise ConfigError(msg, path=p)
    try:
        return _parquet_query("SELECT * FROM read_parquet(?)", p, frame=True)
    except duckdb.Error as err:
        raise InputFileError(f"cannot read the Parquet catalog ({safe_error(err)})", path=p) from None


def _load_previous(catalog: Path, salt_check: str) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    if not catalog.is_file():
        return {}, {}
    meta = catalog_metadata(catalog)
    if int(meta.get("cardiomm.schema_version", "-1")) != SCHEMA_VERSION:
        return {}, {}  # older schema: full re-index
    if meta.get("cardiomm.salt_check") != salt_check:
        msg = "catalog was built with another salt; pass the same --salt-file (or a new --catalog)"
        raise PHIError(msg, path=catalog)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    names, values = _parquet_query("SELECT * FROM read_parquet(?)", catalog)
    for rec in (dict(zip(names, v, strict=True)) for v in values):
        rows[rec["source"]].append(rec)
    return dict(rows), json.loads(meta.get("cardiomm.skipped", "{}"))


def _link_masks(rows: Iterable[dict[str, Any]], masks: list[str]) -> None:
    by_key: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for m in masks:
        by_key[mask_link_key(m)].append(m)
    for r in rows:
        linked = sorted(by_key.get(mask_link_key(r["relpath"]), []))
        tokens = []
        for m in linked:
            stem, pattern, accel = name_sampling(m.rpartition("/")[2])
            tokens.append(f"{pattern}{accel}" if accel else stem)
        r["masks"], r["mask_relpaths"] = tokens, linked


def failures_path(catalog: str | os.PathLike[str]) -> Path:
    """The failures file of a catalog: ``<catalog stem>.failures.json`` next to it."""
    cat = Path(catalog)
    return cat.with_name(cat.stem + ".failures.json")


def _sql_text(value: object) -> str:
    """A value as the body of a SQL string literal (quotes doubled)."""
    return str(value).replace("'", "''")


def _plain(value: Any) -> Any:
    """A row value as DuckDB takes it (tuples of the header become lists)."""
    return list(value) if isinstance(value, tuple) else value


def _write_catalog(
    catalog: Path, rows: list[dict[str, Any]], meta: dict[str, str], failures: list[tuple[str, Failure]]
) -> None:
    import duckdb  # noqa: PLC0415 - lazy: importing this module loads no duckdb
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    schema = catalog_schema()
    rows = sorted(rows, key=lambda r: (r["source"], r["series_index"]))
    clean = [tuple(_plain(r.get(name)) for name, _ in schema) for r in rows]
    kv = ", ".join(f"'cardiomm.{k}': '{_sql_text(v)}'" for k, v in sorted(meta.items()))
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE TABLE catalog ({', '.join(f'{_quote(n)} {t}' for n, t in schema)})")
        if clean:  # through a pandas frame: DuckDB's executemany costs ~15 ms a row
            frame = pd.DataFrame(clean, columns=[name for name, _ in schema], dtype=object)  # noqa: F841
            con.execute("INSERT INTO catalog SELECT * FROM frame")
        with atomic_path(catalog) as tmp:
            con.execute(f"COPY catalog TO '{_sql_text(tmp)}' (FORMAT parquet, KV_METADATA {{{kv}}})")
    finally:
        con.close()
    if failures:
        write_failures(failures_path(catalog), [{"source": s, **f.record()} for s, f in failures])
    else:
        failures_path(catalog).unlink(missing_ok=True)


@dataclass
class _Walk:
    """What :func:`_plan` found while it walked the tree (complete once its generator is exhausted)."""

    n_sources: int = 0
    items: list[SourceItem] = field(default_factory=list)  # the indexable ones
    masks: list[str] = field(default_factory=list)
    withheld: list[tuple[str, str, str]] = field(default_factory=list)  # (pseudonym, relpath, reasons)
    n_phi_paths: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)  # rows of unchanged sources
    skipped: dict[str, str] = field(default_factory=dict)
    fp_by_rel: dict[str, str] = field(default_factory=dict)  # fingerprints of the sources to read
    unreadable: list[tuple[str, Failure]] = field(default_factory=list)  # sources whose stat failed


def _plan(
    root: Path,
    walk: _Walk,
    pseudo: Pseudonymizer,
    previous: dict[str, list[dict[str, Any]]],
    old_skipped: dict[str, str],
    *,
    checksum: bool,
    allow_phi_paths: bool,
) -> Iterator[tuple[Any, ...]]:
    """Walk ``root``, yield the worker task of every new or changed source and record the rest in ``walk``:
    identifying-looking paths (withheld unless ``allow_phi_paths``), unchanged sources (previous rows),
    sources skipped before, sources that cannot be stat'ed (a broken link, a file removed meanwhile)."""

    def keep(relpath: str) -> bool:
        reasons = screen_path(relpath)
        if not reasons:
            return True
        walk.n_phi_paths += 1
        if not allow_phi_paths:
            walk.withheld.append(("withheld-" + pseudo.key("phi-path", relpath), relpath, ", ".join(reasons)))
        return allow_phi_paths

    for dir_items, dir_masks in walk_sources(root):
        walk.n_sources += len(dir_items)
        walk.masks += [m for m in dir_masks if keep(m)]
        for item in dir_items:
            if not keep(item.relpath):
                continue
            walk.items.append(item)
            try:
                size, signature = stat_signature(root, item)
            except OSError as err:
                walk.unreadable.append((item.relpath, Failure("error", f"cannot stat: {safe_error(err)}")))
                continue
            fp = pseudo.fingerprint(signature)
            old = previous.get(item.relpath)
            if old and old[0]["source_fingerprint"] == fp and (old[0]["source_sha256"] or not checksum):
                walk.kept.extend(old)
            elif old_skipped.get(item.relpath) == fp:
                walk.skipped[item.relpath] = fp
            else:
                walk.fp_by_rel[item.relpath] = fp
                old_sha = old[0]["source_sha256"] if old else ""
                yield (str(root), item, pseudo.salt, old_sha, size, fp, checksum)


def index_tree(
    root: str | os.PathLike[str],
    catalog: str | os.PathLike[str],
    *,
    workers: int = 1,
    salt_file: str | os.PathLike[str] | None = None,
    progress: bool = False,
    allow_phi_paths: bool = False,
    timeout: float | None = INDEX_TIMEOUT_S,
    checksum: bool = True,
) -> IndexReport:
    """Index a raw tree into a Parquet catalog (incremental; see the module docstring).

    Parameters
    ----------
    root
        Top of the raw tree.
    catalog
        Parquet file to create or update.
    workers
        Worker processes for hashing and header extraction. Each source is read in a worker
        (:func:`cardiomm.utils.isolation.run_isolated`), so that a crash or a hang in one file is a
        recorded failure. 0: serially in this process, without timeout (for debugging; a crashing file
        then ends the run).
    salt_file
        Pseudonymisation salt (default ``$CARDIOMM_SALT_FILE`` or ``~/.config/cardiomm``); created
        with mode 0600 if missing; must lie outside the catalog folder and the raw tree.
    progress
        Show a rich progress bar on stderr.
    allow_phi_paths
        Index sources whose paths look identifying (stored verbatim) instead of refusing them.
    timeout
        Seconds one source may take (``None`` or 0: no limit); a source over it is a failure.
    checksum
        Hash every new or changed source (SHA-256 of its bytes). ``False`` reads headers only and
        leaves ``sha256`` / ``source_sha256`` empty for ``db prepare`` to fill ("hash later").

    Raises
    ------
    InputFileError
        ``root`` is not a folder.
    PHIError
        Salt inside the catalog folder or the raw tree, too-open salt permissions, or a salt that
        differs from the one the existing catalog was built with.
    """
    t0 = time.perf_counter()
    root_p, cat = Path(root).resolve(), Path(catalog)
    if not root_p.is_dir():
        raise InputFileError("raw data root is not a folder", path=root_p)
    ensure_outside(salt_file, cat.parent, root_p)
    pseudo = Pseudonymizer(load_salt(salt_file))
    salt_check = pseudo.key("salt-check", "cardiomm")
    previous, old_skipped = _load_previous(cat, salt_check)
    walk = _Walk()
    kept, skipped, fp_by_rel = walk.kept, walk.skipped, walk.fp_by_rel
    tasks = _plan(
        root_p, walk, pseudo, previous, old_skipped, checksum=checksum, allow_phi_paths=allow_phi_paths
    )
    read_failures: list[tuple[str, Failure]] = []
    n_extracted = n_screened = 0

    def counted() -> Iterator[tuple[Any, ...]]:  # the bar learns its total when the walk ends
        yield from tasks
        advance.set_total(len(fp_by_rel))

    with progress_bar(progress, None, "indexing") as advance:
        for out, failure in _run(counted(), workers, advance, timeout):
            if out.status == "same":
                fp = fp_by_rel[out.relpath]
                kept.extend({**r, "source_fingerprint": fp} for r in previous[out.relpath])
            elif out.status == "rows":
                kept.extend(out.rows)
                n_extracted += 1
                n_screened += out.n_screened
            elif out.status == "skipped":
                skipped[out.relpath] = fp_by_rel[out.relpath]
            else:
                read_failures.append((out.relpath, failure or Failure("error", out.message)))
    refused = "PHIError: path looks identifying ({}); not indexed: rename it or use --allow-phi-paths"
    failures = [(name, Failure("error", refused.format(why))) for name, _, why in walk.withheld]
    failures += sorted(read_failures + walk.unreadable, key=lambda f: f[0])
    current = {it.relpath for it in walk.items}
    n_removed = sum(1 for s in previous if s not in current)
    n_unchanged = len(walk.items) - len(fp_by_rel) - len(walk.unreadable)
    _link_masks(kept, walk.masks)
    meta = {"schema_version": str(SCHEMA_VERSION), "kind": "catalog", "salt_check": salt_check,
            "skipped": json.dumps(dict(sorted(skipped.items())))}  # fmt: skip
    if allow_phi_paths and walk.n_phi_paths:
        meta["phi_paths"] = "allowed"
    cat.parent.mkdir(parents=True, exist_ok=True)
    _write_catalog(cat, kept, meta, failures)
    return IndexReport(
        catalog=cat, n_sources=walk.n_sources, n_scans=len(kept), n_extracted=n_extracted,
        n_hashed=len(fp_by_rel) if checksum else 0, n_unchanged=n_unchanged, n_removed=n_removed,
        n_skipped=len(skipped),
        failures=tuple((name, f.message) for name, f in failures),
        elapsed_s=time.perf_counter() - t0, n_phi_paths=walk.n_phi_paths, n_screened=n_screened,
        withheld=tuple((name, rel) for name, rel, _ in walk.withheld),
    )  # fmt: skip
