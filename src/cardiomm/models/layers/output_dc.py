"""SENSE data consistency of a network's final k-space: the proximal step of unrolled networks (MoDL).

::

    x_net = sum_c conj(S_c) ifft2c(k_net)_c
    x     = argmin_x ||M F S x - y||^2 + lam ||x - x_net||^2      (conjugate gradients from x_net)

``S`` are the network's own coil maps (unit root-sum-of-squares), ``M`` the sampling mask and ``y`` the
measured k-space (Aggarwal, Mani, Jacob, IEEE TMI 2019). :func:`sense_proximal` is the step with a given
``lam``; :class:`OutputDC` is the trained layer (``ModelConfig.output_dc = "sense"``): ``lam`` is learned
end to end through a fixed number of CG iterations, the same number at training and inference. With
``output_dc = "sense-mask"`` the weight depends on the sampling mask of each frame (:func:`mask_features`):
``lam = |lam_0| exp(LAM_GAIN w . phi(M))``, ``w`` learned too. Why: the best weight is not one number. On
the real-anatomy validation split the stage-7 CardioMM (trained at one ``lam = 0.20``) gains 1.2 dB PSNR
and 0.011 SSIM at ktRadial 8x with ``lam = 0.01`` instead, 0.6 dB PSNR at Uniform 8x (SSIM -0.014),
nothing at ktGaussian 16x: where many samples reach the periphery, the measurement is worth more than the
network's estimate of it. With ``output_dc = "sense-noise"`` the weight follows the noise each frame
shows (:func:`noise_ratio`): ``lam = |lam_0| rho / RHO_REF``, the Wiener rule (the weight of a prior
grows with the variance of the measurement noise). On the validation files of both worlds (stage 10,
``docs/models.md``) the best weight per file and mask grows as ``rho^1.06`` over a 100x range of ``rho``.
A lower bound (``ModelConfig.output_dc_floor``) keeps the weight of a frame with little measured noise
from falling so low that the noise it does carry passes through (stage 11 at ktRadial 16x / 24x).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cardiomm.errors import ConfigError
from cardiomm.models.config import check_output_dc_floor
from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import fft2c, ifft2c
from cardiomm.physics.sense import cg_sense

__all__ = [
    "LAM_GAIN",
    "OUTPUT_DC_LAM_INIT",
    "RHO_REF",
    "OutputDC",
    "make_output_dc",
    "mask_features",
    "noise_ratio",
    "sense_proximal",
]

#: Initial ``lam`` of :class:`OutputDC` (between the inference option's 0.03 and the smoother 0.1).
OUTPUT_DC_LAM_INIT = 0.05

#: Gain of the mask weights ``w`` in ``lam = |lam_0| exp(LAM_GAIN w . phi)``: a learning-rate multiplier,
#: so that Adam's steps of ~lr move ``log lam`` by ~10 lr (a fine-tuning stage of ~2,000 steps at lr 1e-4
#: can then move it by ~2, a factor 7 in ``lam``).
LAM_GAIN = 10.0

#: Fraction of k-space sampled at which the first feature of :func:`mask_features` is zero (8x).
_REFERENCE_FRACTION = 0.125

#: Noise ratio (:func:`noise_ratio`) at which a noise-scaled layer's weight is ``|lam_0|``: the middle
#: of the simulator's validation files (0.010-0.030; real-anatomy stacks 0.0003-0.0086).
RHO_REF = 0.014

#: :func:`noise_ratio` is clamped to this range (a frame without usable outer samples gets ``RHO_REF``).
_RHO_RANGE = (1e-4, 0.1)


def noise_ratio(kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Noise power per acquired sample over the mean power of the acquired samples, per frame.

    The noise power is estimated from the acquired samples in the outer eighths of the readout (the
    highest ``kx`` on both sides, where an MR image holds little signal): for complex Gaussian noise
    ``|y|^2`` is exponential with mean ``sigma^2``, so ``sigma^2 = median(|y|^2) / ln 2`` (robust to the
    few samples that still carry signal). Exact zeros are not measurements (an asymmetric echo, a
    zero-padded readout) and are left out of both the median and the mean. Scale-free: the k-space may
    be in any units.

    Parameters
    ----------
    kspace
        Measured k-space ``(b, c, ky, kx)`` complex (zero where not sampled).
    mask
        ``(b | 1, 1, ky | 1, kx | 1)`` bool.

    Returns
    -------
    torch.Tensor
        ``(b,)`` float32 in ``[1e-4, 0.1]``; ``RHO_REF`` for a frame without acquired non-zero samples in
        the outer readout eighths.
    """
    with torch.no_grad():
        k = kspace.detach().to(torch.complex64)
        # |y|^2 of the acquired samples, 0 elsewhere (exact zeros are not measurements)
        power = torch.where(mask.to(torch.bool), k.real.square() + k.imag.square(), 0.0)
        power = power.flatten(1, -2)  # (b, c * ky, kx)
        band = max(1, k.shape[-1] // 8)
        outer = torch.cat([power[..., :band], power[..., -band:]], dim=-1).flatten(1)
        sigma2 = torch.nanmedian(outer.masked_fill(outer == 0, float("nan")), dim=1).values / math.log(2.0)
        flat = power.flatten(1)
        mean = flat.sum(dim=1) / torch.count_nonzero(flat, dim=1).clamp_min(1)
        rho = sigma2 / mean.clamp_min(torch.finfo(torch.float32).tiny)
        usable = torch.count_nonzero(outer, dim=1).gt(0) & torch.isfinite(rho)
        rho = torch.where(usable, rho, torch.full_like(rho, RHO_REF))
        return rho.clamp(*_RHO_RANGE)


def mask_features(mask: torch.Tensor) -> torch.Tensor:
    """Two features of each frame's sampling mask, on which the output layer's weight depends.

    ``phi_0 = log(f / 0.125)``: ``f`` the sampled fraction of the k-space grid (0 at 8x, -1.1 at 24x).
    ``phi_1``: the fraction of the sampled points that lie on fully sampled lines (along either axis),
    minus 1/2: +1/2 for Cartesian line sampling (uniform, Gaussian), about -1/2 for 2-D patterns
    (radial, Poisson disc). Both need only the mask, so every model and every scanner's mask has them.

    Parameters
    ----------
    mask
        ``(b, 1, ky, kx)`` bool, or a line mask broadcast over one axis (``(b, 1, 1, kx)``).

    Returns
    -------
    torch.Tensor
        ``(b, 2)`` float32.
    """
    m = mask.to(torch.bool)
    n_y, n_x = m.shape[-2], m.shape[-1]  # a broadcast line mask has the fraction of its line
    count = m.flatten(1).sum(dim=1).float().clamp_min(1.0)
    full_rows = m.all(dim=-1, keepdim=True) & m  # points on fully sampled rows (along x)
    full_cols = m.all(dim=-2, keepdim=True) & m  # along y
    on_lines = torch.maximum(full_rows.flatten(1).sum(dim=1), full_cols.flatten(1).sum(dim=1)).float()
    fraction = count / float(n_y * n_x)
    return torch.stack([torch.log(fraction.clamp_min(1e-6) / _REFERENCE_FRACTION), on_lines / count - 0.5], 1)


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
    mask_dependent
        Scale the weight per frame by ``exp(LAM_GAIN w . mask_features(M))`` with the learned ``w``
        (parameter ``lam_weights``, initialised to zero: the layer starts as the fixed-weight one).
    noise_scaled
        Scale the weight per frame by ``noise_ratio(y, M) / RHO_REF`` (no extra parameter: a checkpoint
        of the fixed-weight layer loads as it is).
    floor
        Lower bound of each frame's weight (``>= 0``; 0 = none), applied after the mask or noise
        scaling and before the training jitter. Not a parameter: any checkpoint of the layer loads.

    Attributes
    ----------
    lam_jitter
        Training only (a training option, not part of the network config; 0 = off): in training mode
        each frame's weight is multiplied by ``exp(lam_jitter u)``, ``u`` uniform in ``[-1, 1]``, so the
        network cannot lean on one exact weight (with a fixed weight the stage-7 cascades learned to
        hand the layer an image that only that weight turns into a good one, ``docs/models.md``).
    """

    def __init__(
        self,
        n_iter: int = 10,
        lam_init: float = OUTPUT_DC_LAM_INIT,
        *,
        mask_dependent: bool = False,
        noise_scaled: bool = False,
        floor: float = 0.0,
    ) -> None:
        super().__init__()
        if mask_dependent and noise_scaled:
            raise ConfigError("the output layer's weight is mask-dependent or noise-scaled, not both")
        check_output_dc_floor(floor, "output layer")
        self.n_iter = n_iter
        self.floor = float(floor)
        self.lam = nn.Parameter(torch.tensor([lam_init]))
        self.lam_weights = nn.Parameter(torch.zeros(2)) if mask_dependent else None
        self.noise_scaled = noise_scaled
        self.lam_jitter = 0.0

    def weight(self, mask: torch.Tensor, kspace: torch.Tensor | None = None) -> torch.Tensor:
        """The weight ``lam`` of each frame, ``(b,)`` float32 (``mask`` ``(b, 1, ky, kx)``; ``kspace``
        the measured ``(b, c, ky, kx)``, needed by a noise-scaled layer), at least ``floor``; with
        ``lam_jitter`` in training mode, randomly scaled per frame."""
        lam = self.lam.float().abs().reshape(1).expand(mask.shape[0])
        if self.lam_weights is not None:
            phi = mask_features(mask).to(self.lam_weights.device)
            lam = lam * torch.exp(LAM_GAIN * (phi @ self.lam_weights.float()))
        if self.noise_scaled:
            if kspace is None:
                raise ConfigError("a noise-scaled output layer needs the measured k-space")
            lam = lam * (noise_ratio(kspace, mask).to(lam.device) / RHO_REF)
        if self.floor > 0:
            lam = lam.clamp_min(self.floor)
        if self.training and self.lam_jitter > 0:
            u = torch.rand(mask.shape[0], device=lam.device) * 2.0 - 1.0
            lam = lam * torch.exp(self.lam_jitter * u)
        return lam

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
                self.weight(mask, kspace),
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


def make_output_dc(mode: str, n_iter: int, floor: float = 0.0) -> OutputDC | None:
    """The output layer of a network config's ``output_dc`` mode (``"none"``: no layer) with the weight
    floor ``floor`` (``output_dc_floor``)."""
    if mode == "none":
        return None
    return OutputDC(
        n_iter, mask_dependent=mode == "sense-mask", noise_scaled=mode == "sense-noise", floor=floor
    )
