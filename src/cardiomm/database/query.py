"""Query a catalog with a DuckDB SQL predicate (``WHERE`` clause only).

The catalog is read by DuckDB into a pandas frame and registered in an in-memory connection, after which
external access (files, network, extensions) is switched off and the configuration locked, so a
predicate can only read the catalog. Statements are refused: the predicate may not contain ``;``,
comments (``--``, ``/*``) or unbalanced parentheses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from cardiomm.database.catalog import read_catalog
from cardiomm.errors import ConfigError

__all__ = ["query_catalog", "validate_predicate", "predicate_from_mapping", "filter_frame"]


def validate_predicate(where: str) -> str:
    """Return ``where`` stripped, or raise :class:`ConfigError` if it is not a single predicate.

    Raises
    ------
    ConfigError
        ``;``, SQL comments, or unbalanced parentheses.
    """
    text = where.strip()
    if ";" in text:
        raise ConfigError(f"--where must be a predicate, not statements (found ';'): {text!r}")
    if "--" in text or "/*" in text:
        raise ConfigError(f"--where must not contain SQL comments: {text!r}")
    depth = 0
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                break
    if depth != 0 or quote:
        raise ConfigError(f"--where has unbalanced parentheses or quotes: {text!r}")
    return text


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def predicate_from_mapping(filters: Mapping[str, Any]) -> str:
    """``{"modality": "Cine", "center": ["Center001", "Center002"]}`` -> SQL predicate (AND of terms).

    A list/tuple/set value becomes ``IN (...)``; ``None`` becomes ``IS NULL``.
    """
    terms = []
    for col, value in filters.items():
        ident = '"' + str(col).replace('"', '""') + '"'
        if isinstance(value, list | tuple | set | frozenset):
            terms.append(f"{ident} IN ({', '.join(_literal(v) for v in sorted(value, key=str))})")
        elif value is None:
            terms.append(f"{ident} IS NULL")
        else:
            terms.append(f"{ident} = {_literal(value)}")
    return " AND ".join(terms) if terms else "TRUE"


def _connect(table: Any) -> Any:
    import duckdb  # noqa: PLC0415 - lazy: importing this module loads no duckdb

    con = duckdb.connect(":memory:")
    con.register("catalog", table)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def filter_frame(
    frame: Any, where: str | Mapping[str, Any] | None, columns: Sequence[str] | None = None
) -> Any:
    """Apply a predicate (SQL string or column -> value mapping) to a catalog ``DataFrame``.

    Returns
    -------
    pandas.DataFrame
        The matching rows (index reset), in catalog order, restricted to ``columns`` if given.

    Raises
    ------
    ConfigError
        An invalid predicate or an unknown column.
    """
    import duckdb  # noqa: PLC0415 - lazy: importing this module loads no duckdb

    names = [str(c) for c in frame.columns]
    cols = list(columns) if columns else names
    unknown = [c for c in cols if c not in names]
    if unknown:
        raise ConfigError(f"unknown column(s) {', '.join(unknown)}; columns: {', '.join(names)}")
    if isinstance(where, Mapping):
        pred = predicate_from_mapping(where)
    else:
        pred = validate_predicate(where or "TRUE")
    table = frame.reset_index(drop=True).assign(__row=range(len(frame)))
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    con = _connect(table)
    try:
        out = con.execute(f"SELECT {select} FROM catalog WHERE ({pred}) ORDER BY __row").df()
    except duckdb.Error as err:
        raise ConfigError(f"invalid --where predicate {pred!r}: {str(err).splitlines()[0]}") from None
    finally:
        con.close()
    return out.reset_index(drop=True)


def query_catalog(
    catalog: str | os.PathLike[str],
    where: str | Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
) -> Any:
    """Rows of a catalog matching a predicate.

    Parameters
    ----------
    catalog
        Parquet catalog written by :func:`cardiomm.database.catalog.index_tree`.
    where
        DuckDB SQL predicate, e.g. ``"modality = 'Cine' AND field_t >= 3"``, or a mapping
        (:func:`predicate_from_mapping`); ``None`` selects every row.
    columns
        Columns to return (default all).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ConfigError
        Not a predicate (``;``, comments), a DuckDB error, or an unknown column.
    """
    return filter_frame(read_catalog(catalog), where, columns)
