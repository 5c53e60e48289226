"""Batched conjugate gradient for Hermitian positive (semi-)definite operators on complex tensors."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["conjugate_gradient", "CONVERGED_RR"]

#: A batch element whose squared residual falls below ``CONVERGED_RR * ||rhs||^2`` (a relative residual
#: of 1e-6, the float32 rounding floor) stops updating: further steps would divide rounding noise by
#: rounding noise, and their gradients (an unrolled CG is differentiated through, e.g. by a trained
#: data-consistency layer) overflow to inf / NaN.
CONVERGED_RR = 1e-12


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-batch-element inner product ``<a, b> = sum conj(a) b`` over all axes but the first -> ``(b,)``."""
    return (a.conj() * b).flatten(1).sum(dim=1)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape((-1,) + (1,) * (like.ndim - 1))


def conjugate_gradient(
    operator: Callable[[torch.Tensor], torch.Tensor],
    rhs: torch.Tensor,
    x0: torch.Tensor | None = None,
    *,
    n_iter: int = 30,
    tol: float = 0.0,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Solve ``operator(x) = rhs`` by conjugate gradients, independently for each batch element.

    Parameters
    ----------
    operator
        Hermitian positive (semi-)definite linear map, e.g. ``(A^H A + lam I)``; maps ``(b, ...)`` to the
        same shape and acts independently on each batch element.
    rhs
        Right-hand side ``(b, ...)``, complex64.
    x0
        Initial guess, same shape as ``rhs``; zeros if None.
    n_iter
        Maximum number of iterations.
    tol
        Stop early once every batch element has ``||r|| <= tol * ||rhs||`` (0 = run all iterations).
    callback
        Called after each iteration as ``callback(iteration, x, residual_norm)`` with the residual norm
        ``||rhs - operator(x)||`` per batch element, shape ``(b,)`` float.

    Returns
    -------
    torch.Tensor
        Solution ``x`` ``(b, ...)``, same dtype as ``rhs``. Differentiable (no in-place updates).

    Notes
    -----
    Batch elements whose residual falls to the rounding floor (:data:`CONVERGED_RR`) or whose curvature
    ``<p, A p>`` reaches zero stop updating (no division by zero, finite gradients); inner products are
    accumulated in the input precision.
    """
    x = torch.zeros_like(rhs) if x0 is None else x0
    r = rhs - operator(x) if x0 is not None else rhs
    p = r
    rr = _dot(r, r).real
    rhs_norm2 = _dot(rhs, rhs).real
    stop = tol * torch.sqrt(rhs_norm2)
    converged = CONVERGED_RR * rhs_norm2.detach()
    for it in range(n_iter):
        ap = operator(p)
        pap = _dot(p, ap).real
        live = (rr > converged) & (pap > 0)  # a converged element stops: no update, no gradient
        alpha = torch.where(live, rr / torch.where(live, pap, 1.0), 0.0)
        x = x + _bcast(alpha, x) * p
        r = r - _bcast(alpha, r) * ap
        rr_new = _dot(r, r).real
        beta = torch.where(live, rr_new / torch.where(live, rr, 1.0), 0.0)
        p = r + _bcast(beta, p) * p
        rr = rr_new
        res = torch.sqrt(rr)
        if callback is not None:
            callback(it, x, res)
        if tol > 0 and bool((res <= stop).all()):
            break
    return x
