"""One raw scan -> one training shard, streamed in frame blocks with the content digest taken on the way.

:func:`write_shard` is the work of ``cardiomm db prepare`` for one scan. It reads the k-space in
blocks (:func:`cardiomm.io.kspace_stream.open_frame_stream`: bounded memory for MMCMR ``.mat`` v7.3
files, the whole volume for other formats), and for each block

1. computes the RSS target (:func:`block_rss`),
2. writes k-space and RSS into the per-frame chunks of the shard,
3. feeds the k-space bytes to the content digest (:func:`cardiomm.database.manifest.shard_digest`'s
   definition), so the shard is not read back to checksum it.

The RSS part of the digest comes from memory (or, above :data:`RSS_IN_MEMORY` bytes, from the shard
just written), the attribute part from the attributes as read back, so the digest equals
:func:`~cardiomm.database.manifest.shard_digest` of the file (a test checks it). ``max`` and ``norm``
do not depend on the block size (per-frame float64 sums of squares, summed exactly with
:func:`math.fsum`), and the block size depends on the frame size only: shards and manifests are the
same whatever the worker count, scheduler or machine.

Memory: a worker holds about 4 blocks (read buffer, FFT output, RSS temporaries) plus the RSS volume
up to :data:`RSS_IN_MEMORY`; with the default 64 MB blocks that is under 0.6 GB above the interpreter
(torch and h5py loaded), whatever the scan size (benchmarks/bench_database.py measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from cardiomm.database.manifest import ShardEntry, content_hasher, dataset_tag, update_attrs_digest
from cardiomm.io.h5 import training_h5_attrs
from cardiomm.io.kspace_stream import BLOCK_BYTES, FrameStream, open_frame_stream
from cardiomm.utils.atomic import atomic_path

__all__ = ["ShardContent", "block_rss", "write_shard", "RSS_IN_MEMORY"]

#: RSS volumes up to this size [bytes] are kept in memory for the digest; larger ones are read back.
RSS_IN_MEMORY = 256 << 20
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


@dataclass(frozen=True)
class ShardContent:
    """What :func:`write_shard` needs besides the source: the shard's attributes and options.

    Attributes
    ----------
    prompt
        Metadata prompt text (attribute ``prompt``).
    metadata
        String attributes (catalog fields), written in sorted order.
    numbers
        Numeric attributes, written in sorted order.
    drop_matlab_shape
        Store an empty ``matlab_shape`` (fastMRI sources have none).
    compress
        Gzip level 4 + shuffle on the per-frame chunks (the content digest does not change).
    """

    prompt: str
    metadata: dict[str, str]
    numbers: dict[str, float | int]
    drop_matlab_shape: bool = False
    compress: bool = False


def block_rss(frames: np.ndarray) -> np.ndarray:
    """RSS over coils of the centred orthonormal 2-D IFFT of ``frames``.

    The input ``ifftshift`` is left out: a circular shift of k-space multiplies the image by a
    phase ramp, which the magnitude removes, so only the small ``(b, y, x)`` result is shifted
    (``fftshift``). Equal to :func:`cardiomm.io.rss_from_kspace` within float32 rounding (about
    1e-7 of the maximum), and 5-6x faster on CPU.

    Parameters
    ----------
    frames
        ``(b, c, ky, kx)`` complex64.

    Returns
    -------
    numpy.ndarray
        ``(b, y, x)`` float32, C-contiguous.
    """
    img = torch.fft.ifft2(torch.from_numpy(frames), norm="ortho")
    sum_sq = (img.real.square() + img.imag.square()).sum(dim=1)
    return np.ascontiguousarray(torch.fft.fftshift(sum_sq.sqrt_(), dim=(-2, -1)).numpy())


def _frame_sum_squares(rss: np.ndarray) -> list[float]:
    """Per-frame float64 sums of squares (independent of how frames are grouped into blocks)."""
    return [float(np.square(frame.astype(np.float64).ravel()).sum()) for frame in rss]


def write_shard(
    src: str | Path,
    shard: Path,
    *,
    fmt: str,
    key: str | None,
    content: ShardContent,
    block_bytes: int = BLOCK_BYTES,
) -> tuple[str, ShardEntry]:
    """Convert one raw scan into the training shard ``shard`` (atomically; see the module docstring).

    Parameters
    ----------
    src
        Raw k-space file.
    shard
        Shard to write (``<OUT>/<Modality folder>/<scan_id>.h5``).
    fmt, key
        Source format and ``.mat`` variable (``None``: the default key rules).
    content
        Attributes and storage options.
    block_bytes
        Upper bound of one k-space block [bytes]; results do not depend on it.

    Returns
    -------
    tuple[str, ShardEntry]
        Content digest and the manifest entry (``scan_id`` and ``path`` left empty for the caller).

    Raises
    ------
    CardiommError
        Unreadable source (typed, from :mod:`cardiomm.io`).
    """
    with open_frame_stream(src, fmt=fmt, key=key) as stream:
        b, (c, ky, kx) = stream.n_batch, stream.frame_shape
        h = content_hasher()
        shard.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(shard) as tmp, h5py.File(tmp, "w") as f:
            rss_max, rss_norm = _write_datasets(f, stream, h, content.compress, block_bytes)
            matlab_shape = () if content.drop_matlab_shape else stream.matlab_shape
            layout = training_h5_attrs(
                (stream.n_frames, stream.n_slices, c, ky, kx), matlab_shape=matlab_shape,
                rss_max=rss_max, rss_norm=rss_norm, prompt=content.prompt,
            )  # fmt: skip
            for name, value in layout.items():
                f.attrs[name] = value
            for name, value in sorted(content.metadata.items()):
                f.attrs[name] = str(value)
            for name, value in sorted(content.numbers.items()):
                f.attrs[name] = value
            f.flush()
            update_attrs_digest(h, f.attrs)
    entry = ShardEntry("", "", h.hexdigest(), b, stream.n_frames, stream.n_slices, (b, c, ky, kx))
    return entry.sha256, entry


def _write_datasets(
    f: h5py.File, stream: FrameStream, h: Any, compress: bool, block_bytes: int
) -> tuple[float, float]:
    """Write ``kspace`` and ``reconstruction_rss`` block by block, feeding both to the digest ``h``.

    Returns
    -------
    tuple[float, float]
        ``max`` and ``norm`` of the RSS volume.
    """
    opts: dict[str, Any] = dict(_COMPRESSION) if compress else {}
    b, (c, ky, kx) = stream.n_batch, stream.frame_shape
    k_ds = f.create_dataset("kspace", (b, c, ky, kx), np.complex64, chunks=(1, c, ky, kx), **opts)
    r_ds = f.create_dataset("reconstruction_rss", (b, ky, kx), np.float32, chunks=(1, ky, kx), **opts)
    h.update(dataset_tag("kspace", np.complex64, (b, c, ky, kx)))
    sums: list[float] = []
    rss_max = -math.inf
    keep_rss = 4 * b * ky * kx <= RSS_IN_MEMORY
    rss_parts: list[np.ndarray] = []
    b0 = 0
    for block in stream.blocks(block_bytes):
        b1 = b0 + block.shape[0]
        rss = block_rss(block)
        k_ds[b0:b1] = block
        r_ds[b0:b1] = rss
        h.update(block.reshape(-1).view(np.uint8))
        sums += _frame_sum_squares(rss)
        rss_max = max(rss_max, float(rss.max()))
        if keep_rss:
            rss_parts.append(rss)
        b0 = b1
    h.update(dataset_tag("reconstruction_rss", np.float32, (b, ky, kx)))
    if keep_rss:
        for part in rss_parts:
            h.update(part.reshape(-1).view(np.uint8))
    else:  # read back from the shard, block by block
        step = max(1, block_bytes // (4 * ky * kx))
        for i in range(0, b, step):
            h.update(np.ascontiguousarray(r_ds[i : i + step], dtype=np.float32).reshape(-1).view(np.uint8))
    return rss_max, math.sqrt(math.fsum(sums))
