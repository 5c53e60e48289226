"""Frame dataset over catalog + shards, filters, balanced sampling, DataLoader workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cardiomm.database.catalog import read_catalog
from cardiomm.database.dataset import (
    CardiacFrameDataset,
    FrameSample,
    balanced_sampler,
    balanced_weights,
    collate_frames,
)
from cardiomm.database.shards import read_manifest
from cardiomm.database.splits import make_splits
from cardiomm.errors import ConfigError


def test_dataset_length_and_samples(mini_catalog: Path, mini_shards: Path) -> None:
    frame = read_catalog(mini_catalog)
    ds = CardiacFrameDataset(mini_catalog, mini_shards)
    assert len(ds) == frame["n_frames"].sum() and ds.n_scans == len(frame)
    entries = {e["scan_id"]: e for e in read_manifest(mini_shards)["shards"]}
    for index in (0, 5, len(ds) - 1):
        sample = ds[index]
        assert isinstance(sample, FrameSample)
        entry = entries[sample.scan_id]
        with h5py.File(mini_shards / entry["path"], "r") as f:
            np.testing.assert_array_equal(sample.kspace.numpy(), f["kspace"][sample.frame])
            np.testing.assert_array_equal(sample.target.numpy(), f["reconstruction_rss"][sample.frame])
            assert sample.max_value == pytest.approx(float(f.attrs["max"]))
        assert sample.kspace.dtype == torch.complex64 and sample.target.dtype == torch.float32
        assert sample.frame == sample.t * entry["nz"] + sample.z and sample.header.scan_id == sample.scan_id
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataset_filters(mini_catalog: Path, mini_shards: Path) -> None:
    sql = CardiacFrameDataset(mini_catalog, mini_shards, where="modality = 'T1map' AND center <> 'Center014'")
    where = {"modality": "T1map", "center": ["Center001", "Center002"]}
    mapping = CardiacFrameDataset(mini_catalog, mini_shards, where=where)
    assert sql.n_scans == mapping.n_scans == 5 and {h.modality for h in sql.headers} == {"T1map"}
    splits = make_splits(read_catalog(mini_catalog), seed=0, val=0.2, test=0.2)
    names = ("train", "val", "test")
    parts = [CardiacFrameDataset(mini_catalog, mini_shards, splits=splits, split=s) for s in names]
    assert sum(p.n_scans for p in parts) == read_catalog(mini_catalog).shape[0]
    pooled = CardiacFrameDataset(mini_catalog, mini_shards, splits=splits, split=("train", "val"))
    assert pooled.n_scans == parts[0].n_scans + parts[1].n_scans
    assert len(pooled) == len(parts[0]) + len(parts[1])
    with pytest.raises(ConfigError):
        CardiacFrameDataset(mini_catalog, mini_shards, split="train")


def test_balanced_weights_equalise_groups(mini_catalog: Path, mini_shards: Path) -> None:
    ds = CardiacFrameDataset(mini_catalog, mini_shards)
    weights = balanced_weights(ds, ("modality", "center"))
    labels = ds.group_labels(("modality", "center"))
    totals: dict[tuple[str, ...], float] = {}
    for lab, w in zip(labels, weights.tolist(), strict=True):
        totals[lab] = totals.get(lab, 0.0) + w
    assert weights.sum().item() == pytest.approx(1.0)
    assert np.allclose(list(totals.values()), 1 / len(totals))
    uniform = torch.full((len(ds),), 1 / len(ds), dtype=torch.float64)
    assert torch.allclose(balanced_weights(ds, power=0), uniform)
    gen = torch.Generator().manual_seed(0)
    drawn = list(balanced_sampler(ds, num_samples=4000, generator=gen))
    counts: dict[tuple[str, ...], int] = {}
    for i in drawn:
        counts[labels[i]] = counts.get(labels[i], 0) + 1
    share = np.array(list(counts.values())) / len(drawn)
    assert np.abs(share - 1 / len(totals)).max() < 0.05


def test_dataloader_workers_open_files_lazily(mini_catalog: Path, mini_shards: Path) -> None:
    ds = CardiacFrameDataset(mini_catalog, mini_shards, where={"modality": "Cine"}, max_open=2)
    _ = ds[0]
    assert len(pickle.loads(pickle.dumps(ds))._files) == 0  # no handle crosses processes
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate_frames, shuffle=False,
                        multiprocessing_context="fork")  # fmt: skip
    seen = 0
    for batch in loader:
        assert batch.kspace.ndim == 4 and batch.target.shape[0] == batch.kspace.shape[0] == len(batch.headers)
        seen += batch.kspace.shape[0]
    assert seen == len(ds)
    for i in range(len(ds)):
        ds[i]
    assert len(ds._files) <= 2
    ds.close()
