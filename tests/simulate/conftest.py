"""Fixtures of the simulate tests: one tiny tree per session (about 3 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A ``cardiomm simulate mini --size tiny --seed 0`` tree and its manifest."""
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tiny_tree")
    manifest = generate_mini(root, size="tiny", seed=0)
    return root, manifest
