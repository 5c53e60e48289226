"""Frames of an MMCMR-style ``.mat`` tree (e.g. ``cardiomm simulate mini`` output), held in memory.

Layout read (reference section 3.3)::

    ROOT/<ModalityFolder>/<Set>/FullSample/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/<name>.mat

``<Set>`` is ``TrainingSet`` for training / validation and ``TestSet`` for the held-out test frames.
Mask files, ``_info.csv`` / ``_gt.h5`` sidecars and temporary files are skipped. Every scan's header
comes from the database package (:func:`cardiomm.database.extract.mat.extract_mat` for shapes and the
scan CSV, :func:`cardiomm.database.extract.merge_scan` for the path rules), and its metadata prompt
from :meth:`cardiomm.database.CardiacHeader.metadata_prompt` (the text package's builder), so the
prompts are exactly those of the shard pipeline. Patient pseudonyms use a fixed, public salt: they only
serve the in-memory train/val split (:func:`split_scans`, by patient, via
:func:`cardiomm.database.splits.make_splits`) and are never written anywhere.

Samples are :class:`cardiomm.database.dataset.FrameSample` records, the same type as the shard
dataset's, so :class:`~cardiomm.training.undersampling.UndersampledFrames` treats both sources alike.
One sample = one 2-D frame ``b = t * nz + z`` (t-major) with all coils.

Memory: each scan is read once (whole volume), its RSS target ``(b, y, x)`` and volume max are
computed and kept; the k-space stays in an LRU cache of ``cache_bytes`` (all of it for small trees,
``preload=True`` reads everything up front with a progress bar). For trees larger than memory use the
shard pipeline (``cardiomm db prepare``), which reads single frames from HDF5.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import Dataset

from cardiomm.database.dataset import FrameSample
from cardiomm.database.extract import NotAScanError, merge_scan
from cardiomm.database.extract.mat import extract_mat
from cardiomm.database.header import CardiacHeader
from cardiomm.database.paths import is_mask_path, is_sidecar_path
from cardiomm.database.phi import Pseudonymizer
from cardiomm.database.splits import make_splits
from cardiomm.errors import ConfigError, InputFileError
from cardiomm.utils.atomic import TMP_PREFIX

__all__ = ["TreeScan", "discover_scans", "split_scans", "TreeFrameDataset"]

_SALT = b"cardiomm-training-tree-split"  # public on purpose: pseudonyms never leave memory


@dataclass(frozen=True)
class TreeScan:
    """One k-space file of the tree.

    Attributes
    ----------
    path
        The ``.mat`` file.
    relpath
        Path relative to the tree root (``/``-separated); used as ``fname``.
    key
        k-space variable (``kspace_full``, ``kspace``...).
    header
        Scan metadata (path rules + scan CSV).
    shape
        ``(t, z, c, ky, kx)``.
    """

    path: Path
    relpath: str
    key: str
    header: CardiacHeader
    shape: tuple[int, int, int, int, int]

    @property
    def n_frames(self) -> int:
        """Number of 2-D frames ``t * z``."""
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes of the complex64 k-space."""
        t, z, c, ky, kx = self.shape
        return 8 * t * z * c * ky * kx


