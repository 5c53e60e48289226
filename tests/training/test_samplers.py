"""Epoch- and rank-aware frame samplers: disjoint DDP shares, equal step counts, shape-grouped batches."""

from __future__ import annotations

import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.training.samplers import FrameBatchSampler, FrameOrder


def _rank_batches(order: FrameOrder, world: int, **kw) -> list[list[list[tuple[int, int]]]]:
    return [list(FrameBatchSampler(order, num_replicas=world, rank=r, **kw)) for r in range(world)]


def test_frame_order_is_seeded_per_epoch() -> None:
    order = FrameOrder(50, shuffle=True, seed=3)
    e0 = list(order)
    assert list(order) == e0 and sorted(e0) == list(range(50))
    order.set_epoch(1)
    assert list(order) != e0
    assert list(FrameOrder(50, shuffle=False)) == list(range(50))
    state = torch.get_rng_state()
    list(FrameOrder(50, seed=9))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("n, world", [(10, 2), (11, 2), (13, 3)])
def test_ddp_shares_are_disjoint_and_even(n: int, world: int) -> None:
    order = FrameOrder(n, shuffle=True, seed=0)
    order.set_epoch(2)
    shares = _rank_batches(order, world, even=True)
    assert len({len(s) for s in shares}) == 1  # same number of steps on every rank
    seen = [[k for batch in share for k in batch] for share in shares]
    flat = [i for s in seen for i, _ in s]
    assert len(flat) == len(set(flat)) == n - n % world
    assert all(epoch == 2 for s in seen for _, epoch in s)
    # evaluation: nothing dropped, nothing duplicated
    ev = _rank_batches(FrameOrder(n, shuffle=False), world, even=False)
    assert sorted(i for share in ev for batch in share for i, _ in batch) == list(range(n))
    assert all(
        len(FrameBatchSampler(FrameOrder(n), num_replicas=world, rank=r, even=False)) == len(ev[r])
        for r in range(world)
    )


def test_batches_group_equal_shapes() -> None:
    shapes = [(3, 24, 32)] * 7 + [(3, 24, 40)] * 5
    order = FrameOrder(len(shapes), shuffle=True, seed=1)
    batches = list(FrameBatchSampler(order, shapes, batch_size=3))
    assert sorted(i for b in batches for i, _ in b) == list(range(12))
    assert all(len({shapes[i] for i, _ in b}) == 1 for b in batches)
    assert len(FrameBatchSampler(order, shapes, batch_size=3)) == len(batches)


def test_weighted_order_draws_with_replacement() -> None:
    weights = torch.tensor([0.0, 0.0, 1.0, 1.0])
    draws = list(FrameOrder(4, seed=0, weights=weights, num_samples=40))
    assert len(draws) == 40 and set(draws) == {2, 3}
    with pytest.raises(ConfigError):
        FrameOrder(3, weights=weights)


def test_resumable_loader_continues_the_stored_epoch() -> None:
    from cardiomm.training.samplers import ResumableLoader

    class Keys:
        def __len__(self) -> int:
            return 6

        def __getitem__(self, key: tuple[int, int]) -> int:
            return key[0]

    done = {"n": 0}
    order = FrameOrder(6, shuffle=True, seed=4)
    order.set_epoch(1)
    loader = ResumableLoader(Keys(), FrameBatchSampler(order), lambda: done["n"], collate_fn=lambda b: b)
    full = [batch[0] for batch in loader]
    done["n"] = 2
    state = loader.state_dict()
    assert state == {"epoch": 1, "completed": 2}
    fresh = ResumableLoader(Keys(), FrameBatchSampler(FrameOrder(6, shuffle=True, seed=4)), lambda: 0,
                            collate_fn=lambda b: b)  # fmt: skip
    fresh.load_state_dict(state)
    assert [batch[0] for batch in fresh] == full[2:]  # the rest of epoch 1
    assert [batch[0] for batch in fresh] == full  # then whole epochs again
    fresh.load_state_dict({"epoch": 1, "completed": 6})  # stored at the epoch end: no skip
    fresh.batch_sampler.set_epoch(2)
    assert len([batch for batch in fresh]) == 6
