"""Root-sum-of-squares (RSS) coil combination ``sqrt(sum_c |x_c|^2)``: the one implementation (torch, numpy).

It lives in ``utils`` so that every layer can call it, ``io`` included (``io`` must not import
``physics``); the public names are :func:`cardiomm.physics.rss` and :func:`cardiomm.physics.rss_np`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

__all__ = ["rss", "rss_np"]


def rss(x: torch.Tensor, dim: int = -3, *, keepdim: bool = False, eps: float | None = None) -> torch.Tensor:
    """Root-sum-of-squares ``sqrt(sum |x|^2)`` over ``dim``.

    Parameters
    ----------
    x
        Coil images, e.g. ``(b, c, y, x)`` (default ``dim=-3`` is the coil axis of ``(b, c, y, x)`` and of
        ``(c, y, x)``); complex or real.
    dim
        Axis to combine.
    keepdim
        Keep ``dim`` with size 1 (e.g. ``(b, 1, y, x)``, to normalise coil maps by broadcasting).
    eps
        ``None``: the exact norm (:func:`torch.linalg.vector_norm`; gradient 0 where every coil is 0).
        A number: ``sqrt(max(sum |x|^2, eps^2))`` from ``abs().square().sum()``, several times faster on
        CPU for complex input; with ``eps > 0`` the gradient stays finite where every coil is exactly 0
        (the value there is ``eps`` instead of 0), ``eps = 0`` is the plain formula.

    Returns
    -------
    torch.Tensor
        Magnitude with ``dim`` removed (kept with ``keepdim``), e.g. ``(b, y, x)``; float32 for
        complex64 / float32 input (float64 for complex128 / float64).
    """
    if eps is None:
        return torch.linalg.vector_norm(x, ord=2, dim=dim, keepdim=keepdim)
    sum_sq = x.abs().square().sum(dim=dim, keepdim=keepdim)
    return (sum_sq.clamp_min(eps * eps) if eps > 0 else sum_sq).sqrt()


def rss_np(x: NDArray[Any], axis: int = -3, *, keepdims: bool = False) -> NDArray[Any]:
    """Numpy twin of :func:`rss` (exact norm, no floor).

    Parameters
    ----------
    x
        Coil images, e.g. ``(c, y, x)`` or ``(b, c, y, x)``; complex or real.
    axis
        Axis to combine (default: the coil axis ``c`` of both).
    keepdims
        Keep ``axis`` with size 1.

    Returns
    -------
    numpy.ndarray
        Magnitude, float32 for complex64 / float32 input (float64 for complex128 / float64).
    """
    out = np.sqrt(np.sum(np.abs(x) ** 2, axis=axis, keepdims=keepdims))
    return out.astype(np.float32) if x.dtype in (np.complex64, np.float32) else out
