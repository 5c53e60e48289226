"""FrameDataModule on a tiny tree: patient split, TestSet, frame subsets, shape-grouped and
balanced batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardiomm.errors import ConfigError, InputFileError
from cardiomm.training.datamodule import FrameDataModule, evenly_spaced


def test_tree_split_testset_and_subsets(tiny_tree: Path) -> None:
    dm = FrameDataModule(tiny_tree, val_fraction=0.5, max_test_frames=3)
    dm.setup()
    sizes = dm.summary()
    assert sizes["test"] == 3 and sizes["train"] > 0 and sizes["val"] > 0
    assert sizes["train"] + sizes["val"] == 12  # every TrainingSet frame, each in one part
    train_files = {dm.datasets["train"][i].fname for i in range(sizes["train"])}
    val_files = {dm.datasets["val"][i].fname for i in range(sizes["val"])}
    assert train_files.isdisjoint(val_files)
    assert all("TestSet" in dm.datasets["test"][i].fname for i in range(3))
    assert evenly_spaced(10, 3) == [0, 4, 9] and evenly_spaced(3, None) == [0, 1, 2]


def test_combine_train_val_trains_on_both_parts(tiny_tree: Path) -> None:
    """The published --combine_train_val: every TrainingSet frame trains; val still monitors its part."""
    split = FrameDataModule(tiny_tree, val_fraction=0.5)
    split.setup()
    combined = FrameDataModule(tiny_tree, val_fraction=0.5, combine_train_val=True)
    combined.setup()
    sizes, both = split.summary(), combined.summary()
    assert both["train"] == sizes["train"] + sizes["val"] == 12 and both["val"] == sizes["val"]
    train = {combined.datasets["train"][i].fname for i in range(both["train"])}
    assert {combined.datasets["val"][i].fname for i in range(both["val"])} <= train


def test_batches_group_shapes_and_balance(tiny_tree: Path) -> None:
    dm = FrameDataModule(tiny_tree, val_fraction=0.0, val_from="testset", batch_size=3, balanced=True)
    dm.setup()
    batches = list(dm.train_dataloader())
    assert sum(len(b) for b in batches) == 12
    for b in batches:
        assert b.masked_kspace.shape[0] == len(b.fname)
    centers = [f.split("/")[3] for b in batches for f in b.fname]
    # 8 Center001 frames vs 4 Center002 frames: balancing evens out the draws in expectation
    assert 2 <= centers.count("Center002") <= 10


def test_datamodule_errors(tiny_tree: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        FrameDataModule(tmp_path / "missing").setup()
    with pytest.raises(ConfigError):
        FrameDataModule(tiny_tree, source="zip")
    with pytest.raises(ConfigError, match="catalog"):
        FrameDataModule(tiny_tree, source="shards").setup()


def test_several_roots_and_a_validation_set(tiny_tree: Path, tmp_path: Path) -> None:
    """A second tree with its own ValidationSet: its val patients validate, the first tree is split
    by patient."""
    from tests.training.conftest import write_tree

    scans = (
        ("Center101", "Siemens_15T_Avanto", "P001", "TrainingSet", (2, 1, 3, 24, 32)),
        ("Center101", "Siemens_15T_Avanto", "P001", "ValidationSet", (2, 2, 3, 24, 32)),
    )
    real = write_tree(tmp_path / "real", scans, seed=3)
    dm = FrameDataModule([tiny_tree, real], val_fraction=0.5)
    dm.setup()
    train = {dm.datasets["train"][i].fname for i in range(len(dm.datasets["train"]))}
    val = {dm.datasets["val"][i].fname for i in range(len(dm.datasets["val"]))}
    assert any("Center101" in f and "/TrainingSet/" in f for f in train)
    assert any("/ValidationSet/" in f for f in val) and not any("/ValidationSet/" in f for f in train)
    assert any("Center001" in f or "Center002" in f for f in val)  # the first tree still splits its patients
    assert dm.summary()["train"] + dm.summary()["val"] == 12 + 2 + 4
    with pytest.raises(ConfigError, match="same relative path"):
        FrameDataModule([tiny_tree, tiny_tree]).setup()
    with pytest.raises(ConfigError):
        FrameDataModule([])
