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
