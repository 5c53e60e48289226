"""Typed training records: one undersampled frame (:class:`ReconSample`) and a batch (:class:`ReconBatch`).

Axis orders (``docs/conventions.md``): k-space ``(c, ky, kx)`` per sample, ``(b, c, ky, kx)`` per batch;
masks ``(1, ky, kx)`` / ``(b, 1, ky, kx)`` bool (1-D Cartesian masks constant over kx, radial masks
2-D); targets ``(y, x)`` / ``(b, y, x)`` float32 (RSS of the fully sampled k-space).

Batches are stacks of equal-shape frames. Frames of different scans may differ in size, so the
published batch size 1 is the default; with a larger batch size the samplers of
:mod:`cardiomm.training.samplers` only group frames of equal shape (:func:`collate_samples` checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cardiomm.errors import ShapeError

__all__ = ["ReconSample", "ReconBatch", "collate_samples"]


@dataclass(frozen=True)
class ReconSample:
    """One retrospectively undersampled 2-D multi-coil frame.

    Attributes
    ----------
    masked_kspace
        ``(c, ky, kx)`` complex64, zero where not sampled.
    mask
        ``(1, ky, kx)`` bool.
    mask_type
        ``"uniform"``, ``"random"`` or ``"radial"`` (enters the undersampling prompt and the ACS rule).
    acceleration
        Nominal R (ACS not counted).
    n_acs
        ACS lines (Cartesian) or square side (radial).
    target
        ``(y, x)`` float32 RSS of the fully sampled k-space.
    max_value
        Max of the fully sampled RSS over the whole volume (SSIM ``data_range``).
    metadata_prompt
        Metadata prompt text (``"Adult cardiac MRI reconstruction.Vendor: ..."``).
    undersampling_prompt
        ``"Undersampling: 8x random."``.
    fname
        Scan identifier (relative path of the source file, or the shard's scan id).
    frame
        Frame index ``b = t * nz + z`` in its volume (t-major).
    index
        Position of the frame in its dataset (used by the samplers and the DDP test).
    """

    masked_kspace: torch.Tensor
    mask: torch.Tensor
    mask_type: str
    acceleration: int
    n_acs: int
    target: torch.Tensor
    max_value: float
    metadata_prompt: str
    undersampling_prompt: str
    fname: str
    frame: int
    index: int


@dataclass(frozen=True)
class ReconBatch:
    """A stack of :class:`ReconSample` of equal shape.

    Attributes
    ----------
    masked_kspace
        ``(b, c, ky, kx)`` complex64.
    mask
        ``(b, 1, ky, kx)`` bool.
    mask_type
        One family per sample.
    acceleration
        ``(b,)`` int64.
    n_acs
        ACS size (equal for the whole batch).
    target
        ``(b, y, x)`` float32.
    max_value
        ``(b,)`` float32.
    metadata_prompt, undersampling_prompt, fname
        One string per sample.
    frame, index
        ``(b,)`` int64.
    """

    masked_kspace: torch.Tensor
    mask: torch.Tensor
    mask_type: tuple[str, ...]
    acceleration: torch.Tensor
    n_acs: int
    target: torch.Tensor
    max_value: torch.Tensor
    metadata_prompt: tuple[str, ...]
    undersampling_prompt: tuple[str, ...]
    fname: tuple[str, ...]
    frame: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return int(self.masked_kspace.shape[0])

    def to(self, device: torch.device | str) -> ReconBatch:
        """Copy of the batch with its tensors on ``device`` (dtypes unchanged)."""
        return ReconBatch(
            masked_kspace=self.masked_kspace.to(device),
            mask=self.mask.to(device),
            mask_type=self.mask_type,
            acceleration=self.acceleration.to(device),
            n_acs=self.n_acs,
            target=self.target.to(device),
            max_value=self.max_value.to(device),
            metadata_prompt=self.metadata_prompt,
            undersampling_prompt=self.undersampling_prompt,
            fname=self.fname,
            frame=self.frame.to(device),
            index=self.index.to(device),
        )


def collate_samples(samples: Sequence[ReconSample]) -> ReconBatch:
    """``DataLoader`` collate function: stack equal-shape samples into a :class:`ReconBatch`.

    Raises
    ------
    ShapeError
        The samples differ in k-space shape or ACS size (use a shape-grouping batch sampler).
    """
    if not samples:
        raise ShapeError("cannot collate an empty batch")
    shapes = {tuple(s.masked_kspace.shape) for s in samples}
    if len(shapes) != 1:
        raise ShapeError(
            f"a batch mixes k-space shapes {sorted(shapes)}; "
            "use batch_size 1 or the shape-grouping batch sampler"
        )
    acs = {s.n_acs for s in samples}
    if len(acs) != 1:
        raise ShapeError(f"a batch mixes ACS sizes {sorted(acs)}")
    return ReconBatch(
        masked_kspace=torch.stack([s.masked_kspace for s in samples]),
        mask=torch.stack([s.mask for s in samples]),
        mask_type=tuple(s.mask_type for s in samples),
        acceleration=torch.tensor([s.acceleration for s in samples], dtype=torch.int64),
        n_acs=acs.pop(),
        target=torch.stack([s.target for s in samples]),
        max_value=torch.tensor([s.max_value for s in samples], dtype=torch.float32),
        metadata_prompt=tuple(s.metadata_prompt for s in samples),
        undersampling_prompt=tuple(s.undersampling_prompt for s in samples),
        fname=tuple(s.fname for s in samples),
        frame=torch.tensor([s.frame for s in samples], dtype=torch.int64),
        index=torch.tensor([s.index for s in samples], dtype=torch.int64),
    )
