"""``FrameDataModule``: undersampled 2-D frames from a ``.mat`` tree or from database shards.

Sources (``source="auto"`` picks by looking at ``data``):

``tree``
    An MMCMR-style tree, e.g. ``cardiomm simulate mini`` output (:mod:`cardiomm.training.tree`).
    ``TrainingSet`` scans are split **by patient** into train / val (``val_fraction``, deterministic:
    :func:`cardiomm.database.splits.make_splits` with ``split_seed``); ``TestSet`` scans are the
    held-out test frames. ``val_from="testset"`` validates on the TestSet instead (for trees with a
    single training patient, such as ``simulate mini --size tiny``). Scans are read once and held in
    memory (targets always, k-space within ``cache_bytes``).
``shards``
    A ``cardiomm db prepare`` output folder (``manifest.json``) with its Parquet ``catalog`` and a split
    file ``splits`` (``cardiomm db split``): the ``train`` / ``val`` / ``test`` scans of that file via
    :class:`cardiomm.database.dataset.CardiacFrameDataset` (frames read from HDF5 on demand).

One sample = one 2-D frame with all coils, undersampled by
:class:`~cardiomm.training.undersampling.UndersampledFrames` (fresh training mask per
``(seed, epoch, index)``; fixed evaluation masks per frame).

Batching: frames of different scans may differ in size. The default ``batch_size=1`` is the published
setting (1 per GPU). With ``batch_size > 1`` the :class:`~cardiomm.training.samplers.FrameBatchSampler`
only batches frames of equal k-space shape. Under DDP each rank gets a disjoint share of the batches
(the trainer must run with ``use_distributed_sampler=False``, which :func:`cardiomm.training.run.make_trainer`
sets). ``balanced=True`` draws training frames with probability equalised over ``balance_by`` groups
(:func:`cardiomm.database.dataset.balanced_weights`; the published recipe samples frames uniformly).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from cardiomm.database.dataset import CardiacFrameDataset, balanced_weights
from cardiomm.database.splits import load_splits
from cardiomm.errors import ConfigError, InputFileError
from cardiomm.layout import TEST_SET, TRAIN_SET, VAL_SET
from cardiomm.sampling import DEFAULT_ACS, TRAIN_ACCELERATIONS
from cardiomm.training.records import collate_samples
from cardiomm.training.samplers import FrameBatchSampler, FrameOrder, ResumableLoader
from cardiomm.training.tree import TreeFrameDataset, discover_scans, split_scans
from cardiomm.training.undersampling import UndersampledFrames, frame_shapes

__all__ = ["FrameDataModule", "FrameSubset", "evenly_spaced"]

SOURCES = ("auto", "tree", "shards")
STAGES = ("train", "val", "test")


def evenly_spaced(n: int, k: int | None) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (all of them when ``k`` is None or >= n)."""
    if k is None or k >= n:
        return list(range(n))
    if k <= 0:
        return []
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, k)})


