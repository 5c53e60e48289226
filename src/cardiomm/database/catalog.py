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
the run. The work is shared-nothing (:mod:`cardiomm.database.index_work`): this process lists the top
folders of the tree into about :data:`UNITS_PER_WORKER` subtrees per worker, and each worker walks,
screens, plans and reads its subtrees on its own (:func:`cardiomm.utils.isolation.run_isolated`); this
process merges, links masks and writes. A reader that segfaults (``kind`` ``crash``) or hangs
(``timeout``) costs that source only: its subtree is read again source by source, each source isolated
with the timeout; typed read errors have ``kind`` ``error``.

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

import itertools
import json
import math
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from cardiomm.database._progress import progress_bar
from cardiomm.database.header import CardiacHeader
from cardiomm.database.index_work import (
    SCHEMA_VERSION,
    Outcome,
    PreviousState,
    SourceTask,
    Unit,
    UnitResult,
    UnitTask,
    Walk,
    group_units,
    index_unit,
    plan_sources,
    previous_in_unit,
    process_batch,
    process_source,
    split_tree,
    unit_budget,
    unit_folders,
    unit_limit,
)
from cardiomm.database.phi import (
    Pseudonymizer,
    ensure_outside,
    load_salt,
    safe_error,
)
from cardiomm.database.sources import MaskLink, mask_link_key
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

#: Modules the fork server of ``db prepare`` imports once, so that every worker starts with them loaded
#: (the readers and the converter, with h5py and torch).
WORKER_PRELOAD = (
    "cardiomm.io.kspace", "cardiomm.database.catalog", "cardiomm.database.extract",
    "cardiomm.database.extract.mat", "cardiomm.database.shards", "cardiomm.database.convert",
)  # fmt: skip

