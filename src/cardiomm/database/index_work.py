"""The work of ``db index`` in the workers: a subtree walked, screened, planned and read, shared-nothing.

The main process of :func:`cardiomm.database.catalog.index_tree` only lists the top folders of the tree
(:func:`split_tree`) until it has enough subtrees (*units*) for its workers. Each unit goes to one worker
(:func:`index_unit`), which walks it (:func:`cardiomm.database.sources.walk_sources`), screens its paths
for PHI, compares each source's ``stat`` fingerprint with the previous catalog (the states of the unit's
sources travel with the task), and hashes and reads the new or changed sources (:func:`process_source`).
It returns what it found (:class:`Walk`) and one :class:`Outcome` per source read, so that the main
process only merges results, links masks and writes the catalog: on a tree of small files its share of
the CPU no longer grows with the walk.

Isolation stays per source. A unit stops starting new sources after ``budget`` seconds and hands the
rest back as per-source tasks; a unit whose worker crashes or runs past its limit is planned again in
the main process and read source by source (batched, each source isolated), so that the failure is
pinned on its source and every other source of the unit is read.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cardiomm.database.extract import NotAScanError, extract_file, merge_scan
from cardiomm.database.extract.dicom import extract_dicom_series
from cardiomm.database.paths import parse_path
from cardiomm.database.phi import Pseudonymizer, safe_error, screen_path, take_screened_count
from cardiomm.database.sources import (
    MaskLink,
    SourceItem,
    folder_sources,
    list_folder,
    mask_link,
    sha256_source,
    stat_signature,
    walk_sources,
)
from cardiomm.utils.isolation import Failure

__all__ = [
    "Outcome",
    "Walk",
    "Unit",
    "UnitTask",
    "UnitResult",
    "PreviousState",
    "split_tree",
    "plan_sources",
    "unit_folders",
    "group_units",
    "process_source",
    "process_batch",
    "index_unit",
    "previous_in_unit",
    "unit_budget",
    "unit_limit",
    "SCHEMA_VERSION",
]

#: Version of the catalog schema (column set and meaning), written into every row.
SCHEMA_VERSION = 1
#: Deepest folder level :func:`split_tree` lists in the main process.
MAX_SPLIT_DEPTH = 12

#: A per-source task: ``(root, item, salt, previous source sha256, size, fingerprint, checksum)``.
SourceTask = tuple[str, SourceItem, bytes, str, int, str, bool]


@dataclass(frozen=True)
class Outcome:
    """What reading one source gave: ``status`` ``rows`` (with its catalog rows), ``same`` (its digest
    equals the previous one), ``skipped`` (not a scan) or ``failed`` (``message``)."""

    relpath: str
    status: str
    rows: tuple[dict[str, Any], ...] = ()
    source_sha: str = ""
    message: str = ""
    n_screened: int = 0


@dataclass(frozen=True)
class PreviousState:
    """A source's state in the previous catalog: its keyed ``stat`` fingerprint and digest (or "")."""

    fingerprint: str
    source_sha256: str


@dataclass
class Walk:
    """What planning a part of the tree found (:func:`plan_sources`); :meth:`merge` adds another's."""

    n_sources: int = 0
    items: list[str] = field(default_factory=list)  # relpaths of the indexable sources
    masks: list[MaskLink] = field(default_factory=list)  # parsed here, in the worker
    withheld: list[tuple[str, str, str]] = field(default_factory=list)  # (pseudonym, relpath, reasons)
    n_phi_paths: int = 0
    unchanged: list[str] = field(default_factory=list)  # sources whose previous rows stay
    skipped: dict[str, str] = field(default_factory=dict)  # non-scans seen before, unchanged
    fp_by_rel: dict[str, str] = field(default_factory=dict)  # fingerprints of the sources to read
    unreadable: list[tuple[str, Failure]] = field(default_factory=list)  # sources whose stat failed

    def merge(self, other: Walk) -> None:
        self.n_sources += other.n_sources
        self.items += other.items
        self.masks += other.masks
        self.withheld += other.withheld
        self.n_phi_paths += other.n_phi_paths
        self.unchanged += other.unchanged
        self.skipped.update(other.skipped)
        self.fp_by_rel.update(other.fp_by_rel)
        self.unreadable += other.unreadable


