"""Run these small-tensor tests single-threaded.

Tiny models issue thousands of small ops; with several OpenMP threads on a shared 2-core machine each
op waits for descheduled threads, which made these tests 10x slower under load. One thread is as fast
when the machine is idle and far more robust when it is busy. The previous setting is restored.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
