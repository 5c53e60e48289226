"""Split the reconstruction of a TestSet tree over several processes: one per GPU, per node, per job.

``cardiomm reconstruct TREE --out OUT --shard K/N`` reconstructs the ``K``-th of ``N`` parts of the tree
(``K`` from 0); ``N`` such processes, started in any order on any machines that see ``TREE`` and ``OUT``,
write disjoint files of one output tree, the same files one process would write. ``--shard auto`` takes
``K`` and ``N`` from the launcher: ``torchrun`` (``RANK`` / ``WORLD_SIZE``) or SLURM (``SLURM_PROCID`` /
``SLURM_NTASKS``). Under ``torchrun`` ``--device auto`` picks the process's own GPU
(``cuda:LOCAL_RANK``).

The parts are made of whole source files (every mask of a file in the same part: the file is read once
and SENSE / CS reuse its coil maps) and balanced by bytes: files in decreasing size, each to the part
with the fewest bytes so far (ties: the lower part index), which depends only on the file list and
sizes, so every process computes the same split without talking to the others.
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cardiomm.errors import ConfigError

if TYPE_CHECKING:
    from cardiomm.recon.pipeline import ReconTask

__all__ = ["Shard", "SHARD_HELP", "parse_shard", "shard_tasks", "shard_device"]

#: Help text of ``--shard``.
SHARD_HELP = (
    "Folders: reconstruct only part K of N (K from 0), e.g. one process per GPU or per node writing into "
    "the same --out; 'auto' reads torchrun's RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS."
)

_SPEC_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

#: Environment variables giving (part, count), by launcher, in the order they are looked for.
_LAUNCHERS = (("torchrun", "RANK", "WORLD_SIZE"), ("SLURM", "SLURM_PROCID", "SLURM_NTASKS"))


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (from 0) of ``count`` parts."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"--shard: part {self.index} of {self.count} does not exist (0 <= K < N)")

    @property
    def label(self) -> str:
        """``K-of-N``, for file names."""
        return f"{self.index}-of-{self.count}"


def parse_shard(spec: str, env: Mapping[str, str] | None = None) -> Shard:
    """``"K/N"`` or ``"auto"`` (from ``env``, default ``os.environ``) -> :class:`Shard`.

    Raises
    ------
    ConfigError
        Not ``K/N`` with ``0 <= K < N``; ``auto`` without a launcher's variables, or with non-numbers.
    """
    env = os.environ if env is None else env
    if spec.strip().lower() == "auto":
        for launcher, rank, size in _LAUNCHERS:
            if rank in env and size in env:
                values = env[rank], env[size]
                if not all(v.strip().isdigit() for v in values):
                    found = f"{rank}={values[0]!r}, {size}={values[1]!r}"
                    raise ConfigError(f"--shard auto: {found} ({launcher}) are not part numbers")
                return Shard(int(values[0]), int(values[1]))
        names = ", ".join(f"{r}/{s}" for _, r, s in _LAUNCHERS)
        raise ConfigError(f"--shard auto: no launcher variables set ({names}); give --shard K/N")
    match = _SPEC_RE.match(spec)
    if match is None:
        raise ConfigError(f"--shard must be K/N (e.g. 0/4) or auto, got {spec!r}")
    return Shard(int(match.group(1)), int(match.group(2)))


def shard_tasks(tasks: Sequence[ReconTask], shard: Shard) -> list[ReconTask]:
    """The tasks of ``shard`` (in their original order): whole source files, balanced by bytes."""
    sizes: dict[Path, int] = {}
    for task in tasks:
        path = Path(task.kspace_path)
        if path not in sizes:
            try:
                sizes[path] = path.stat().st_size
            except OSError:
                sizes[path] = 0  # unreadable: its own error comes when the part that owns it reads it
    order = sorted(sizes, key=lambda p: (-sizes[p], str(p)))
    # (bytes so far, part) of the parts that can get a file: with more parts than files, file i of the
    # order goes to part i and the others stay empty; a heap keeps a huge N cheap
    heap = [(0, i) for i in range(min(shard.count, len(order)))]
    owner: dict[Path, int] = {}
    for path in order:
        load, part = heapq.heappop(heap)
        owner[path] = part
        heapq.heappush(heap, (load + max(sizes[path], 1), part))
    return [t for t in tasks if owner[Path(t.kspace_path)] == shard.index]


def shard_device(device: str, env: Mapping[str, str] | None = None) -> str:
    """``--device`` for a sharded run: ``auto`` under ``torchrun`` (``LOCAL_RANK`` set) becomes
    ``cuda:LOCAL_RANK`` when that GPU exists, so the processes of a node use one GPU each; any other
    value, or no CUDA, is returned unchanged (then resolved as usual)."""
    env = os.environ if env is None else env
    local = env.get("LOCAL_RANK", "").strip()
    if device.strip().lower() != "auto" or not local.isdigit():
        return device
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    if torch.cuda.is_available() and int(local) < torch.cuda.device_count():
        return f"cuda:{int(local)}"
    return device
