"""FrameDataModule on a tiny tree: patient split, TestSet, frame subsets, shape-grouped and balanced batches."""

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
