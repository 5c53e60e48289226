"""Atomic file and folder writes: write to a temporary name in the target folder, then rename.

A crash or an error while writing never leaves a half-written file (or folder) under the final name.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_dir", "TMP_PREFIX"]

#: Prefix of temporary files; readers and indexers skip names that start with it.
TMP_PREFIX = ".cardiomm-tmp-"


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    The temporary name keeps the full file name as its suffix (so ``.nii.gz`` or ``.mat`` based
    writers still recognise the format). On any exception the temporary file is removed and the
    exception propagates; an existing file at ``path`` is left untouched.

    Parameters
    ----------
    path
        Final destination. Its parent folder is created if needed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{final.name}")
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty temporary folder next to ``path``; on success it replaces ``path``.

    For outputs made of many files (a DICOM series). On any exception the temporary folder and its
    contents are removed and an existing folder at ``path`` is left untouched. On success an existing
    ``path`` is first renamed to a temporary name, the new folder renamed onto ``path``, and the old
    one deleted, so ``path`` never holds a mixture of old and new files.

    Parameters
    ----------
    path
        Final folder. Its parent folder is created if needed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{final.name}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-old-{final.name}")
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        if old is not None:  # put the previous folder back
            os.replace(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
