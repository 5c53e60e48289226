"""Centred orthonormal 2-D Fourier transform as a linear operator (``FourierOp``)."""

from __future__ import annotations

import torch

from cardiomm.errors import ShapeError
from cardiomm.physics.fft import fft2c, ifft2c
from cardiomm.physics.operator import LinearOperator, physics_precision

__all__ = ["FourierOp"]


class FourierOp(LinearOperator):
    """Centred orthonormal FFT over the last two axes: image ``(..., y, x)`` -> k-space ``(..., ky, kx)``.

    Unitary, so the adjoint (:func:`~cardiomm.physics.fft.ifft2c`) is also the inverse. complex64 in and
    out (complex128 passes through).
    """

    @physics_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``fft2c(x)``: ``(..., y, x)`` image -> ``(..., ky, kx)`` k-space."""
        if x.ndim < 2:
            raise ShapeError(f"FourierOp input must be (..., y, x), got shape {tuple(x.shape)}")
        return fft2c(x)

    @physics_precision
    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``ifft2c(y)``: ``(..., ky, kx)`` k-space -> ``(..., y, x)`` image."""
        if y.ndim < 2:
            raise ShapeError(f"FourierOp input must be (..., ky, kx), got shape {tuple(y.shape)}")
        return ifft2c(y)
