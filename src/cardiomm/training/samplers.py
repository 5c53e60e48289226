"""Epoch-aware, rank-aware frame samplers with explicit seeds (no global RNG).

Two pieces:

- :class:`FrameOrder` gives the *global* frame order of one epoch: a permutation drawn from a
  ``torch.Generator`` seeded with ``(seed, epoch)`` (or, for balanced sampling, a weighted draw with
  replacement), identical on every rank; ``shuffle=False`` keeps dataset order. Lightning calls its
  :meth:`FrameOrder.set_epoch` at the start of each epoch (it looks for ``batch_sampler.sampler``).
- :class:`FrameBatchSampler` cuts that order into batches of frames of **equal shape** (scans may
  differ in size), then deals batch ``i`` to rank ``i % world_size``. With ``even=True`` (training)
  the batch list is truncated to a multiple of the world size, so every rank runs the same number of
  optimiser steps (DDP requirement) and ranks never see the same frame in an epoch. With
  ``even=False`` (validation / test) nothing is dropped or duplicated, so metrics are exact; ranks may
  then hold one batch more or less, which is fine because validation metrics are only synchronised at
  the epoch end.

Each yielded item is a list of keys ``(index, epoch)``: the epoch travels with the index into the
dataset (and into ``DataLoader`` workers), where it seeds the per-sample mask generator.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, cast

import torch
from torch.utils.data import DataLoader, Sampler

from cardiomm.errors import ConfigError

__all__ = ["FrameOrder", "FrameBatchSampler", "FrameKey", "ResumableLoader"]

#: ``(dataset index, epoch)``.
FrameKey = tuple[int, int]


class FrameOrder(Sampler[int]):
    """Global frame order of an epoch (the same on every rank).

    Parameters
    ----------
    n_frames
        Dataset length.
    shuffle
        Random permutation per epoch (seeded by ``(seed, epoch)``); False keeps dataset order.
    seed
        Base seed.
    weights
        Optional per-frame sampling weights (balanced sampling, e.g.
        :func:`cardiomm.database.dataset.balanced_weights`): frames are then drawn with replacement.
    num_samples
        Frames per epoch with ``weights`` (default ``n_frames``).
    """

    def __init__(
        self,
        n_frames: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        weights: Sequence[float] | torch.Tensor | None = None,
        num_samples: int | None = None,
    ) -> None:
        if n_frames < 0:
            raise ConfigError(f"n_frames must be >= 0, got {n_frames}")
        self.n_frames = int(n_frames)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if self.weights is not None and self.weights.numel() != self.n_frames:
            raise ConfigError(f"{self.weights.numel()} sampling weights for {self.n_frames} frames")
        self.num_samples = int(num_samples) if num_samples is not None else self.n_frames

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (called by Lightning before each epoch)."""
        self.epoch = int(epoch)

    def _generator(self) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed((self.seed * 1_000_003 + self.epoch) % (2**63))
        return g

    def __iter__(self) -> Iterator[int]:
        if self.weights is not None and self.n_frames:
            idx = torch.multinomial(
                self.weights, self.num_samples, replacement=True, generator=self._generator()
            )
            return iter(idx.tolist())
        if self.shuffle:
            return iter(torch.randperm(self.n_frames, generator=self._generator()).tolist())
        return iter(range(self.n_frames))

    def __len__(self) -> int:
        return self.num_samples if self.weights is not None else self.n_frames


