"""Rewrite the synthetic DICOM files of a test folder: the one helper the DICOM stack tests share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def retag(folder: Path, change: Callable[[Any, int], None] | None = None, **tags: object) -> None:
    """Rewrite every ``.dcm`` file under ``folder``: set ``tags`` (a ``None`` value leaves that tag as
    it is), then apply ``change(dataset, k)`` (``k``: the file's rank by name)."""
    import pydicom

    for k, f in enumerate(sorted(folder.rglob("*.dcm"))):
        ds = pydicom.dcmread(f)
        for name, value in tags.items():
            if value is not None:
                setattr(ds, name, value)
        if change is not None:
            change(ds, k)
        ds.save_as(f, enforce_file_format=True)
