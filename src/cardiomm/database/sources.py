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
    "folder_sources",
    "list_folder",
    "stat_signature",
    "sha256_file",
    "sha256_source",
    "mask_link_key",
    "mask_link",
    "MaskLink",
]

_EXT_KIND = {".mat": "mat", ".h5": "h5", ".hdf5": "h5", ".dat": "dat"}
_DICOM_EXT = (".dcm", ".ima", ".dicom")
_ROLE_PREFIXES = ("FullSample", "Mask_", "UnderSample", "AccFactor")

#: A parsed mask path: ``(link key, relpath, sampling token)`` (:func:`mask_link`).
MaskLink = tuple[tuple[str, ...], str, str]


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


def list_folder(path: str) -> tuple[list[str], list[str]] | None:
    """``(subfolders, file names)`` of one folder, both sorted, or ``None`` if it cannot be listed.
    Hidden folders and symbolic links to folders are not subfolders; a file whose type cannot be read
    counts as a file. ``os.scandir`` keeps the file types of the listing, so no ``stat`` per entry."""
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return None
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
    return sorted(subdirs), filenames


def walk_sources(root: Path, start: str = "") -> Iterator[tuple[list[SourceItem], list[str]]]:
    """``(sources, mask_relpaths)`` of one folder at a time, folders in sorted walk order (a generator:
    the caller can work on the first folders while the walk goes on). Hidden folders are not entered,
    nor are symbolic links to folders; unreadable folders are passed over (as ``os.walk`` does).

    ``start`` walks only the subtree of that folder (``/``-separated, relative to ``root``; paths stay
    relative to ``root``). Paths are built as strings, and the depth-first order comes from an explicit
    stack (an MMCMR tree has about five folders per scan, and a recursive generator passes every result
    up through each level)."""
    top = os.fspath(root)
    stack = [(f"{top}/{start}" if start else top, f"{start}/" if start else "")]
    while stack:
        path, prefix = stack.pop()
        listing = list_folder(path)
        if listing is None:
            continue
        subdirs, filenames = listing
        if filenames:
            found = _sources_in(path, prefix, filenames)
            if found[0] or found[1]:
                yield found
        stack.extend((f"{path}/{d}", f"{prefix}{d}/") for d in reversed(subdirs))


def folder_sources(root: Path, folder: str) -> Iterator[tuple[list[SourceItem], list[str]]]:
    """As :func:`walk_sources` for the files of one folder only (its subfolders are not entered)."""
    path = f"{os.fspath(root)}/{folder}" if folder else os.fspath(root)
    listing = list_folder(path)
    if listing is not None and listing[1]:
        found = _sources_in(path, f"{folder}/" if folder else "", listing[1])
        if found[0] or found[1]:
            yield found


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
    return mask_link(relpath)[0]


def mask_link(relpath: str) -> MaskLink:
    """``(mask_link_key(relpath), relpath, token)`` of a mask file, the token being its sampling
    (``ktGaussian16``) or, without one, its scan stem; the name is parsed once."""
    folder, _, name = relpath.rpartition("/")
    stem, pattern, accel = name_sampling(name)
    return (*_folder_link_key(folder), stem), relpath, f"{pattern}{accel}" if accel else stem


@functools.lru_cache(maxsize=1 << 14)
def _folder_link_key(folder: str) -> tuple[str, ...]:
    """The folder part of :func:`mask_link_key` (cached: a folder holds many masks)."""
    return tuple("" if p.startswith(_ROLE_PREFIXES) else p for p in path_parts(folder))
