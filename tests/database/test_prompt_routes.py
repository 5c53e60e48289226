"""The two routes to a metadata prompt agree: the catalog header (training from shards) and the path +
header rule of `cardiomm reconstruct` (inference)."""

from __future__ import annotations

from pathlib import Path

from cardiomm.database.catalog import read_catalog
from cardiomm.database.header import CardiacHeader
from cardiomm.recon.prompts import metadata_prompt_for


def test_catalog_and_reconstruct_prompts_agree(mini_root: Path, mini_catalog: Path) -> None:
    records = read_catalog(mini_catalog).to_dict("records")
    assert len(records) > 10
    checked = 0
    for record in records:
        header = CardiacHeader.from_record(record)
        at_inference = metadata_prompt_for(record["relpath"], mini_root / record["relpath"])
        assert header.metadata_prompt() == at_inference, record["relpath"]
        checked += "Vendor: " in at_inference and "unknown" not in at_inference.lower()
    assert checked == len(records)  # every file of the tree has a full prompt on both routes