@dataclass(frozen=True)
class Unit:
    """A part of the tree: the folder ``folder`` (relative to the root, ``""`` for the root) with its
    whole subtree (``recursive``) or its own files only."""

    folder: str
    recursive: bool


@dataclass(frozen=True)
class UnitTask:
    """Everything a worker needs for a run of units (nothing is shared with the main process)."""

    root: str
    units: tuple[Unit, ...]
    salt: bytes
    previous: Mapping[str, PreviousState]
    old_skipped: Mapping[str, str]
    checksum: bool
    allow_phi_paths: bool
    budget: float


@dataclass(frozen=True)
class UnitResult:
    """A task's walk, the outcomes of the sources it read, and the tasks of those it left (budget)."""

    walk: Walk
    outcomes: tuple[Outcome, ...]
    leftover: tuple[SourceTask, ...]


def split_tree(root: Path, n_units: int) -> list[Unit]:
    """Units covering every folder of ``root`` once: folders are listed level by level (skipping what
    :func:`~cardiomm.database.sources.walk_sources` skips) until a level holds at least ``n_units``
    folders (or none, or :data:`MAX_SPLIT_DEPTH`); each listed folder with files is a non-recursive
    unit, each folder of the last level a recursive one."""
    frontier, units = [""], []
    for _ in range(MAX_SPLIT_DEPTH):
        if len(frontier) >= n_units:
            break
        deeper: list[str] = []
        for rel in frontier:
            listing = list_folder(f"{root}/{rel}" if rel else str(root))
            if listing is None:
                continue
            subdirs, files = listing
            if files:
                units.append(Unit(rel, recursive=False))
            deeper += [f"{rel}/{d}" if rel else d for d in subdirs]
        frontier = deeper
        if not frontier:
            break
    return units + [Unit(rel, recursive=True) for rel in frontier]


def unit_folders(root: Path, units: Iterable[Unit]) -> Iterator[tuple[list[SourceItem], list[str]]]:
    """The ``(sources, masks)`` of each folder of ``units``, in walk order."""
    for unit in units:
        if unit.recursive:
            yield from walk_sources(root, start=unit.folder)
        else:
            yield from folder_sources(root, unit.folder)


