"""Locate the optional real-data folder (``../shared/data`` next to a source checkout).

Set ``CARDIOMM_SHARED_DATA`` to point elsewhere. Nothing in the package requires these files.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_data_dir"]


def shared_data_dir() -> Path | None:
    """Return the real-data folder if it exists, else ``None``."""
    env = os.environ.get("CARDIOMM_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" for p in here.parents] + [Path.cwd().parent / "shared" / "data"]
    for cand in candidates:
        if (cand / "README.md").is_file():
            return cand
    return None