def discover_scans(
    root: str | os.PathLike[str],
    data_set: str = "TrainingSet",
    *,
    modalities: Sequence[str] | None = None,
) -> list[TreeScan]:
    """Fully sampled scans of one set of a tree, sorted by relative path.

    Parameters
    ----------
    root
        Tree root (holds the modality folders).
    data_set
        ``TrainingSet``, ``TestSet``...
    modalities
        Keep only these modality keys (``Cine``, ``T1map``...); ``None``: all.

    Raises
    ------
    InputFileError
        ``root`` is not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise InputFileError("training data folder not found", path=base)
    pseudo = Pseudonymizer(salt=_SALT)
    scans: list[TreeScan] = []
    for path in sorted(base.glob(f"*/{data_set}/FullSample/**/*.mat")):
        rel = path.relative_to(base).as_posix()
        if path.name.startswith(TMP_PREFIX) or is_mask_path(rel) or is_sidecar_path(rel):
            continue
        try:
            raw = extract_mat(path)
        except NotAScanError:
            continue
        header = merge_scan(raw, rel, pseudo, source_key=rel)
        if modalities is not None and header.modality not in modalities:
            continue
        dims = raw.fields
        shape = (int(dims["nt"]), int(dims["nz"]), int(dims["nc"]), int(dims["ny"]), int(dims["nx"]))
        scans.append(TreeScan(path=path, relpath=rel, key=raw.kspace_key, header=header, shape=shape))
    return scans


def split_scans(
    scans: Sequence[TreeScan], *, val_fraction: float, seed: int = 0
) -> tuple[list[TreeScan], list[TreeScan]]:
    """Deterministic patient-level train / val split (stratified by modality), ``(train, val)``.

    Uses :func:`cardiomm.database.splits.make_splits` (rank by ``sha256(seed, patient)``), so no
    patient is in both parts and the result does not depend on file order.
    """
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0 or not scans:
        return list(scans), []
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    frame = pd.DataFrame(
        {
            "scan_id": [s.relpath for s in scans],
            "center": [s.header.center for s in scans],
            "patient_id": [s.header.patient_id for s in scans],
            "modality": [s.header.modality for s in scans],
            "n_frames": [s.n_frames for s in scans],
        }
    )
    assignment = make_splits(frame, seed=seed, val=val_fraction, test=0.0)
    train = [s for s in scans if assignment.scans[s.relpath] == "train"]
    val = [s for s in scans if assignment.scans[s.relpath] == "val"]
    return train, val


class TreeFrameDataset(Dataset[FrameSample]):
    """Every ``(t, z)`` frame of the given scans.

    Parameters
    ----------
    scans
        From :func:`discover_scans` (or :func:`split_scans`).
    cache_bytes
        LRU budget for k-space volumes in memory [bytes] (targets are always kept).
    preload
        Read every scan now (progress bar when ``progress``).
    progress
        Show a rich progress bar while preloading.
    """

    def __init__(
        self,
        scans: Sequence[TreeScan],
        *,
        cache_bytes: int = 4 << 30,
        preload: bool = False,
        progress: bool = False,
    ) -> None:
        self.scans = list(scans)
        counts = [s.n_frames for s in self.scans]
        self._offsets = [0]
        for n in counts:
            self._offsets.append(self._offsets[-1] + n)
        self.cache_bytes = int(cache_bytes)
        self._kspace: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._targets: dict[int, tuple[torch.Tensor, float]] = {}
        self._prompts: dict[int, str] = {}
        if preload:
            self.preload(progress=progress)

    # ------------------------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return self._offsets[-1]

    @property
    def n_scans(self) -> int:
        """Number of scans."""
        return len(self.scans)

    def scan_of(self, index: int) -> tuple[int, int]:
        """``(scan position, frame index b)`` of a sample index."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} frames")
        lo, hi = 0, len(self.scans)
        while hi - lo > 1:  # bisect on the offsets
            mid = (lo + hi) // 2
            if self._offsets[mid] <= index:
                lo = mid
            else:
                hi = mid
        return lo, index - self._offsets[lo]

    def frame_shapes(self) -> list[tuple[int, int, int]]:
        """Per-sample k-space shape ``(c, ky, kx)`` (for shape-grouped batching), without reading data."""
        out: list[tuple[int, int, int]] = []
        for s in self.scans:
            out.extend([s.shape[2:]] * s.n_frames)  # shape is a 5-tuple: the slice is (c, ky, kx)
        return out

    def group_labels(self, by: Sequence[str] = ("modality", "center")) -> list[tuple[str, ...]]:
        """Per-sample group label from the headers (for balanced sampling)."""
        labels: list[tuple[str, ...]] = []
        for s in self.scans:
            try:
                lab = tuple(str(getattr(s.header, c)) for c in by)
            except AttributeError as exc:
                raise ConfigError(f"cannot group by {list(by)}: {exc}") from None
            labels.extend([lab] * s.n_frames)
        return labels

    # ------------------------------------------------------------------------------------ I/O
    def _load(self, s: int) -> torch.Tensor:
        cached = self._kspace.get(s)
        if cached is not None:
            self._kspace.move_to_end(s)
            return cached
        from cardiomm.io.h5 import rss_from_kspace  # noqa: PLC0415 - lazy: importing this module loads no h5py
        from cardiomm.io.kspace import read_cmrxrecon  # noqa: PLC0415 - lazy: importing this module loads no h5py

        scan = self.scans[s]
        frames = read_cmrxrecon(scan.path, key=scan.key).frames().contiguous()
        if s not in self._targets:
            target = rss_from_kspace(frames)
            self._targets[s] = (target, float(target.max()))
        if scan.nbytes <= self.cache_bytes:
            self._kspace[s] = frames
            used = sum(v.numel() * 8 for v in self._kspace.values())
            while used > self.cache_bytes and len(self._kspace) > 1:
                _, old = self._kspace.popitem(last=False)
                used -= old.numel() * 8
        return frames

    def preload(self, scans: Sequence[int] | set[int] | None = None, *, progress: bool = False) -> None:
        """Read scans (all by default): targets are kept, k-space while within ``cache_bytes``."""
        todo = sorted(range(self.n_scans) if scans is None else scans)
        todo = [s for s in todo if s not in self._targets or s not in self._kspace]
        if not progress:
            for s in todo:
                self._load(s)
            return

        with Progress(
            TextColumn("loading scans"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as bar:
            task = bar.add_task("scans", total=len(todo))
            for s in todo:
                self._load(s)
                bar.advance(task)

    def _prompt(self, s: int) -> str:
        if s not in self._prompts:
            try:
                self._prompts[s] = self.scans[s].header.metadata_prompt()
            except ImportError:  # text package unavailable: models without text conditioning still train
                self._prompts[s] = ""
        return self._prompts[s]

    def __getitem__(self, index: int) -> FrameSample:
        s, b = self.scan_of(int(index))
        frames = self._load(s)
        target, max_value = self._targets[s]
        nz = self.scans[s].shape[1]
        return FrameSample(
            kspace=frames[b], target=target[b], max_value=max_value, header=self.scans[s].header,
            prompt=self._prompt(s), scan_id=self.scans[s].relpath, frame=b, t=b // nz, z=b % nz,
        )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_kspace"] = OrderedDict()  # workers re-read what they need
        return state
