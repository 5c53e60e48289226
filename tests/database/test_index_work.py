"""Shared-nothing `db index`: the tree split into units that workers walk and read on their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

import cardiomm.database.catalog as catalog_mod
from cardiomm.database.catalog import catalog_metadata, index_tree
from cardiomm.database.index_work import (
    Unit,
    group_units,
    previous_in_unit,
    split_tree,
    unit_budget,
    unit_folders,
    unit_limit,
)
from cardiomm.database.sources import walk_sources


def _table(path: Path) -> tuple[list[tuple[object, ...]], dict[str, str]]:
    return duckdb.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall(), catalog_metadata(path)


def _found(folders) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    items, masks = [], []
    for dir_items, dir_masks in folders:
        items += [i.relpath for i in dir_items]
        masks += dir_masks
    return sorted(items), sorted(masks)


def _odd_tree(tmp_path: Path) -> Path:
    """Files at every level, a DICOM-like folder named like a file prefix of its sibling, a hidden folder."""
    root = tmp_path / "odd"
    for rel in (
        "top.h5",
        "a/x.mat",
        "a/b/y.mat",
        "a/b-c/z.mat",
        "a/b/c/d/w.h5",
        "e/f/v.dat",
        ".hidden/q.mat",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"0")
    (root / "a/b/c/mask_x_mask_Uniform8.mat").write_bytes(b"0")
    return root


@pytest.mark.parametrize("n_units", [1, 2, 3, 5, 100])
def test_units_cover_every_folder_once(tmp_path: Path, n_units: int) -> None:
    """The units' walks together find exactly what one walk of the whole tree finds."""
    root = _odd_tree(tmp_path)
    units = split_tree(root, n_units)
    whole = _found(walk_sources(root))
    parts = [_found(unit_folders(root, [u])) for u in units]
    assert sorted(i for p in parts for i in p[0]) == whole[0]  # each source found once
    assert sorted(m for p in parts for m in p[1]) == whole[1]
    assert whole[0] == ["a/b-c/z.mat", "a/b/c/d/w.h5", "a/b/y.mat", "a/x.mat", "e/f/v.dat", "top.h5"]
    assert len(units) == len({u.folder for u in units if u.recursive}) + len(
        {u.folder for u in units if not u.recursive}
    )
    assert n_units > 1 or units == [Unit("", True)]
    assert list(unit_folders(root, [Unit("gone", True), Unit("gone", False)])) == []  # removed meanwhile


def test_previous_in_unit_takes_the_sources_below_a_folder_only() -> None:
    states = {k: k for k in ["a/b", "a/b-c/z.mat", "a/b.mat", "a/b/y.mat", "a/b/c/w.h5", "a/x.mat", "top.h5"]}
    keys = sorted(states)
    assert sorted(previous_in_unit(keys, states, Unit("a/b", True))) == ["a/b", "a/b/c/w.h5", "a/b/y.mat"]
    assert sorted(previous_in_unit(keys, states, Unit("a/b", False))) == ["a/b", "a/b/y.mat"]
    assert sorted(previous_in_unit(keys, states, Unit("a", False))) == ["a/b", "a/b.mat", "a/x.mat"]
    assert sorted(previous_in_unit(keys, states, Unit("", False))) == ["top.h5"]
    assert sorted(previous_in_unit(keys, states, Unit("", True))) == keys


def test_group_units_keeps_order_and_balances_counts() -> None:
    units = [Unit(str(i), True) for i in range(10)]
    groups = group_units(units, 4)
    assert [len(g) for g in groups] == [2, 3, 3, 2] and [u for g in groups for u in g] == units
    assert group_units(units, 100) == [(u,) for u in units] and group_units([], 4) == []
    assert group_units(units, 1) == [tuple(units)]


def test_unit_budget_and_limit() -> None:
    assert unit_budget(None, 20.0) == 20.0 and unit_budget(5.0, 20.0) == 5.0 and unit_budget(0, 20.0) == 20.0
    assert unit_limit(20.0, None) is None and unit_limit(5.0, 5.0) == 10.0


@pytest.mark.parametrize(("units_per_worker", "budget"), [(1, 20.0), (64, 20.0), (16, 0.0)])
def test_index_is_the_same_whatever_the_units_and_budget(
    mini_root: Path, mini_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    units_per_worker: int, budget: float,
) -> None:  # fmt: skip
    """One unit, many units, or units that hand every source back (budget 0): the same catalog as the
    default run, and an incremental re-run after a change reads only the changed source."""
    monkeypatch.setattr(catalog_mod, "UNITS_PER_WORKER", units_per_worker)
    monkeypatch.setattr(catalog_mod, "UNIT_BUDGET_S", budget)
    cat = tmp_path / "c.parquet"
    rep = index_tree(mini_root, cat, workers=2)
    assert _table(cat) == _table(mini_catalog) and rep.n_extracted == rep.n_scans
    root = tmp_path / "tree"
    shutil.copytree(mini_root, root)
    index_tree(root, cat, workers=2)
    changed = next(root.rglob("cine_sax.mat"))
    changed.write_bytes(changed.read_bytes())  # same bytes, new mtime: hashed, not re-read
    again = index_tree(root, cat, workers=2)
    assert (again.n_hashed, again.n_extracted, again.n_unchanged) == (1, 0, rep.n_sources - 1)
