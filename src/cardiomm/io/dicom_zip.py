"""DICOM images delivered in a ZIP archive, read as the folder they unpack to.

UK Biobank ships each participant's short-axis cine as one ``<id>_20209_2_0.zip`` (every slice its own
series, beside a ``manifest.cvs``), and PACS and web viewers export studies as ZIP files. The archive is
unpacked into a temporary folder that is removed afterwards; member paths are kept below that folder
(absolute paths and ``..`` parts are dropped, so no member is written outside it), the unpacked size is
limited by the size guard (:func:`~cardiomm.io.checks.max_elements` bytes), and errors name
``<archive>/<member>`` rather than the temporary folder.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from cardiomm.errors import CardiommError, SizeLimitError
from cardiomm.io.checks import MAX_ELEMENTS_ENV, max_elements, reading

__all__ = ["is_zip", "unpacked"]


def is_zip(path: Path) -> bool:
    """Whether ``path`` is a file with a ``.zip`` suffix (its content is checked when unpacked)."""
    return path.is_file() and path.suffix.lower() == ".zip"


def _member_path(name: str) -> PurePosixPath | None:
    """A member's path relative to the unpacking folder: no drive, root, ``.`` or ``..`` parts."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".", "..", "")]
    parts = [p for p in parts if not p.endswith(":")]  # a Windows drive ("C:") written into the name
    return PurePosixPath(*parts) if parts else None


@contextmanager
def unpacked(archive: Path) -> Iterator[Path]:
    """Unpack ``archive`` into a temporary folder and yield it; the folder is removed on exit.

    Raises
    ------
    FileFormatError
        Not a ZIP archive, or a damaged, encrypted or unsupported one (named).
    SizeLimitError
        More unpacked bytes than the size guard allows.
    """
    with tempfile.TemporaryDirectory(prefix="cardiomm-zip-") as tmp:
        root = Path(tmp)
        with reading(archive, "ZIP archive"), zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            total, limit = sum(m.file_size for m in members), max_elements()
            if total > limit:
                raise SizeLimitError(
                    f"ZIP archive unpacks to {total:.3g} bytes, more than the limit of {limit:.3g} "
                    f"(set {MAX_ELEMENTS_ENV} to raise it)",
                    path=archive,
                )
            for member in members:
                rel = _member_path(member.filename)
                if rel is None:
                    continue
                dest = root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        try:
            yield root
        except CardiommError as err:
            inside = str(root)
            path = None if err.path is None else err.path.replace(inside, str(archive))
            raise type(err)(err.message.replace(inside, str(archive)), path=path) from err
