"""Centred orthonormal 2-D FFTs over the last two axes (fastMRI convention).

``fft2c(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` over ``(-2, -1)``. The transform is unitary,
so ``ifft2c`` is its adjoint and its inverse. Both torch (complex64) and numpy versions are provided;
they agree to float32 precision.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["fft2c", "ifft2c", "fft2c_np", "ifft2c_np"]

_DIMS = (-2, -1)


def fft2c(img: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal forward FFT of ``img`` (..., y, x) -> k-space (..., ky, kx), complex."""
    x = torch.fft.ifftshift(img, dim=_DIMS)
    x = torch.fft.fft2(x, dim=_DIMS, norm="ortho")
    return torch.fft.fftshift(x, dim=_DIMS)


def ifft2c(kspace: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal inverse FFT of ``kspace`` (..., ky, kx) -> image (..., y, x), complex."""
    x = torch.fft.ifftshift(kspace, dim=_DIMS)
    x = torch.fft.ifft2(x, dim=_DIMS, norm="ortho")
    return torch.fft.fftshift(x, dim=_DIMS)


def fft2c_np(img: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`fft2c` (keeps complex64 for complex64 input)."""
    out = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img, axes=_DIMS), axes=_DIMS, norm="ortho"), axes=_DIMS)
    return out.astype(np.complex64) if img.dtype in (np.complex64, np.float32) else out


def ifft2c_np(kspace: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`ifft2c` (keeps complex64 for complex64 input)."""
    out = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=_DIMS), axes=_DIMS, norm="ortho"), axes=_DIMS)
    return out.astype(np.complex64) if kspace.dtype in (np.complex64, np.float32) else out