#: The same for ``db index``, which reads headers only: no torch (importing it costs ~2 s per command
#: on a 2-core machine, more than indexing a thousand files); a test checks that none of these loads it.
INDEX_PRELOAD = (
    "cardiomm.io.mat", "cardiomm.io.scan_csv", "cardiomm.database.catalog", "cardiomm.database.extract",
    "cardiomm.database.extract.mat", "cardiomm.database.index_work", "cardiomm.sampling",
    "cardiomm.text.prompts",
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


_DATABASE: dict[int, Any] = {}  # process id -> its in-memory DuckDB database


def _cursor() -> Any:
    """A fresh DuckDB connection (a cursor) to this process's in-memory database. Opening a database
    costs ~30 ms and closing it ~10 ms (DuckDB 2.0), a cursor ~0.02 ms; keyed by process id, so that a
    forked child never uses its parent's."""
    import duckdb  # noqa: PLC0415 - lazy: importing this module loads no duckdb

    pid = os.getpid()
    if pid not in _DATABASE:
        _DATABASE.clear()
        _DATABASE[pid] = duckdb.connect(":memory:")
    return _DATABASE[pid].cursor()


def _parquet_query(sql: str, catalog: Path, *, frame: bool = False) -> Any:
    """Run ``sql`` (with one ``?``: the catalog path) in a fresh DuckDB connection (:func:`_cursor`): a
    pandas frame when ``frame``, else ``(column names, rows)``."""
    con = _cursor()
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


def process_pool(workers: int, preload: tuple[str, ...] = WORKER_PRELOAD) -> ProcessPoolExecutor:
    """A process pool using the ``forkserver`` start method (safe with threads and torch).

    ``preload`` modules are imported once by the fork server, so workers start without paying for
    them (:data:`WORKER_PRELOAD` imports torch). The database commands use
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


def _outcome(out: Outcome) -> tuple[Outcome, Failure | None]:
    return out, (Failure("error", out.message) if out.status == "failed" else None)


def _crashed(task: Any, failure: Failure | None) -> tuple[Outcome, Failure]:
    """The outcome of a source whose worker crashed or timed out."""
    failure = failure or Failure("error", "no result")
    return Outcome(task[1].relpath, "failed", message=failure.message), failure


def _run(
    tasks: Iterable[Any], workers: int, progress: Any, timeout: float | None
) -> Iterator[tuple[Outcome, Failure | None]]:
    """``(outcome, failure)`` per source task, in completion order (``failure`` for failed ones): the
    sources a unit handed back and those of units read source by source. ``tasks`` is drawn lazily (a
    unit's folders are walked here while the workers read the first sources), in batches
    (:func:`_batches`: the per-message cost of the isolated workers bounded the rate on small files).
    A batch whose worker crashes or times out (the limit holds per batch) is run again one source per
    message, so that the failure is pinned on its source and the other sources of the batch are read."""
    if workers < 1:
        for t in tasks:
            yield _outcome(process_source(t))
            progress()
        return
    batches: list[list[Any]] = []

    def drawn() -> Iterator[list[Any]]:
        for batch in _batches(tasks):
            batches.append(batch)  # run_isolated's index i is the i-th batch drawn
            yield batch

    retry: list[Any] = []
    results = run_isolated(process_batch, drawn(), workers=workers, timeout=timeout, preload=INDEX_PRELOAD)
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
) -> Iterator[tuple[Outcome, Failure | None]]:
    """As :func:`_run`, one source per message (the fallback for a failed batch)."""
    for res in run_isolated(process_source, tasks, workers=workers, timeout=timeout, preload=INDEX_PRELOAD):
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


def _link_masks(rows: Iterable[dict[str, Any]], masks: list[MaskLink]) -> None:
    """Record in each row the masks that share its :func:`mask_link_key` (their tokens, e.g.
    ``ktGaussian16``, and paths, sorted by path); ``masks`` come parsed (:func:`mask_link`)."""
    by_key: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for key, relpath, token in masks:
        by_key[key].append((relpath, token))
    for r in rows:
        linked = sorted(by_key.get(mask_link_key(r["relpath"]), ()))
        r["masks"], r["mask_relpaths"] = [t for _, t in linked], [m for m, _ in linked]


def failures_path(catalog: str | os.PathLike[str]) -> Path:
    """The failures file of a catalog: ``<catalog stem>.failures.json`` next to it."""
    cat = Path(catalog)
    return cat.with_name(cat.stem + ".failures.json")


def _sql_text(value: object) -> str:
    """A value as the body of a SQL string literal (quotes doubled)."""
    return str(value).replace("'", "''")


def _write_catalog(
    catalog: Path, rows: list[dict[str, Any]], meta: dict[str, str], failures: list[tuple[str, Failure]]
) -> None:
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    schema = catalog_schema()
    rows = sorted(rows, key=lambda r: (r["source"], r["series_index"]))
    columns = {name: [r.get(name) for r in rows] for name, _ in schema}
    for name, sql_type in schema:  # DuckDB takes lists, not the header's tuples
        if sql_type.endswith("[]"):
            columns[name] = [list(v) if isinstance(v, tuple) else v for v in columns[name]]
    kv = ", ".join(f"'cardiomm.{k}': '{_sql_text(v)}'" for k, v in sorted(meta.items()))
    con = _cursor()
    try:  # a temporary table belongs to this connection alone
        con.execute(f"CREATE TEMP TABLE catalog ({', '.join(f'{_quote(n)} {t}' for n, t in schema)})")
        if rows:  # through a pandas frame: DuckDB's executemany costs ~15 ms a row
            frame = pd.DataFrame(columns, dtype=object)  # noqa: F841
            con.execute("INSERT INTO catalog SELECT * FROM frame")
        with atomic_path(catalog) as tmp:
            con.execute(f"COPY catalog TO '{_sql_text(tmp)}' (FORMAT parquet, KV_METADATA {{{kv}}})")
    finally:
        con.close()
    if failures:
        write_failures(failures_path(catalog), [{"source": s, **f.record()} for s, f in failures])
    else:
        failures_path(catalog).unlink(missing_ok=True)


#: Units per worker that :func:`~cardiomm.database.index_work.split_tree` aims for (load balance).
UNITS_PER_WORKER = 16
#: Seconds a unit reads sources in its worker before handing the rest back (at most the timeout).
UNIT_BUDGET_S = 20.0


def _states_in(keys: list[str], states: Mapping[str, Any], units: Iterable[Unit]) -> dict[str, Any]:
    """The previous states that may belong to any of ``units`` (:func:`previous_in_unit`)."""
    return {k: v for unit in units for k, v in previous_in_unit(keys, states, unit).items()}


def _run_units(
    units: list[UnitTask], workers: int, limit: float | None
) -> Iterator[tuple[UnitTask, UnitResult | None]]:
    """``(task, result)`` per unit in completion order; ``result`` is ``None`` where the unit's worker
    crashed or ran past ``limit``. ``workers < 1``: in this process, in order."""
    if workers < 1:
        for task in units:
            yield task, index_unit(task)
        return
    for res in run_isolated(index_unit, units, workers=workers, timeout=limit, preload=INDEX_PRELOAD):
        yield units[res.index], res.value


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
    walk = Walk()
    kept: list[dict[str, Any]] = []
    read_failures: list[tuple[str, Failure]] = []
    n_extracted = n_screened = 0

    def take(out: Outcome, failure: Failure | None) -> None:
        nonlocal n_extracted, n_screened
        if out.status == "same":
            fp = walk.fp_by_rel[out.relpath]
            kept.extend({**r, "source_fingerprint": fp} for r in previous[out.relpath])
        elif out.status == "rows":
            kept.extend(out.rows)
            n_extracted += 1
            n_screened += out.n_screened
        elif out.status == "skipped":
            walk.skipped[out.relpath] = walk.fp_by_rel[out.relpath]
        else:
            read_failures.append((out.relpath, failure or Failure("error", out.message)))

    states = {rel: PreviousState(rows[0]["source_fingerprint"], rows[0]["source_sha256"] or "")
              for rel, rows in previous.items()}  # fmt: skip
    keys, skipped_keys = sorted(states), sorted(old_skipped)
    budget = unit_budget(timeout, UNIT_BUDGET_S)
    n_units = UNITS_PER_WORKER * max(1, workers)
    units = [
        UnitTask(str(root_p), group, pseudo.salt, _states_in(keys, states, group),
                 _states_in(skipped_keys, old_skipped, group), checksum, allow_phi_paths,
                 budget if workers >= 1 else math.inf)
        for group in group_units(split_tree(root_p, n_units), n_units)
    ]  # fmt: skip
    pending: list[Iterable[SourceTask]] = []  # sources left by a unit (budget), units to read one by one
    with progress_bar(progress, None, "indexing") as advance:
        for task, result in _run_units(units, workers, unit_limit(budget, timeout)):
            if result is None:
                # its worker crashed or ran past the limit: plan it here, read it source by source
                pending.append(plan_sources(
                    root_p, unit_folders(root_p, task.units), walk, pseudo, task.previous, task.old_skipped,
                    checksum=checksum, allow_phi_paths=allow_phi_paths,
                ))  # fmt: skip
                continue
            walk.merge(result.walk)
            pending.append(result.leftover)
            for out in result.outcomes:
                take(*_outcome(out))
                advance()
        for out, failure in _run(itertools.chain.from_iterable(pending), workers, advance, timeout):
            take(out, failure)
        advance.set_total(len(walk.fp_by_rel))
    kept.extend(r for rel in walk.unchanged for r in previous[rel])
    skipped, fp_by_rel = walk.skipped, walk.fp_by_rel
    walk.withheld.sort(key=lambda w: w[1])
    refused = "PHIError: path looks identifying ({}); not indexed: rename it or use --allow-phi-paths"
    failures = [(name, Failure("error", refused.format(why))) for name, _, why in walk.withheld]
    failures += sorted(read_failures + walk.unreadable, key=lambda f: f[0])
    current = set(walk.items)
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