class FrameSubset(Dataset[Any]):
    """A fixed subset of a frame source that keeps ``frame_shapes`` / ``group_labels``."""

    def __init__(self, source: Any, indices: Sequence[int]) -> None:
        self.source = source
        self.indices = list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.source[self.indices[index]]

    def frame_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the selected frames."""
        shapes = frame_shapes(self.source)
        return [shapes[i] for i in self.indices]

    def group_labels(self, by: Sequence[str] = ("modality", "center")) -> list[tuple[str, ...]]:
        """Group labels of the selected frames."""
        labels = self.source.group_labels(by)
        return [labels[i] for i in self.indices]


def _detect_source(data: Path) -> str:
    manifest = data / "manifest.json"
    if manifest.is_file():
        try:
            fmt = str(json.loads(manifest.read_text()).get("format", ""))
        except (OSError, json.JSONDecodeError):
            fmt = ""
        if fmt.startswith("cardiomm-shards"):
            return "shards"
    return "tree"


class FrameDataModule(L.LightningDataModule):
    """Train / val / test frames for :class:`~cardiomm.training.module.ReconModule`.

    Parameters
    ----------
    data
        Tree root or shard folder, or a list of tree roots (pooled).
    source
        ``auto``, ``tree`` or ``shards``.
    catalog, splits
        Shards only: the Parquet catalog and the split file (``train`` / ``val`` / ``test`` scans).
    where
        Shards only: catalog predicate (DuckDB SQL or ``{column: value}``).
    modalities
        Tree only: keep these modality keys (``Cine``, ``T1map``...).
    val_fraction, val_from, split_seed
        Tree only: patient-level validation fraction of the TrainingSet (``val_from="split"``) or
        ``val_from="testset"``; seed of the split hash.
    seed
        Base seed of the training masks and of the frame order.
    batch_size
        Frames per batch (1 as published).
    num_workers
        ``DataLoader`` workers (0: in the main process, best for in-memory trees on small CPUs).
    accelerations, patterns, n_acs
        Mask family (reference 8.2: R 4/8/16/24, uniform/random/radial, ACS 20).
    balanced, balance_by, balance_power
        Balanced training sampling over groups (``power=1``: equal probability per group).
    max_train_frames, max_val_frames, max_test_frames
        Evenly spaced subsets (fixed) for quick CPU runs; ``None``: every frame.
    cache_bytes, preload
        Tree only: k-space cache budget [bytes], read all scans during ``setup``.
    with_prompts
        Build prompts (needed by the text-conditioned model only).
    combine_train_val
        Train on the training **and** validation scans, as the published run does
        (``--combine_train_val``); validation then monitors data seen in training (not held out).
    single_coil_fraction
        Fraction of training samples compressed to one virtual coil
        (:class:`~cardiomm.training.undersampling.UndersampledFrames`).
    progress
        Progress bar while preloading.
    """

    def __init__(
        self,
        data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        source: str = "auto",
        catalog: str | os.PathLike[str] | None = None,
        splits: str | os.PathLike[str] | None = None,
        where: str | dict[str, Any] | None = None,
        modalities: Sequence[str] | None = None,
        val_fraction: float = 0.2,
        val_from: str = "split",
        split_seed: int = 0,
        seed: int = 42,
        batch_size: int = 1,
        num_workers: int = 0,
        accelerations: Sequence[int] = TRAIN_ACCELERATIONS,
        patterns: Sequence[str] = ("uniform", "random", "radial"),
        n_acs: int = DEFAULT_ACS,
        balanced: bool = False,
        balance_by: Sequence[str] = ("modality", "center"),
        balance_power: float = 1.0,
        max_train_frames: int | None = None,
        max_val_frames: int | None = None,
        max_test_frames: int | None = None,
        cache_bytes: int = 4 << 30,
        preload: bool = True,
        with_prompts: bool = True,
        single_coil_fraction: float = 0.0,
        combine_train_val: bool = False,
        progress: bool = False,
    ) -> None:
        super().__init__()
        if source not in SOURCES:
            raise ConfigError(f"unknown data source {source!r}; choose from {', '.join(SOURCES)}")
        if val_from not in ("split", "testset"):
            raise ConfigError(f"val_from must be 'split' or 'testset', got {val_from!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        roots = [data] if isinstance(data, (str, os.PathLike)) else list(data)
        if not roots:
            raise ConfigError("data lists no tree")
        self.roots = [Path(r) for r in roots]
        self.data = self.roots[0]
        self.source = source
        self.catalog, self.splits, self.where = catalog, splits, where
        self.modalities = list(modalities) if modalities is not None else None
        self.val_fraction, self.val_from, self.split_seed = float(val_fraction), val_from, int(split_seed)
        self.seed = int(seed)
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.accelerations, self.patterns, self.n_acs = tuple(accelerations), tuple(patterns), int(n_acs)
        self.balanced, self.balance_by, self.balance_power = balanced, tuple(balance_by), float(balance_power)
        self.max_frames = {"train": max_train_frames, "val": max_val_frames, "test": max_test_frames}
        self.cache_bytes, self.preload, self.with_prompts, self.progress = (
            int(cache_bytes),
            preload,
            with_prompts,
            progress,
        )
        self.single_coil_fraction = float(single_coil_fraction)
        self.combine_train_val = bool(combine_train_val)
        self.sources: dict[str, Any] = {}
        self.datasets: dict[str, UndersampledFrames] = {}

    # ------------------------------------------------------------------------------------ setup
    def resolved_source(self) -> str:
        """``tree`` or ``shards``."""
        for root in self.roots:
            if not root.exists():
                raise InputFileError("training data folder not found", path=root)
        kind = _detect_source(self.data) if self.source == "auto" else self.source
        if kind == "shards" and len(self.roots) > 1:
            raise ConfigError("several data roots are supported for trees only, not shards", path=self.data)
        return kind

    def _tree_sources(self) -> dict[str, Any]:
        train: list[Any] = []
        val: list[Any] = []
        test_scans: list[Any] = []
        seen: set[str] = set()
        for root in self.roots:
            root_train = discover_scans(root, TRAIN_SET, modalities=self.modalities)
            root_test = discover_scans(root, TEST_SET, modalities=self.modalities)
            root_val = discover_scans(root, VAL_SET, modalities=self.modalities)
            ids = {s.relpath for s in root_train + root_test + root_val}
            if ids & seen:
                raise ConfigError(
                    "two data roots hold scans with the same relative path; give each tree its own centers",
                    path=root,
                )
            seen |= ids
            if not root_train:
                raise InputFileError("no TrainingSet/FullSample .mat scans found", path=root)
            test_scans += root_test
            if self.val_from == "testset":
                train += root_train
                val += root_test
            elif root_val:
                train += root_train
                val += root_val
            else:
                part_train, part_val = split_scans(
                    root_train, val_fraction=self.val_fraction, seed=self.split_seed
                )
                if self.val_fraction > 0 and (not part_train or not part_val):
                    raise ConfigError(
                        f"patient split of {len(root_train)} training scans "
                        f"with val_fraction {self.val_fraction} "
                        "leaves an empty part (too few patients); use val_from: testset",
                        path=root,
                    )
                train += part_train
                val += part_val
        if self.combine_train_val:
            train = train + val
        return {
            "train": TreeFrameDataset(train, cache_bytes=self.cache_bytes),
            "val": TreeFrameDataset(val, cache_bytes=self.cache_bytes),
            "test": TreeFrameDataset(test_scans, cache_bytes=self.cache_bytes),
        }

    def _shard_sources(self) -> dict[str, Any]:
        if self.catalog is None or self.splits is None:
            raise ConfigError(
                "shard data need data.catalog (Parquet) and data.splits (cardiomm db split file)"
            )

        assignment = load_splits(self.splits)
        out: dict[str, Any] = {}
        for stage in STAGES:
            names = ("train", "val") if stage == "train" and self.combine_train_val else stage
            out[stage] = CardiacFrameDataset(
                self.catalog, self.data, where=self.where, splits=assignment, split=names
            )
        if len(out["train"]) == 0:
            raise ConfigError(
                "the split file selects no training frames present in the shards", path=self.splits
            )
        return out

    def setup(self, stage: str | None = None) -> None:
        """Discover scans and build the datasets (once; every DDP rank does it for itself)."""
        if self.datasets:
            return
        kind = self.resolved_source()
        sources = self._tree_sources() if kind == "tree" else self._shard_sources()
        for name, src in sources.items():
            limit = self.max_frames[name]
            if limit is not None:
                src = FrameSubset(src, evenly_spaced(len(src), int(limit)))
            self.sources[name] = src
        if kind == "tree" and self.preload:
            for src in self.sources.values():
                if isinstance(src, FrameSubset):  # read only the scans the subset touches
                    src.source.preload(
                        scans={src.source.scan_of(i)[0] for i in src.indices}, progress=self.progress
                    )
                else:
                    src.preload(progress=self.progress)
        for name, src in self.sources.items():
            train = name == "train"
            self.datasets[name] = UndersampledFrames(
                src,
                train=train,
                seed=self.seed,
                accelerations=self.accelerations,
                patterns=self.patterns,
                n_acs=self.n_acs,
                with_prompts=self.with_prompts,
                # single-coil training frames only; evaluation keeps every coil (the default 0.0)
                single_coil_fraction=self.single_coil_fraction if train else 0.0,
            )

    # ------------------------------------------------------------------------------------ loaders
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def summary(self) -> dict[str, int]:
        """Frames per stage (after ``setup``)."""
        return {name: len(ds) for name, ds in self.datasets.items()}

    def _loader(self, stage: str) -> DataLoader[Any]:
        if not self.datasets:
            self.setup()
        ds = self.datasets[stage]
        train = stage == "train"
        weights = None
        if train and self.balanced:
            # balanced_weights only calls group_labels(by), which every source here has (tree, shards,
            # FrameSubset); FrameSource, the type of ds.source, does not declare it
            weights = balanced_weights(
                ds.source,  # type: ignore[arg-type]
                self.balance_by,
                power=self.balance_power,
            )
        order = FrameOrder(len(ds), shuffle=train, seed=self.seed, weights=weights)
        shapes = frame_shapes(ds.source) if self.batch_size > 1 else None
        world, rank = self._world()
        batches = FrameBatchSampler(
            order, shapes, batch_size=self.batch_size, num_replicas=world, rank=rank, even=train
        )
        common: dict[str, Any] = dict(
            collate_fn=collate_samples, num_workers=self.num_workers, persistent_workers=self.num_workers > 0
        )
        if train:
            return ResumableLoader(ds, batches, self._completed_batches, **common)
        return DataLoader(ds, batch_sampler=batches, **common)

    def _completed_batches(self) -> int:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0
        # "processed" counts the batch whose step just ran when a checkpoint is written in
        # on_train_batch_end (every_n_train_steps), where "completed" lags by one; equal at epoch ends
        return int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)

    def train_dataloader(self) -> DataLoader[Any]:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader[Any]:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader[Any]:
        return self._loader("test")

    def has_test(self) -> bool:
        """True when the test split holds frames."""
        if not self.datasets:
            self.setup()
        return len(self.datasets["test"]) > 0
