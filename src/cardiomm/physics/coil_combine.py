"""Coil combination: root-sum-of-squares and sensitivity-weighted (SENSE / Roemer) combination."""

from __future__ import annotations

import numpy as np
import torch

from cardiomm.errors import ShapeError
from cardiomm.physics._checks import check_ndim

__all__ = ["rss", "rss_np", "sense_combine"]


def rss(x: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Root-sum-of-squares ``sqrt(sum |x|^2)`` over ``dim``.

    Parameters
    ----------
    x
        Coil images, e.g. ``(b, c, y, x)`` (default ``dim=-3`` is the coil axis of ``(b, c, y, x)`` and of
        ``(c, y, x)``); complex or real.
    dim
        Axis to combine.

    Returns
    -------
    torch.Tensor
        Magnitude with ``dim`` removed, e.g. ``(b, y, x)``; float32 for complex64 / float32 input
        (float64 for complex128 / float64).
    """
    return torch.linalg.vector_norm(x, ord=2, dim=dim)


def rss_np(x: np.ndarray, axis: int = -3) -> np.ndarray:
    """Numpy twin of :func:`rss` (float32 for complex64 / float32 input)."""
    out = np.sqrt(np.sum(np.abs(x) ** 2, axis=axis))
    return out.astype(np.float32) if x.dtype in (np.complex64, np.float32) else out


def sense_combine(coil_imgs: torch.Tensor, csm: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Sensitivity-weighted combination ``sum_c conj(S_c) x_c / sum_c |S_c|^2``.

    The optimal (Roemer) combination for white, uncorrelated coil noise. Where ``sum_c |S_c|^2 <= eps``
    (e.g. outside ESPIRiT's crop) the output is 0. For unit-norm maps this is ``SensitivityOp.adjoint``.

    Parameters
    ----------
    coil_imgs
        Coil images ``(b, c, y, x)``, complex64.
    csm
        Coil sensitivity maps ``(b | 1, c, y, x)``, complex64.
    eps
        Threshold on ``sum_c |S_c|^2`` (same units as ``|S|^2``).

    Returns
    -------
    torch.Tensor
        Complex image ``(b, y, x)``.
    """
    check_ndim(coil_imgs, 4, "coil_imgs", "(b, c, y, x)")
    check_ndim(csm, 4, "csm", "(b, c, y, x)")
    if csm.shape[-3:] != coil_imgs.shape[-3:] or csm.shape[0] not in (1, coil_imgs.shape[0]):
        raise ShapeError(
            f"csm {tuple(csm.shape)} does not match coil_imgs {tuple(coil_imgs.shape)} (b, c, y, x)"
        )
    num = (csm.conj() * coil_imgs).sum(dim=-3)
    den = (csm.abs() ** 2).sum(dim=-3)
    ok = den > eps
    return torch.where(ok, num / torch.where(ok, den, 1.0), 0.0)
