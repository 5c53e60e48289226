"""Centred orthonormal 2-D FFTs over the last two axes (fastMRI convention).

``fft2c(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` over ``(-2, -1)``. The transform is unitary,
so ``ifft2c`` is its adjoint and its inverse. Both torch (complex64) and numpy versions are provided;
they agree to float32 precision.

For even ``(y, x)`` sizes the torch versions avoid the two ``roll`` copies: with the checkerboard
``s[n] = (-1)^(ny + nx)``, ``fftshift(fft2(ifftshift(x))) = (-1)^(Ny/2 + Nx/2) s * fft2(s * x)`` (and the
same for ``ifft2``), i.e. one input multiply and one in-place output multiply (about 1.6x faster on CPU
for 10 x 246 x 512). Odd sizes use the shift formula.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

__all__ = ["centring_checkerboard", "fft2c", "ifft2c", "fft2c_np", "ifft2c_np"]

_DIMS = (-2, -1)


@lru_cache(maxsize=32)
def _checkerboards(ny: int, nx: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, output) sign patterns ``(ny, nx)`` float32 for the even-size centred FFT.

    Built outside inference mode, so that a first call under ``torch.inference_mode()`` does not cache
    inference tensors that later autograd calls could not save for backward.
    """
    with torch.inference_mode(False), torch.no_grad():
        iy = torch.arange(ny, device=device)
        ix = torch.arange(nx, device=device)
        parity = (iy[:, None] + ix[None, :]) % 2
        s_in = (1 - 2 * parity).to(torch.float32)
        s_out = s_in if (ny // 2 + nx // 2) % 2 == 0 else -s_in  # inside too: a normal tensor
    return s_in, s_out


def centring_checkerboard(ny: int, nx: int, device: torch.device) -> torch.Tensor | None:
    """The sign pattern ``s = (-1)^(iy + ix)`` ``(ny, nx)`` float32 of the even-size centred FFT, or None
    for odd sizes: ``ifft2c(M fft2c(v)) = s ifft2(M fft2(s v))`` (the output signs cancel), so an
    operator that runs ``F^H M F`` many times can fold ``s`` into its own factors once
    (:meth:`cardiomm.physics.sense.SenseOp.normal`)."""
    if ny % 2 or nx % 2:
        return None
    return _checkerboards(ny, nx, torch.device(device))[0]


def _centred(x: torch.Tensor, transform: Callable[..., torch.Tensor]) -> torch.Tensor | None:
    """Even-size centred transform by checkerboard modulation, or None for odd sizes."""
    ny, nx = x.shape[-2], x.shape[-1]
    if ny % 2 or nx % 2:
        return None
    s_in, s_out = _checkerboards(ny, nx, x.device)
    out = transform(x * s_in, dim=_DIMS, norm="ortho")
    return out.mul_(s_out)


def fft2c(img: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal forward FFT of ``img`` (..., y, x) -> k-space (..., ky, kx), complex."""
    out = _centred(img, torch.fft.fft2)
    if out is not None:
        return out
    x = torch.fft.ifftshift(img, dim=_DIMS)
    x = torch.fft.fft2(x, dim=_DIMS, norm="ortho")
    return torch.fft.fftshift(x, dim=_DIMS)


def ifft2c(kspace: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal inverse FFT of ``kspace`` (..., ky, kx) -> image (..., y, x), complex."""
    out = _centred(kspace, torch.fft.ifft2)
    if out is not None:
        return out
    x = torch.fft.ifftshift(kspace, dim=_DIMS)
    x = torch.fft.ifft2(x, dim=_DIMS, norm="ortho")
    return torch.fft.fftshift(x, dim=_DIMS)


def fft2c_np(img: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`fft2c` (keeps complex64 for complex64 input)."""
    out = np.fft.fft2(np.fft.ifftshift(img, axes=_DIMS), axes=_DIMS, norm="ortho")
    out = np.fft.fftshift(out, axes=_DIMS)
    return out.astype(np.complex64) if img.dtype in (np.complex64, np.float32) else out


def ifft2c_np(kspace: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`ifft2c` (keeps complex64 for complex64 input)."""
    out = np.fft.ifft2(np.fft.ifftshift(kspace, axes=_DIMS), axes=_DIMS, norm="ortho")
    out = np.fft.fftshift(out, axes=_DIMS)
    return out.astype(np.complex64) if kspace.dtype in (np.complex64, np.float32) else out
