"""Atomic file writes: write to a temporary name in the target folder, then rename.

A crash or an error while writing never leaves a half-written file under the final name.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "TMP_PREFIX"]

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
