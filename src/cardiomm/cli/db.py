"""``cardiomm db``: index, query, stats, split, prepare and verify a k-space database."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cardiomm.cli.app import app, console, err_console
from cardiomm.database.catalog import index_tree, read_catalog
from cardiomm.database.query import query_catalog
from cardiomm.database.shards import prepare_shards
from cardiomm.database.splits import check_no_leakage, make_splits, save_splits
from cardiomm.database.stats import catalog_stats, plot_stats, print_stats, write_stats_csv
from cardiomm.database.verify import verify_md5, verify_shards
from cardiomm.utils.isolation import INDEX_TIMEOUT_S, PREPARE_TIMEOUT_S

__all__ = ["db_app"]

db_app = typer.Typer(
    help="k-space database: catalog raw trees, query and summarise them, split and re-organise them.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

_DEFAULT_COLUMNS = (
    "scan_id", "center", "vendor", "field_t", "scanner", "modality", "subtype", "nt", "nz", "n_frames",
)  # fmt: skip


_SALT_HELP = "Pseudonymisation salt (default $CARDIOMM_SALT_FILE or ~/.config/cardiomm)."
_TIMEOUT_HELP = (
    "Seconds one {} may take in its worker process before it is killed and recorded as a failure "
    "(0: no limit)."
)
#: Exit code of a run that finished but could not process some files (usage errors exit with 2).
EXIT_SOME_FAILED = 1


def _print_failures(
    failures: tuple[tuple[str, str], ...], what: str, real: dict[str, str] | None = None
) -> None:
    """Print failures to stderr; ``real`` maps a withheld path's pseudonym to the real path (console only)."""
    if not failures:
        return
    err_console.print(f"[yellow]{len(failures)} {what} could not be processed (skipped):[/]")
    for name, message in failures:
        shown = f"{real[name]} (recorded as {name})" if real and name in real else name
        err_console.print(f"  {shown}: {message}", highlight=False, soft_wrap=True)


@db_app.command("index")
def index_cmd(
    root: Path = typer.Argument(..., help="Raw tree (MMCMR/CMRxRecon, ISMRMRD, fastMRI, twix, DICOM)."),
    catalog: Path = typer.Option(..., "--catalog", help="Parquet catalog to create or update."),
    workers: int = typer.Option(
        1, "--workers", min=0, help="Worker processes for hashing and header reading (0: in this process)."
    ),
    salt_file: Path | None = typer.Option(None, "--salt-file", help=_SALT_HELP),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    allow_phi_paths: bool = typer.Option(
        False,
        "--allow-phi-paths",
        help="Index files whose folder/file names look like names, dates or record numbers, and store "
        "those paths verbatim (default: refuse them).",
    ),
    timeout: float = typer.Option(INDEX_TIMEOUT_S, "--timeout", min=0, help=_TIMEOUT_HELP.format("file")),
    checksum: bool = typer.Option(
        True,
        "--checksum/--no-checksum",
        help="SHA-256 of every new or changed file; --no-checksum reads headers only and `db prepare` "
        "hashes each file as it converts it (hash later: for terabyte trees).",
    ),
) -> None:
    """Index a raw tree into a Parquet catalog (incremental: only new or changed files are read).

    Paths that look identifying (person names, dates, MRN-like numbers in folder or file names) are
    refused unless --allow-phi-paths is given: they are recorded under a keyed pseudonym and the real
    path is printed here only. Free-text header values that look identifying are stored as unknown.

    Each file is read in a worker process: a file that crashes or hangs the reader is recorded in
    <catalog>.failures.json and the run goes on (--workers 0, for debugging: in this process, without
    isolation). Exit code 1 when some files failed.
    """
    rep = index_tree(root, catalog, workers=workers, salt_file=salt_file, progress=progress,
                     allow_phi_paths=allow_phi_paths, timeout=timeout or None, checksum=checksum)  # fmt: skip
    console.print(
        f"catalog {rep.catalog}: {rep.n_scans} scans from {rep.n_sources} sources "
        f"({rep.n_extracted} read, {rep.n_unchanged} unchanged, {rep.n_removed} removed, "
        f"{rep.n_skipped} not scans, {len(rep.failures)} failed) in {rep.elapsed_s:.1f} s",
        highlight=False,
    )
    _print_failures(rep.failures, "source(s)", dict(rep.withheld))
    if rep.n_phi_paths and allow_phi_paths:
        msg = f"{rep.n_phi_paths} path(s) look identifying and are stored verbatim (--allow-phi-paths)"
        err_console.print(f"[yellow]{msg}[/]", highlight=False, soft_wrap=True)
    if rep.n_screened:
        msg = f"{rep.n_screened} free-text header value(s) looked identifying and were stored as unknown"
        err_console.print(f"[yellow]{msg}[/]", highlight=False, soft_wrap=True)
    if rep.failures:
        raise typer.Exit(EXIT_SOME_FAILED)


