"""The common interface of every reconstruction method (CardioMM and the baselines).

A method receives one batch of undersampled 2-D multi-coil frames plus what it may condition on
(mask family, acceleration, ACS size, the two prompts) and returns magnitude images.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from cardiomm.errors import MaskError, ShapeError
from cardiomm.types import TrainMaskType

__all__ = ["ReconInput", "Reconstructor", "acs_block_sampled"]


@dataclass(frozen=True)
class ReconInput:
    """One batch of undersampled frames.

    Attributes
    ----------
    masked_kspace
        Measured k-space ``(b, c, ky, kx)``, complex64, zero where not sampled.
    mask
        Sampling mask ``(b, 1, ky, kx)``, bool.
    mask_type
        Mask family for the prompt and the ACS extraction: ``uniform``, ``random`` or ``radial``.
    acceleration
        Nominal acceleration R (the ACS is not counted).
    n_acs
        Size of the fully sampled calibration region (lines, or a square for radial).
    metadata_prompt, undersampling_prompt
        Text prompts (reference section 5); ignored by methods without text conditioning.
    """

    masked_kspace: torch.Tensor
    mask: torch.Tensor
    mask_type: TrainMaskType | str
    acceleration: int
    n_acs: int = 20
    metadata_prompt: str = ""
    undersampling_prompt: str = ""

    def __post_init__(self) -> None:
        k, m = self.masked_kspace, self.mask
        if k.ndim != 4 or not k.is_complex():
            raise ShapeError(f"masked_kspace must be complex (b, c, ky, kx), got {tuple(k.shape)} {k.dtype}")
        if (
            m.ndim != 4
            or m.shape[1] != 1
            or m.shape[0] not in (1, k.shape[0])
            or m.shape[-2:] != k.shape[-2:]
        ):
            raise MaskError(
                f"mask {tuple(m.shape)} does not fit k-space {tuple(k.shape)}; expected (b, 1, ky, kx)"
            )

    @property
    def batch_size(self) -> int:
        """Number of frames b."""
        return int(self.masked_kspace.shape[0])


def acs_block_sampled(mask: torch.Tensor, n_acs: int) -> bool:
    """Whether the central ``n_acs x n_acs`` block (start ``n // 2 - n_acs // 2``) is fully sampled.

    Every pattern of the protocol (ACS lines for Cartesian masks, an ACS square for radial ones) holds
    this block, which the SENSE/ESPIRiT calibration and the sensitivity network rely on.
    """
    n_ky, n_kx = mask.shape[-2:]
    if n_acs > min(n_ky, n_kx) or n_acs < 1:
        return False
    y0, x0 = n_ky // 2 - n_acs // 2, n_kx // 2 - n_acs // 2
    return bool(mask[..., y0 : y0 + n_acs, x0 : x0 + n_acs].all())


class Reconstructor(ABC):
    """A reconstruction method: undersampled multi-coil frames in, magnitude images out."""

    #: Short method name, as used by ``cardiomm reconstruct --method`` and in result tables.
    name: str = "base"
    #: Whether the method needs a fully sampled ACS block.
    needs_acs: bool = True

    def check(self, inp: ReconInput) -> None:
        """Validate the input (raises :class:`~cardiomm.errors.MaskError` if the ACS block is missing)."""
        if self.needs_acs and not acs_block_sampled(inp.mask, inp.n_acs):
            raise MaskError(
                f"the mask has no fully sampled {inp.n_acs}x{inp.n_acs} ACS block at the k-space centre, "
                f"which method '{self.name}' needs"
            )

    @abstractmethod
    def reconstruct(self, inp: ReconInput) -> torch.Tensor:
        """Reconstruct magnitude images ``(b, y, x)``, float32, from ``inp``."""

    def __call__(self, inp: ReconInput) -> torch.Tensor:
        self.check(inp)
        with torch.inference_mode():
            out = self.reconstruct(inp)
        return out.float()
