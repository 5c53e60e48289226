"""MMCMR-427K style k-space database: metadata, catalog, splits, re-organisation, dataset.

Importing this package loads only the header module (the text package imports it); everything else
is imported on first attribute access, so ``cardiomm.database.index_tree`` works without paying for
pandas, duckdb or torch up front.

============================  ============================================================
module                        content
============================  ============================================================
``header``                    :class:`CardiacHeader`, :class:`Disease`, :class:`Lifespan`
``paths``                     MMCMR path and mask-filename rules
``phi``                       scrub lists, allow-lists, keyed pseudonyms, salt handling
``extract``                   per-format header extractors
``catalog``                   :func:`index_tree`, :func:`read_catalog`
``query`` / ``stats``         DuckDB predicates, paper tables and figure
``splits``                    patient-level and center-held-out splits
``shards``, ``manifest``      shards, checksummed manifest and sidecars
``verify``                    shard checksums, md5 lists of archive parts
``dataset``                   :class:`CardiacFrameDataset` (torch)
============================  ============================================================
"""

from __future__ import annotations

import importlib
from typing import Any

from cardiomm.database.header import UNKNOWN, CardiacHeader, Disease, Lifespan, SourceFormat

__all__ = [
    "UNKNOWN",
    "CardiacHeader",
    "Disease",
    "Lifespan",
    "SourceFormat",
    "index_tree",
    "read_catalog",
    "query_catalog",
    "catalog_stats",
    "make_splits",
    "save_splits",
    "load_splits",
    "SplitAssignment",
    "prepare_shards",
    "read_manifest",
    "verify_shards",
    "verify_md5",
    "CardiacFrameDataset",
    "FrameSample",
    "FrameBatch",
    "collate_frames",
    "balanced_weights",
    "balanced_sampler",
    "Pseudonymizer",
    "load_salt",
]

_LAZY = {
    "index_tree": "catalog",
    "read_catalog": "catalog",
    "query_catalog": "query",
    "catalog_stats": "stats",
    "make_splits": "splits",
    "save_splits": "splits",
    "load_splits": "splits",
    "SplitAssignment": "splits",
    "prepare_shards": "shards",
    "read_manifest": "manifest",
    "verify_shards": "verify",
    "verify_md5": "verify",
    "CardiacFrameDataset": "dataset",
    "FrameSample": "dataset",
    "FrameBatch": "dataset",
    "collate_frames": "dataset",
    "balanced_weights": "dataset",
    "balanced_sampler": "dataset",
    "Pseudonymizer": "phi",
    "load_salt": "phi",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"cardiomm.database.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'cardiomm.database' has no attribute {name!r}")
