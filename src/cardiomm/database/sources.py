"""Discovery of raw sources in a mixed-format tree, change fingerprints and streamed SHA-256.

A *source* is one file (``.mat``, ``.h5``, ``.dat``) or one folder of DICOM files (which may hold
several series). Skipped: hidden files, cardiomm temporary files (``.cardiomm-tmp-*``), sampling
masks (``Mask_Task*`` folders, ``*_mask_<P><R>.mat``: recorded separately and linked to their scan
by path), sidecars (``*_gt.h5``, ``*_info.csv``, ``GTSOS``/``ImgSnapshot`` folders) and files of
other types. ``<name>_info.csv`` next to ``<name>.mat`` is part of that source's fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cardiomm.database.extract.dicom import is_dicom_file
from cardiomm.database.paths import is_mask_path, is_sidecar_path, name_sampling, path_parts
from cardiomm.utils.atomic import TMP_PREFIX
from cardiomm.utils.hashing import sha256_file

__all__ = [
    "SourceItem",
    "walk_sources",
    "stat_signature",
    "sha256_file",
    "sha256_source",
    "mask_link_key",
]

_EXT_KIND = {".mat": "mat", ".h5": "h5", ".hdf5": "h5", ".dat": "dat"}
_DICOM_EXT = (".dcm", ".ima", ".dicom")
_ROLE_PREFIXES = ("FullSample", "Mask_", "UnderSample", "AccFactor")


@dataclass(frozen=True)
class SourceItem:
    """One raw source.

    Attributes
    ----------
    relpath
        File or folder, relative to the indexed root, ``/``-separated.
    kind
        ``mat``, ``h5``, ``dat`` or ``dicom`` (a folder).
    files
        File names of a DICOM folder (sorted); empty for single files.
    sidecars
        Relative paths of files that contribute metadata (``_info.csv``).
    """

    relpath: str
    kind: str
    files: tuple[str, ...] = field(default=())
    sidecars: tuple[str, ...] = field(default=())


def _is_dicom(path: Path, name: str) -> bool:
    """DICOM by extension, or an extension-less file with the ``DICM`` marker (other files are not read)."""
    return name.lower().endswith(_DICOM_EXT) or ("." not in name and is_dicom_file(path))


def walk_sources(root: Path) -> Iterator[tuple[list[SourceItem], list[str]]]:
    """``(sources, mask_relpaths)`` of one folder at a time, folders in sorted walk order (a generator:
    the caller can work on the first folders while the walk goes on). Hidden folders are not entered,
    nor are symbolic links to folders; unreadable folders are passed over (as ``os.walk`` does).

    ``os.scandir`` keeps the file types of the listing, so no ``stat`` per entry; paths are built as
    strings, and the depth-first order comes from an explicit stack (an MMCMR tree has about five
    folders per scan, and a recursive generator passes every result up through each level)."""
    stack = [(os.fspath(root), "")]  # (folder, its path relative to the root + "/" or "")
    while stack:
        path, prefix = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        subdirs: list[str] = []
        filenames: list[str] = []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                filenames.append(e.name)
            elif not e.name.startswith(".") and not e.is_symlink():
                subdirs.append(e.name)
        if filenames:
            found = _sources_in(path, prefix, filenames)
            if found[0] or found[1]:
                yield found
        stack.extend((f"{path}/{d}", f"{prefix}{d}/") for d in sorted(subdirs, reverse=True))


def _sources_in(path: str, prefix: str, filenames: list[str]) -> tuple[list[SourceItem], list[str]]:
    """Sources and masks among the files of one folder (``prefix``: its path relative to the root
    followed by ``/``, empty for the root itself)."""
    names = set(filenames)
    items: list[SourceItem] = []
    masks: list[str] = []
    dicoms: list[str] = []
    for name in sorted(filenames):
        if name.startswith((".", TMP_PREFIX)):
            continue
        rel = prefix + name
        dot = name.rfind(".")
        kind = _EXT_KIND.get(name[dot:].lower()) if dot > 0 else None
        if kind == "mat" and is_mask_path(rel):
            masks.append(rel)
            continue
        if is_sidecar_path(rel) and kind != "dat":
            continue
        if kind is None:
            if _is_dicom(Path(path, name), name):
                dicoms.append(name)
            continue
        sidecars: tuple[str, ...] = ()
        if kind == "mat":
            stem = name[:-4]
            for cand in (f"{stem}_info.csv", f"{stem}.csv"):
                if cand in names:
                    sidecars = (prefix + cand,)
                    break
        items.append(SourceItem(relpath=rel, kind=kind, sidecars=sidecars))
    if dicoms:
        items.append(SourceItem(relpath=prefix[:-1] or ".", kind="dicom", files=tuple(dicoms)))
    return items, masks


def stat_signature(root: Path, item: SourceItem) -> tuple[int, str]:
    """``(size in bytes, change signature)`` from ``stat`` only (sizes and mtimes, incl. sidecars).

    The signature contains modification times: store it only through a keyed hash.
    """
    top = os.fspath(root)
    if item.kind == "dicom":
        names = [f"{item.relpath}/{f}" for f in item.files]
    else:
        names = [item.relpath]
    parts: list[str] = []
    size = 0
    for i, rel in enumerate([*names, *item.sidecars]):
        st = os.stat(os.path.join(top, rel))
        if i < len(names):
            size += st.st_size
        parts.append(f"{rel.rsplit('/', 1)[-1]}:{st.st_size}:{st.st_mtime_ns}")
    return size, "|".join(parts)


def sha256_source(root: Path, item: SourceItem) -> tuple[str, str]:
    """``(source digest, data digest)`` of a source.

    The data digest is the SHA-256 of the file bytes, or for a DICOM folder the SHA-256 of its sorted
    ``<sha256>  <name>`` lines. The source digest equals it unless ``_info.csv`` sidecars exist, which
    are then appended as further lines (so a changed CSV re-indexes the scan).
    """
    if item.kind == "dicom":
        lines = [f"{sha256_file(root / item.relpath / f)}  {f}" for f in item.files]
        data = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    else:
        data = sha256_file(root / item.relpath)
    if not item.sidecars:
        return data, data
    lines = [f"{data}  {PurePosixPath(item.relpath).name}"]
    lines += [f"{sha256_file(root / s)}  {PurePosixPath(s).name}" for s in item.sidecars]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest(), data


def mask_link_key(relpath: str) -> tuple[str, ...]:
    """Key that a scan and its masks share: the path with the role folder (``FullSample``,
    ``Mask_Task*``, ``UnderSample*``) blanked and the file name reduced to its scan stem."""
    folder, _, name = relpath.rpartition("/")
    return (*_folder_link_key(folder), name_sampling(name)[0])


@functools.lru_cache(maxsize=1 << 14)
def _folder_link_key(folder: str) -> tuple[str, ...]:
    """The folder part of :func:`mask_link_key` (cached: a folder holds many masks)."""
    return tuple("" if p.startswith(_ROLE_PREFIXES) else p for p in path_parts(folder))