class FrameBatchSampler(Sampler[list[FrameKey]]):
    """Shape-grouped batches of one rank.

    Parameters
    ----------
    sampler
        The epoch's global order (:class:`FrameOrder`).
    shapes
        Per-frame shape key (e.g. the k-space shape); frames of different keys never share a batch.
        ``None``: every frame has the same shape.
    batch_size
        Frames per batch (1 as published).
    num_replicas, rank
        World size and this process's rank.
    even
        Truncate the batch list to a multiple of ``num_replicas`` (training under DDP).
    """

    def __init__(
        self,
        sampler: FrameOrder,
        shapes: Sequence[Hashable] | None = None,
        *,
        batch_size: int = 1,
        num_replicas: int = 1,
        rank: int = 0,
        even: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ConfigError(f"rank {rank} outside world size {num_replicas}")
        if shapes is not None and len(shapes) != sampler.n_frames:
            raise ConfigError(f"{len(shapes)} shape keys for {sampler.n_frames} frames")
        self.sampler = sampler
        self.shapes = shapes
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.even = even
        #: ``(epoch, n)``: skip the first ``n`` batches of the next iteration if it runs that epoch
        #: (mid-epoch resume); consumed by the next iteration either way.
        self.resume_point: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Forward to the order (for callers that hold the batch sampler)."""
        self.sampler.set_epoch(epoch)

    def _all_batches(self) -> list[list[int]]:
        if self.batch_size == 1:
            return [[i] for i in self.sampler]
        batches: list[list[int]] = []
        open_: dict[Hashable, list[int]] = {}
        for i in self.sampler:
            key = None if self.shapes is None else self.shapes[i]
            bucket = open_.setdefault(key, [])
            bucket.append(i)
            if len(bucket) == self.batch_size:
                batches.append(bucket)
                open_[key] = []
        batches.extend(b for b in open_.values() if b)  # partial batches, in first-seen order
        return batches

    def __iter__(self) -> Iterator[list[FrameKey]]:
        batches = self._all_batches()
        if self.even:
            batches = batches[: len(batches) - len(batches) % self.num_replicas]
        epoch = self.sampler.epoch
        point, self.resume_point = self.resume_point, None
        skip = point[1] if point is not None and point[0] == epoch else 0
        for batch in batches[self.rank :: self.num_replicas][skip:]:
            yield [(i, epoch) for i in batch]

    def __len__(self) -> int:
        """Batches of this rank in a whole epoch (a resumed epoch yields fewer)."""
        n = len(self._all_batches()) if self.batch_size > 1 else len(self.sampler)
        if self.even:
            return n // self.num_replicas
        return len(range(self.rank, n, self.num_replicas))


class ResumableLoader(DataLoader[Any]):
    """``DataLoader`` over a :class:`FrameBatchSampler` that Lightning can checkpoint and restore.

    Lightning stores :meth:`state_dict` in its checkpoint (``epoch`` and the batches completed in it)
    and calls :meth:`load_state_dict` before re-creating the iterator on resume, so a run resumed from
    a mid-epoch checkpoint (``run.every_n_train_steps``) continues with that epoch's remaining batches
    (same order, same masks) instead of replaying its start.

    Parameters
    ----------
    dataset
        The dataset (keys ``(index, epoch)``).
    batch_sampler
        The rank's :class:`FrameBatchSampler`.
    completed
        Callable giving the number of batches completed in the current epoch (from the trainer).
    **kwargs
        Other ``DataLoader`` arguments (``collate_fn``, ``num_workers``...).
    """

    def __init__(
        self, dataset: Any, batch_sampler: FrameBatchSampler, completed: Callable[[], int], **kwargs: Any
    ) -> None:
        super().__init__(dataset, batch_sampler=batch_sampler, **kwargs)
        self._completed = completed

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "completed"}`` of the running epoch."""
        sampler = cast(FrameBatchSampler, self.batch_sampler)  # set in __init__
        return {"epoch": int(sampler.sampler.epoch), "completed": int(self._completed())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Arm the sampler: if the next iteration runs the stored epoch, skip its completed batches.

        Lightning decides which epoch the resumed run starts with (it starts a new one after a
        checkpoint written at an epoch end, including a ``max_steps`` / ``max_time`` stop) and sets it
        with ``set_epoch`` before iterating; the skip only applies when that is the stored epoch.
        """
        sampler = cast(FrameBatchSampler, self.batch_sampler)  # set in __init__
        epoch, done = int(state.get("epoch", 0)), int(state.get("completed", 0))
        sampler.set_epoch(epoch)
        sampler.resume_point = (epoch, done) if 0 < done < len(sampler) else None