def group_units(units: list[Unit], n_groups: int) -> list[tuple[Unit, ...]]:
    """``units`` in at most ``n_groups`` runs of consecutive units of (nearly) equal count."""
    n = max(1, min(n_groups, len(units)))
    bounds = [round(i * len(units) / n) for i in range(n + 1)]
    return [tuple(units[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def previous_in_unit(keys: list[str], states: Mapping[str, Any], unit: Unit) -> dict[str, Any]:
    """The entries of ``states`` (whose sorted keys are ``keys``) that may belong to ``unit``: the
    sources below its folder, and the folder itself (a DICOM folder is a source named after it)."""
    folder = unit.folder
    if not folder:
        lo, hi = 0, len(keys)
    else:
        lo = bisect.bisect_left(keys, folder)
        hi = bisect.bisect_left(keys, folder + "0")  # "0" follows "/": the end of the "folder/" range
    out: dict[str, Any] = {}
    for k in keys[lo:hi]:
        if folder and k != folder and not k.startswith(folder + "/"):
            continue
        if not unit.recursive and "/" in k[len(folder) + 1 if folder else 0 :]:
            continue
        out[k] = states[k]
    return out


def plan_sources(
    root: Path,
    folders: Iterable[tuple[list[SourceItem], list[str]]],
    walk: Walk,
    pseudo: Pseudonymizer,
    previous: Mapping[str, PreviousState],
    old_skipped: Mapping[str, str],
    *,
    checksum: bool,
    allow_phi_paths: bool,
) -> Iterator[SourceTask]:
    """Yield the task of every new or changed source of ``folders`` and record the rest in ``walk``:
    identifying-looking paths (withheld unless ``allow_phi_paths``), unchanged sources, sources skipped
    before, sources that cannot be stat'ed (a broken link, a file removed meanwhile)."""

    def keep(relpath: str) -> bool:
        reasons = screen_path(relpath)
        if not reasons:
            return True
        walk.n_phi_paths += 1
        if not allow_phi_paths:
            walk.withheld.append(("withheld-" + pseudo.key("phi-path", relpath), relpath, ", ".join(reasons)))
        return allow_phi_paths

    for dir_items, dir_masks in folders:
        walk.n_sources += len(dir_items)
        walk.masks += [mask_link(m) for m in dir_masks if keep(m)]
        for item in dir_items:
            if not keep(item.relpath):
                continue
            walk.items.append(item.relpath)
            try:
                size, signature = stat_signature(root, item)
            except OSError as err:
                walk.unreadable.append((item.relpath, Failure("error", f"cannot stat: {safe_error(err)}")))
                continue
            fp = pseudo.fingerprint(signature)
            old = previous.get(item.relpath)
            if old and old.fingerprint == fp and (old.source_sha256 or not checksum):
                walk.unchanged.append(item.relpath)
            elif old_skipped.get(item.relpath) == fp:
                walk.skipped[item.relpath] = fp
            else:
                walk.fp_by_rel[item.relpath] = fp
                yield (str(root), item, pseudo.salt, old.source_sha256 if old else "", size, fp, checksum)


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


def process_source(task: SourceTask) -> Outcome:
    """Hash one source (unless ``checksum`` is off), and extract it unless its content is unchanged."""
    root_s, item, salt, old_sha, size, fingerprint, checksum = task
    root = Path(root_s)
    pseudo = Pseudonymizer(salt)
    take_screened_count()  # reset this process's counter
    try:
        sha = sha256_source(root, item) if checksum else ("", "")
        if old_sha and checksum and sha[0] == old_sha:
            return Outcome(item.relpath, "same", source_sha=sha[0])
        rows = _rows_for(root, item, pseudo, size, sha)
        for r in rows:
            r["source_fingerprint"] = fingerprint
        n = take_screened_count()
        return Outcome(item.relpath, "rows", rows=tuple(rows), source_sha=sha[0], n_screened=n)
    except NotAScanError as err:
        return Outcome(item.relpath, "skipped", message=str(err)[:200])
    except Exception as err:  # any damaged input is reported, never fatal
        return Outcome(item.relpath, "failed", message=safe_error(err))


def process_batch(batch: list[SourceTask]) -> list[Outcome]:
    """:func:`process_source` on each source of a batch (one round trip for many small files)."""
    return [process_source(t) for t in batch]


def index_unit(task: UnitTask) -> UnitResult:
    """Worker: walk, screen and plan a run of units, and read its new or changed sources until ``budget``
    seconds have passed (the walk always finishes; the sources not started are handed back)."""
    start = time.monotonic()
    root = Path(task.root)
    walk = Walk()
    pseudo = Pseudonymizer(task.salt)
    planned = plan_sources(
        root, unit_folders(root, task.units), walk, pseudo, task.previous, task.old_skipped,
        checksum=task.checksum, allow_phi_paths=task.allow_phi_paths,
    )  # fmt: skip
    outcomes: list[Outcome] = []
    leftover: list[SourceTask] = []
    for t in planned:
        if time.monotonic() - start < task.budget:
            outcomes.append(process_source(t))
        else:
            leftover.append(t)
    return UnitResult(walk, tuple(outcomes), tuple(leftover))


def unit_limit(budget: float, timeout: float | None) -> float | None:
    """Seconds a unit may take: its budget plus one source's limit (``None``: no limit)."""
    return None if not timeout else budget + timeout


def unit_budget(timeout: float | None, cap: float) -> float:
    """Seconds a unit reads sources before handing the rest back: ``cap``, at most ``timeout``."""
    return min(cap, timeout) if timeout else cap
