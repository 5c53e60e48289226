"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardiomm.utils.shared_data import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder ``../shared/data``; skips the test with a clear message when absent."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("real data folder ../shared/data not found (set CARDIOMM_SHARED_DATA); skipping")
    return root


@pytest.fixture
def torch_single_thread():  # noqa: ANN201 - generator fixture
    """Run a test with one torch thread, restoring the previous setting.

    Tiny models issue thousands of small ops; with several OpenMP threads on a shared 2-core machine each
    op waits for descheduled threads (10x slower under load). One thread is as fast when the machine is
    idle and far more robust when it is busy.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
