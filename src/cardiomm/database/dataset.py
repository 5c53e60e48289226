"""Torch ``Dataset`` over a catalog and its shards: one sample = one 2-D frame with all coils.

Samples are typed :class:`FrameSample` records (k-space ``(c, ky, kx)`` complex64, RSS target
``(y, x)`` float32, the volume ``max``, the :class:`~cardiomm.database.header.CardiacHeader` and the
metadata prompt). Scans are selected by any catalog predicate (DuckDB SQL or a column -> value
mapping) and optionally by a split file. HDF5 files are opened lazily, per process (a worker forked
or spawned by a ``DataLoader`` re-opens its own handles), and at most ``max_open`` stay open.
:func:`balanced_weights` / :func:`balanced_sampler` give every (modality, center) group the same
total sampling probability.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from cardiomm.database.catalog import read_catalog
from cardiomm.database.header import CardiacHeader
from cardiomm.database.manifest import read_manifest
from cardiomm.database.query import filter_frame
from cardiomm.database.splits import SplitAssignment, load_splits
from cardiomm.errors import ConfigError

__all__ = [
    "FrameSample",
    "FrameBatch",
    "CardiacFrameDataset",
    "collate_frames",
    "balanced_weights",
    "balanced_sampler",
]


@dataclass(frozen=True)
class FrameSample:
    """One 2-D multi-coil frame.

    Attributes
    ----------
    kspace
        ``(c, ky, kx)`` complex64.
    target
        ``(y, x)`` float32 RSS of the fully sampled k-space.
    max_value
        Maximum of the RSS over the whole volume (SSIM ``data_range``).
    header
        Scan metadata.
    prompt
        Metadata prompt text (:meth:`CardiacHeader.metadata_prompt`).
    scan_id
        Pseudonymous scan ID.
    frame, t, z
        Frame index ``b = t * nz + z`` and its time and slice indices.
    """

    kspace: torch.Tensor
    target: torch.Tensor
    max_value: float
    header: CardiacHeader
    prompt: str
    scan_id: str
    frame: int
    t: int
    z: int


@dataclass(frozen=True)
class FrameBatch:
    """A stack of :class:`FrameSample` of equal shape: ``kspace`` ``(n, c, ky, kx)``, ``target``
    ``(n, y, x)``, ``max_value`` ``(n,)``, plus per-sample headers, prompts, scan IDs and frames."""

    kspace: torch.Tensor
    target: torch.Tensor
    max_value: torch.Tensor
    headers: tuple[CardiacHeader, ...]
    prompts: tuple[str, ...]
    scan_ids: tuple[str, ...]
    frames: tuple[int, ...]


def collate_frames(samples: Sequence[FrameSample]) -> FrameBatch:
    """``DataLoader`` collate function for :class:`FrameSample` (shapes must agree)."""
    return FrameBatch(
        kspace=torch.stack([s.kspace for s in samples]),
        target=torch.stack([s.target for s in samples]),
        max_value=torch.tensor([s.max_value for s in samples], dtype=torch.float32),
        headers=tuple(s.header for s in samples),
        prompts=tuple(s.prompt for s in samples),
        scan_ids=tuple(s.scan_id for s in samples),
        frames=tuple(s.frame for s in samples),
    )


class CardiacFrameDataset(Dataset[FrameSample]):
    """Frames of the shards of the selected catalog scans.

    Parameters
    ----------
    catalog
        Parquet catalog (or its ``DataFrame``).
    shards
        Output folder of ``cardiomm db prepare`` (holds ``manifest.json``).
    where
        Catalog predicate: DuckDB SQL string or ``{column: value | [values]}``.
    splits, split
        A split file (or :class:`~cardiomm.database.splits.SplitAssignment`) and the split (or splits)
        to keep.
    max_open
        Maximum number of HDF5 files kept open per process.

    Raises
    ------
    ConfigError
        ``split`` without ``splits`` (or vice versa), or an invalid predicate.
    """

    def __init__(
        self,
        catalog: str | os.PathLike[str] | Any,
        shards: str | os.PathLike[str],
        *,
        where: str | Mapping[str, Any] | None = None,
        splits: str | os.PathLike[str] | Any | None = None,
        split: str | Sequence[str] | None = None,
        max_open: int = 64,
    ) -> None:
        frame = read_catalog(catalog) if isinstance(catalog, str | os.PathLike) else catalog
        if where is not None:
            frame = filter_frame(frame, where)
        if (splits is None) != (split is None):
            raise ConfigError("give both splits= and split=, or neither")
        if splits is not None:
            assignment = splits if isinstance(splits, SplitAssignment) else load_splits(splits)
            names = [split] if isinstance(split, str) else list(split or ())
            keep = {scan for name in names for scan in assignment.scan_ids(str(name))}
            frame = frame[frame["scan_id"].isin(keep)]
        self.root = Path(shards)
        manifest = {e["scan_id"]: e for e in read_manifest(self.root)["shards"]}
        records = [r for r in frame.to_dict("records") if r["scan_id"] in manifest]
        self.n_missing = len(frame) - len(records)
        self.headers = [CardiacHeader.from_record(r) for r in records]
        self._entries = [manifest[r["scan_id"]] for r in records]
        counts = np.asarray([int(e["n_frames"]) for e in self._entries], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._groups = {
            col: [str(r.get(col)) for r in records] for col in ("modality", "center", "vendor", "subtype")
        }
        self._prompts: dict[int, str] = {}
        self.max_open = max_open
        self._files: OrderedDict[int, Any] = OrderedDict()
        self._pid = os.getpid()

    # ------------------------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def n_scans(self) -> int:
        """Number of scans (shards) in the dataset."""
        return len(self._entries)

    def scan_of(self, index: int) -> tuple[int, int]:
        """``(scan position, frame index b)`` of a sample index."""
        n = int(self._offsets[-1])
        if not -n <= index < n:
            raise IndexError(f"sample {index} out of range for {n} frames")
        index %= n
        s = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return s, index - int(self._offsets[s])

    def group_labels(self, by: Sequence[str] = ("modality", "center")) -> list[tuple[str, ...]]:
        """Per-sample group label (e.g. ``(modality, center)``), in sample order."""
        unknown = [c for c in by if c not in self._groups]
        if unknown:
            raise ConfigError(f"cannot group by {unknown}; choose from {sorted(self._groups)}")
        labels = []
        for s in range(self.n_scans):
            lab = tuple(self._groups[c][s] for c in by)
            labels.extend([lab] * int(self._offsets[s + 1] - self._offsets[s]))
        return labels

    # ------------------------------------------------------------------------------------ I/O
    def _file(self, s: int) -> tuple[Any, Any, Any, float]:
        """``(file, kspace dataset, rss dataset, max)`` of scan ``s``, opened on first use."""
        import h5py  # noqa: PLC0415 - lazy: importing this module loads no h5py

        if os.getpid() != self._pid:  # forked worker: never reuse the parent's handles
            self._files = OrderedDict()
            self._pid = os.getpid()
        handle = self._files.get(s)
        if handle is None:
            f = h5py.File(self.root / self._entries[s]["path"], "r")
            handle = (f, f["kspace"], f["reconstruction_rss"], float(f.attrs["max"]))
            self._files[s] = handle
            while len(self._files) > self.max_open:
                self._files.popitem(last=False)[1][0].close()
        else:
            self._files.move_to_end(s)
        return handle

    def _prompt(self, s: int) -> str:
        if s not in self._prompts:
            self._prompts[s] = self.headers[s].metadata_prompt()
        return self._prompts[s]

    def __getitem__(self, index: int) -> FrameSample:
        s, b = self.scan_of(int(index))
        _, kds, rds, max_value = self._file(s)
        kspace = torch.from_numpy(np.ascontiguousarray(kds[b], dtype=np.complex64))
        target = torch.from_numpy(np.ascontiguousarray(rds[b], dtype=np.float32))
        nz = int(self._entries[s]["nz"])
        return FrameSample(
            kspace=kspace, target=target, max_value=max_value, header=self.headers[s],
            prompt=self._prompt(s), scan_id=self.headers[s].scan_id, frame=b, t=b // nz, z=b % nz,
        )  # fmt: skip

    def close(self) -> None:
        """Close the open HDF5 files of this process."""
        for handle in self._files.values():
            handle[0].close()
        self._files = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"] = OrderedDict()  # h5py handles do not cross processes
        return state

    def __del__(self) -> None:
        try:
            if os.getpid() == self._pid:
                self.close()
        except Exception:  # interpreter shutdown
            pass


def balanced_weights(
    dataset: CardiacFrameDataset, by: Sequence[str] = ("modality", "center"), *, power: float = 1.0
) -> torch.Tensor:
    """Per-sample weights giving each group equal total probability (``power=1``).

    A sample of a group with ``n`` frames gets weight ``n ** -power`` (``power=0``: uniform over
    frames, the published behaviour); weights are normalised to sum to 1.

    Returns
    -------
    torch.Tensor
        ``(len(dataset),)`` float64.
    """
    labels = dataset.group_labels(by)
    keys = np.asarray(["\0".join(lab) for lab in labels])
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    w = counts[inverse].astype(np.float64) ** (-power)
    return torch.from_numpy(w / w.sum()) if w.size else torch.zeros(0, dtype=torch.float64)


def balanced_sampler(
    dataset: CardiacFrameDataset,
    by: Sequence[str] = ("modality", "center"),
    *,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
    power: float = 1.0,
) -> WeightedRandomSampler:
    """A ``WeightedRandomSampler`` (with replacement) over :func:`balanced_weights`."""
    # torch annotates ``weights`` as Sequence[float]; it takes a tensor (``torch.as_tensor``)
    weights = cast(Sequence[float], balanced_weights(dataset, by, power=power))
    return WeightedRandomSampler(weights, num_samples or len(dataset), replacement=True, generator=generator)
