"""Private shape and dtype checks shared by the physics modules (raise typed cardiomm errors)."""

from __future__ import annotations

import torch

from cardiomm.errors import DataValueError, ShapeError

__all__ = ["check_ndim", "as_bool_mask", "mask_4d", "check_mask_fits"]


def check_ndim(x: torch.Tensor, ndim: int, name: str, dims: str) -> None:
    """Raise :class:`ShapeError` unless ``x.ndim == ndim``; ``dims`` names the expected axes."""
    if x.ndim != ndim:
        raise ShapeError(f"{name} must be {dims} ({ndim}-D), got shape {tuple(x.shape)}")


def as_bool_mask(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Return ``mask`` as bool; integer/float masks must hold only 0 and 1 (else DataValueError)."""
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
        raise DataValueError(f"{name} must be boolean (or 0/1 values), got dtype {mask.dtype}")
    return mask != 0


def mask_4d(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Return ``mask`` as a bool ``(b | 1, 1, ky | 1, kx | 1)`` tensor.

    ``(ky, kx)`` and ``(1, ky, kx)`` masks get leading singleton axes; other shapes raise ShapeError.
    """
    mask = as_bool_mask(mask, name)
    bad = (mask.ndim == 3 and mask.shape[0] != 1) or (mask.ndim == 4 and mask.shape[1] != 1)
    if not 2 <= mask.ndim <= 4 or bad:
        raise ShapeError(f"{name} must be (b, 1, ky, kx) or (ky, kx), got shape {tuple(mask.shape)}")
    return mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape))


def check_mask_fits(mask: torch.Tensor, shape: tuple[int, ...], name: str = "mask") -> None:
    """Raise ShapeError unless a 4-D ``mask`` broadcasts to k-space ``shape`` = (b, c, ky, kx) unchanged."""
    b, _, ky, kx = shape
    mb, _, mky, mkx = mask.shape
    if mb not in (1, b) or mky not in (1, ky) or mkx not in (1, kx):
        raise ShapeError(
            f"{name} of shape {tuple(mask.shape)} does not fit k-space {tuple(shape)} (b, c, ky, kx); "
            "expected (b | 1, 1, ky | 1, kx | 1)"
        )
