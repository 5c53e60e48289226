"""Catalog queries (DuckDB predicates only) and composition statistics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardiomm.cli.main import main
from cardiomm.database.catalog import read_catalog
from cardiomm.database.query import predicate_from_mapping, query_catalog, validate_predicate
from cardiomm.database.stats import STAT_GROUPS, catalog_stats, plot_stats, write_stats_csv
from cardiomm.errors import ConfigError


def test_query_predicate_and_columns(mini_catalog: Path) -> None:
    frame = read_catalog(mini_catalog)
    got = query_catalog(mini_catalog, "modality = 'Cine' AND field_t >= 3", ["scan_id", "subtype"])
    expected = frame[(frame.modality == "Cine") & (frame.field_t >= 3)]
    assert list(got.columns) == ["scan_id", "subtype"] and list(got.scan_id) == list(expected.scan_id)
    by_map = query_catalog(mini_catalog, {"center": ["Center002", "Center014"], "modality": "T1map"})
    assert len(by_map) == 3 and set(by_map.center) == {"Center002", "Center014"}
    assert len(query_catalog(mini_catalog, "list_contains(masks, 'Uniform4')")) == len(frame) - 1


@pytest.mark.parametrize(
    "where",
    ["1=1; DROP TABLE catalog", "1=1 -- comment", "1=1) UNION SELECT 1 (",
     "scan_id IN (SELECT * FROM read_csv('/etc/passwd'))", "no_such_column = 1"],
)  # fmt: skip
def test_query_rejects_non_predicates(mini_catalog: Path, where: str) -> None:
    with pytest.raises(ConfigError):
        query_catalog(mini_catalog, where)


def test_query_unknown_column_and_literal_escaping(mini_catalog: Path) -> None:
    with pytest.raises(ConfigError):
        query_catalog(mini_catalog, None, ["nope"])
    expected = "\"center\" = 'O''Brien' AND \"nt\" IS NULL"
    assert predicate_from_mapping({"center": "O'Brien", "nt": None}) == expected
    assert validate_predicate("  nt > 1 ") == "nt > 1"


def test_cli_query_json(mini_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["db", "query", str(mini_catalog), "--where", "subtype = 'lax'", "--json"]
    argv += ["--columns", "scan_id,ti_s"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and set(rows[0]) == {"scan_id", "ti_s"}
    assert main(["db", "query", str(mini_catalog), "--where", "1; select 1"]) == 2


def test_stats_tables_sum_to_totals(mini_catalog: Path, tmp_path: Path) -> None:
    frame = read_catalog(mini_catalog)
    tables = catalog_stats(mini_catalog)
    for name in STAT_GROUPS:
        assert tables[name]["scans"].sum() == len(frame)
        assert tables[name]["frames"].sum() == frame["n_frames"].sum()
    modality = tables["modality"].set_index("modality")
    assert modality.loc["Cine", "scans"] == 13 and modality.loc["T1map", "frames"] == 6 * 4
    assert set(tables["field strength"]["field strength"]) == {"3.0T", "1.5T", "0.55T"}
    assert tables["total"]["patients"].iloc[0] == 6
    written = write_stats_csv(tables, tmp_path / "csv")
    assert {p.name for p in written} >= {"by_modality.csv", "by_center.csv", "by_field_strength.csv"}
    png = plot_stats(tables, tmp_path / "fig.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_stats(mini_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "stats", str(mini_catalog), "--csv", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "by modality" in out and "Center014" in out and (tmp_path / "by_disease.csv").is_file()
