"""SENSE data consistency of a network's final k-space: the proximal step of unrolled networks (MoDL).

::

    x_net = sum_c conj(S_c) ifft2c(k_net)_c
    x     = argmin_x ||M F S x - y||^2 + lam ||x - x_net||^2      (conjugate gradients from x_net)

``S`` are the network's own coil maps (unit root-sum-of-squares), ``M`` the sampling mask and ``y`` the
measured k-space (Aggarwal, Mani, Jacob, IEEE TMI 2019). :func:`sense_proximal` is the step with a given
``lam``; :class:`OutputDC` is the trained layer (``ModelConfig.output_dc = "sense"``): ``lam`` is learned
end to end through a fixed number of CG iterations, the same number at training and inference.
"""

from __future__ import annotations

import torch
from torch import nn

from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import fft2c, ifft2c
from cardiomm.physics.sense import cg_sense

__all__ = ["OUTPUT_DC_LAM_INIT", "OutputDC", "sense_proximal"]

#: Initial ``lam`` of :class:`OutputDC` (between the inference option's 0.03 and the smoother 0.1).
OUTPUT_DC_LAM_INIT = 0.05


def sense_proximal(
    kspace: torch.Tensor,
    mask: torch.Tensor,
    k_net: torch.Tensor,
    csm: torch.Tensor,
    lam: float | torch.Tensor,
    n_iter: int,
) -> torch.Tensor:
    """SENSE data consistency of a network output: ``argmin_x ||M F S x - y||^2 + lam ||x - x_net||^2``.

    Parameters
    ----------
    kspace
        Measured k-space ``y`` ``(b, c, ky, kx)`` complex64 (zero where not sampled).
    mask
        Sampling mask ``M`` ``(b, 1, ky, kx)`` bool.
    k_net
        The network's final multi-coil k-space ``(b, c, ky, kx)`` complex64.
    csm
        Coil maps ``S`` ``(b, c, y, x)`` complex64; normalised here to unit root-sum-of-squares.
    lam
        Weight of the network image (>= 0; a tensor keeps it differentiable).
    n_iter
        Conjugate-gradient iterations, warm-started at ``x_net``.

    Returns
    -------
    torch.Tensor
        Complex image ``(b, y, x)`` complex64; ``x_net`` itself when ``n_iter == 0``. Differentiable in
        every input.
    """
    csm = csm / rss(csm, dim=1, keepdim=True, eps=1e-12)
    x_net = (csm.conj() * ifft2c(k_net)).sum(dim=1)
    if n_iter == 0:
        return x_net
    return cg_sense(kspace, mask, csm, lam=lam, n_iter=n_iter, x0=x_net, prior=x_net)


class OutputDC(nn.Module):
    """Trained SENSE data consistency of the output: :func:`sense_proximal` with a learned ``lam``.

    Parameters
    ----------
    n_iter
        CG iterations (also the implicit regulariser: with few iterations a small ``lam`` does not reach
        the exact solution).
    lam_init
        Initial weight; the parameter ``lam`` is used as ``|lam|``.
    """

    def __init__(self, n_iter: int = 10, lam_init: float = OUTPUT_DC_LAM_INIT) -> None:
        super().__init__()
        self.n_iter = n_iter
        self.lam = nn.Parameter(torch.tensor([lam_init]))

    def image(
        self, kspace: torch.Tensor, mask: torch.Tensor, k_net: torch.Tensor, csm: torch.Tensor
    ) -> torch.Tensor:
        """Complex image ``(b, y, x)`` complex64; arguments as :func:`sense_proximal` (float32 inside)."""
        with torch.autocast(device_type=kspace.device.type, enabled=False):
            return sense_proximal(
                kspace.to(torch.complex64),
                mask,
                k_net.to(torch.complex64),
                csm.to(torch.complex64),
                self.lam.float().abs().squeeze(),
                self.n_iter,
            )

    def forward(
        self, kspace: torch.Tensor, mask: torch.Tensor, k_net: torch.Tensor, csm: torch.Tensor
    ) -> torch.Tensor:
        """Magnitude image ``(b, y, x)`` float32: ``|image(...)|``."""
        return self.image(kspace, mask, k_net, csm).abs()

    def kspace(
        self, kspace: torch.Tensor, mask: torch.Tensor, k_net: torch.Tensor, csm: torch.Tensor
    ) -> torch.Tensor:
        """Multi-coil k-space of the output ``F S x`` ``(b, c, ky, kx)`` complex64 (unit-RSS maps ``S``),
        whose root-sum-of-squares image is :meth:`forward`'s magnitude: what self-supervised adaptation
        compares with withheld samples, so that it trains through this layer."""
        x = self.image(kspace, mask, k_net, csm)
        csm = csm.to(torch.complex64)
        return fft2c(csm / rss(csm, dim=1, keepdim=True, eps=1e-12) * x.unsqueeze(1))
