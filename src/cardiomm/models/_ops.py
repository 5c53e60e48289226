"""Small complex-tensor helpers shared by the model modules."""

from __future__ import annotations

import torch

__all__ = ["rss"]


def rss(x: torch.Tensor, dim: int = 1, keepdim: bool = False, eps: float = 1e-15) -> torch.Tensor:
    """Root-sum-of-squares of complex ``x`` over ``dim``, float32.

    The sum of squares is floored at ``eps**2`` before the square root, so the gradient stays finite
    where every coil is exactly zero (the value there is ``eps`` instead of 0). Several times faster on
    CPU than ``torch.linalg.vector_norm`` for complex input.
    """
    s = x.abs().square().sum(dim=dim, keepdim=keepdim)
    return s.clamp_min(eps * eps).sqrt()
