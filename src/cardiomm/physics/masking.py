"""Sampling mask as a linear operator (``MaskOp``): zero the unsampled k-space locations."""

from __future__ import annotations

import torch

from cardiomm.physics._checks import check_mask_fits, check_ndim, mask_4d
from cardiomm.physics.operator import LinearOperator, physics_precision

__all__ = ["MaskOp"]


class MaskOp(LinearOperator):
    """Multiply k-space ``(b, c, ky, kx)`` by a boolean sampling mask; self-adjoint (``.H is self``).

    Parameters
    ----------
    mask
        Sampling mask ``(b | 1, 1, ky | 1, kx | 1)`` (also ``(ky, kx)``), ``torch.bool`` (0/1 integer or
        float masks are converted); True = sampled. It broadcasts over coils and must not enlarge the
        k-space it is applied to.
    """

    self_adjoint = True
    mask: torch.Tensor  # non-persistent buffer

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask_4d(mask), persistent=False)

    @physics_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``mask * x``: k-space ``(b, c, ky, kx)`` -> masked k-space, same shape."""
        check_ndim(x, 4, "k-space", "(b, c, ky, kx)")
        check_mask_fits(self.mask, tuple(x.shape))
        return x * self.mask

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward` (a real diagonal operator is self-adjoint)."""
        return self.forward(y)
