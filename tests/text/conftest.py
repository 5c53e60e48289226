"""Run these small-tensor tests single-threaded (see ``torch_single_thread`` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(torch_single_thread: None) -> None:
    """Apply the shared single-thread fixture to every test of this folder."""
