"""Coil combination: root-sum-of-squares and sensitivity-weighted (SENSE / Roemer) combination.

:func:`rss` / :func:`rss_np` are implemented once, in :mod:`cardiomm.utils.rss` (where ``io`` can use
them too), and exported from here.
"""

from __future__ import annotations

import torch

from cardiomm.errors import ShapeError
from cardiomm.physics._checks import check_ndim
from cardiomm.utils.rss import rss, rss_np

__all__ = ["rss", "rss_np", "sense_combine"]


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