@db_app.command("query")
def query_cmd(
    catalog: Path = typer.Argument(..., help="Parquet catalog."),
    where: str | None = typer.Option(None, "--where", help='DuckDB SQL predicate, e.g. "nt > 1".'),
    columns: str | None = typer.Option(None, "--columns", help="Comma-separated columns (default: summary)."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as a JSON array."),
) -> None:
    """Select catalog rows with a SQL predicate."""
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    frame = query_catalog(catalog, where, cols or (None if as_json else list(_DEFAULT_COLUMNS)))
    if as_json:
        typer.echo(frame.to_json(orient="records"))
        return

    table = Table(title=f"{len(frame)} scan(s)", title_justify="left")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _cell(value: object) -> str:
    """Table cell text: lists joined, missing values empty."""
    if value is None:
        return ""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value != value:
        return ""
    return str(value)


@db_app.command("stats")
def stats_cmd(
    catalog: Path = typer.Argument(..., help="Parquet catalog."),
    csv: Path | None = typer.Option(None, "--csv", help="Folder for one CSV per table."),
    figure: Path | None = typer.Option(None, "--figure", help="PNG figure of the tables."),
) -> None:
    """Print scans, frames and patients per modality, center, vendor, field strength, scanner, disease."""
    tables = catalog_stats(catalog)
    print_stats(tables, console)
    if csv is not None:
        written = write_stats_csv(tables, csv)
        console.print(f"wrote {len(written)} CSV file(s) to {csv}", highlight=False)
    if figure is not None:
        console.print(f"wrote {plot_stats(tables, figure)}", highlight=False)


@db_app.command("split")
def split_cmd(
    catalog: Path = typer.Argument(..., help="Parquet catalog."),
    out: Path = typer.Option(..., "--out", help="Split JSON file to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sha256 ranking (same seed, same split)."),
    val: float = typer.Option(0.1, "--val", help="Fraction of internal patients for validation."),
    test: float = typer.Option(0.1, "--test", help="Fraction of internal patients for testing."),
    external: str | None = typer.Option(None, "--external", help="Comma-separated held-out centers."),
    external_fraction: float | None = typer.Option(
        None, "--external-fraction", help="Fraction of centers held out."
    ),
    stratify: str = typer.Option("modality", "--stratify", help="Column to stratify by ('' for none)."),
) -> None:
    """Patient-level train/val/test split (+ held-out external centers), reproducible from a seed."""
    frame = read_catalog(catalog)
    names = [c.strip() for c in external.split(",") if c.strip()] if external else None
    result = make_splits(frame, seed=seed, val=val, test=test, external=names,
                         external_fraction=external_fraction, stratify=stratify or None)  # fmt: skip
    check_no_leakage(result, frame)
    save_splits(result, out)
    parts = ", ".join(
        f"{k}: {v['patients']} patients / {v['scans']} scans" for k, v in result.counts.items() if v["scans"]
    )
    console.print(f"wrote {out} ({parts})", highlight=False)


@db_app.command("prepare")
def prepare_cmd(
    root: Path = typer.Argument(..., help="Raw tree the catalog was built from."),
    out: Path = typer.Argument(..., help="Output folder for shards, manifest.json and failures.json."),
    catalog: Path = typer.Option(..., "--catalog", help="Parquet catalog."),
    workers: int | None = typer.Option(
        None, "--workers", min=0, help="Worker processes (default min(4, cores); 0: in this process)."
    ),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask distributed scheduler address."),
    where: str | None = typer.Option(None, "--where", help="Catalog predicate selecting the scans."),
    check_source: bool = typer.Option(True, "--check-source/--no-check-source", help="Check source sha256."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    salt_file: Path | None = typer.Option(
        None, "--salt-file", help=_SALT_HELP + " Not read: refused if inside ROOT, OUT or the catalog folder."
    ),
    timeout: float = typer.Option(
        PREPARE_TIMEOUT_S,
        "--timeout",
        min=0,
        help=_TIMEOUT_HELP.format("scan") + " With --scheduler the Dask worker process is ended.",
    ),
    compress: bool = typer.Option(
        False, "--compress/--no-compress", help="Gzip the per-frame chunks (same digest, smaller shards)."
    ),
) -> None:
    """Re-organise scans into per-frame-chunked HDF5 shards with a checksummed manifest (resumable).

    Each scan is converted in a worker process: a scan that crashes or hangs the reader is recorded in
    OUT/failures.json and the run goes on (--workers 0, for debugging: in this process, without
    isolation). Exit code 1 when some scans failed.
    """
    rep = prepare_shards(root, out, catalog, workers=workers, scheduler=scheduler, where=where,
                         check_source=check_source, progress=progress, salt_file=salt_file,
                         timeout=timeout or None, compress=compress)  # fmt: skip
    rate = rep.bytes_in / 1e6 / rep.elapsed_s if rep.elapsed_s > 0 else 0.0
    console.print(
        f"{rep.out}: {rep.n_written} shard(s) written, {rep.n_verified} verified and kept, "
        f"{rep.n_failed} failed, {rep.n_unsupported} without k-space reader, in {rep.elapsed_s:.1f} s "
        f"({rate:.0f} MB/s of new input; peak worker memory {rep.peak_worker_rss_mb:.0f} MB)",
        highlight=False,
    )
    if rep.n_image_only:
        console.print(
            f"{rep.n_image_only} image-only series (DICOM, no k-space) skipped; "
            "`cardiomm simulate from-images` synthesises multi-coil k-space from them",
            highlight=False,
        )
    _print_failures(rep.failures, "scan(s)")
    if rep.failures:
        raise typer.Exit(EXIT_SOME_FAILED)


@db_app.command("verify")
def verify_cmd(
    out: Path = typer.Argument(..., help="Shard folder (with manifest.json), or archive folder with --md5."),
    md5: Path | None = typer.Option(None, "--md5", help="md5 list ('<md5>  Data-part-000.tar.gz' lines)."),
) -> None:
    """Re-check shard checksums (or archive parts against an md5 list); exit 1 on any mismatch."""
    rep = verify_md5(md5, out) if md5 is not None else verify_shards(out)
    for name in rep.mismatched:
        console.print(f"MISMATCH {name}", highlight=False)
    for name in rep.missing:
        console.print(f"MISSING  {name}", highlight=False)
    console.print(f"{len(rep.ok)}/{rep.n_checked} file(s) OK", highlight=False)
    if not rep.passed:
        raise typer.Exit(1)
