"""Training losses: the fastMRI / CardioMM SSIM loss and L1 (reference section 8.1).

``SSIMLoss`` follows fastMRI's ``SSIMLoss`` exactly (the loss of the published CardioMM trainer):

- 7 x 7 **uniform** window, ``k1 = 0.01``, ``k2 = 0.03``;
- sample covariance (``cov_norm = N / (N - 1)`` with ``N = 49``), as ``skimage``'s default
  ``use_sample_covariance=True``;
- "valid" convolution, i.e. the SSIM map without the 3-pixel border, which equals skimage's cropped
  mean;
- ``data_range`` per sample: the **volume max** of the fully sampled RSS (``attrs['max']``), not the
  frame max and not the evaluation's percentile scale;
- returns ``1 - mean SSIM`` (mean over the valid map of each frame, then over the batch).

Why not a library: ``pytorch_msssim.ssim`` uses a Gaussian window (``win_sigma``) and one scalar
``data_range``; ``torchmetrics``' SSIM can use a uniform kernel but takes one scalar ``data_range`` per
call and uses population (not sample) variances. Neither matches the published loss exactly; this
module is tested against ``skimage.metrics.structural_similarity`` to 1e-4.

The loss always runs in float32 with autocast disabled (under bf16 autocast the small differences of
window means would otherwise lose precision).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cardiomm.errors import ConfigError, ShapeError, UnknownChoiceError

__all__ = ["SSIMLoss", "L1Loss", "MixedLoss", "ssim_map", "make_loss", "LOSSES"]

#: Names accepted by :func:`make_loss`.
LOSSES: tuple[str, ...] = ("ssim", "l1", "ssim+l1")


def _as_4d(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] == 1:
        return x
    raise ShapeError(f"{name} must be (b, y, x) or (b, 1, y, x), got {tuple(x.shape)}")


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: torch.Tensor,
    *,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """SSIM map (valid region) of ``pred`` against ``target``.

    Parameters
    ----------
    pred, target
        Magnitude images ``(b, y, x)`` or ``(b, 1, y, x)``, same shape; ``y, x >= win_size``.
    data_range
        ``(b,)`` (or a scalar) dynamic range per sample, same units as the images.
    win_size
        Side of the uniform window (odd).
    k1, k2
        SSIM stabilisation constants.

    Returns
    -------
    torch.Tensor
        ``(b, 1, y - win_size + 1, x - win_size + 1)`` float32 SSIM values.
    """
    x = _as_4d(pred, "pred").float()
    y = _as_4d(target, "target").float()
    if x.shape != y.shape:
        raise ShapeError(f"pred {tuple(x.shape)} and target {tuple(y.shape)} differ in shape")
    if min(x.shape[-2:]) < win_size:
        raise ShapeError(f"images of {tuple(x.shape[-2:])} are smaller than the {win_size}x{win_size} window")
    dr = torch.as_tensor(data_range, dtype=torch.float32, device=x.device).reshape(-1, 1, 1, 1)
    with torch.autocast(device_type=x.device.type, enabled=False):
        w = torch.full((1, 1, win_size, win_size), 1.0 / win_size**2, dtype=torch.float32, device=x.device)
        n = win_size**2
        cov_norm = n / (n - 1)
        ux, uy = F.conv2d(x, w), F.conv2d(y, w)
        uxx, uyy, uxy = F.conv2d(x * x, w), F.conv2d(y * y, w), F.conv2d(x * y, w)
        vx = cov_norm * (uxx - ux * ux)
        vy = cov_norm * (uyy - uy * uy)
        vxy = cov_norm * (uxy - ux * uy)
        c1 = (k1 * dr) ** 2
        c2 = (k2 * dr) ** 2
        a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
        b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
        return (a1 * a2) / (b1 * b2)


class SSIMLoss(nn.Module):
    """``1 - mean SSIM`` with fastMRI semantics (see the module docstring).

    Parameters
    ----------
    win_size
        Uniform window side (7).
    k1, k2
        SSIM constants (0.01, 0.03).
    """

    def __init__(self, win_size: int = 7, k1: float = 0.01, k2: float = 0.03) -> None:
        super().__init__()
        self.win_size, self.k1, self.k2 = win_size, k1, k2

    def forward(self, pred: torch.Tensor, target: torch.Tensor, data_range: torch.Tensor) -> torch.Tensor:
        """``pred``, ``target`` ``(b, y, x)``; ``data_range`` ``(b,)`` -> scalar loss (float32)."""
        s = ssim_map(pred, target, data_range, win_size=self.win_size, k1=self.k1, k2=self.k2)
        return 1.0 - s.flatten(1).mean(dim=1).mean()


class L1Loss(nn.Module):
    """Mean absolute error divided by ``data_range`` per sample (scale-free, like the SSIM loss)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, data_range: torch.Tensor) -> torch.Tensor:
        """``pred``, ``target`` ``(b, y, x)``; ``data_range`` ``(b,)`` -> scalar loss (float32)."""
        x, y = _as_4d(pred, "pred").float(), _as_4d(target, "target").float()
        if x.shape != y.shape:
            raise ShapeError(f"pred {tuple(x.shape)} and target {tuple(y.shape)} differ in shape")
        dr = torch.as_tensor(data_range, dtype=torch.float32, device=x.device).reshape(-1)
        per = (x - y).abs().flatten(1).mean(dim=1) / dr.clamp_min(1e-12)
        return per.mean()


class MixedLoss(nn.Module):
    """``alpha (1 - SSIM) + (1 - alpha) L1`` (Zhao, Gallo, Frosio, Kautz, "Loss functions for image
    restoration with neural networks", IEEE TCI 2017, their ``alpha = 0.84``): the SSIM term keeps local
    structure, the L1 term the intensities that SSIM, normalised by local statistics, does not weigh
    (PSNR follows them). Both terms as in :class:`SSIMLoss` and :class:`L1Loss`."""

    def __init__(self, alpha: float = 0.84) -> None:
        super().__init__()
        self.alpha = alpha
        self.ssim, self.l1 = SSIMLoss(), L1Loss()

    def forward(self, pred: torch.Tensor, target: torch.Tensor, data_range: torch.Tensor) -> torch.Tensor:
        """``pred``, ``target`` ``(b, y, x)``; ``data_range`` ``(b,)`` -> scalar loss (float32)."""
        a = self.alpha
        return a * self.ssim(pred, target, data_range) + (1 - a) * self.l1(pred, target, data_range)


def make_loss(name: str) -> nn.Module:
    """``"ssim"`` (published), ``"l1"``, ``"ssim+l1"`` (:class:`MixedLoss`, SSIM weight 0.84) or
    ``"ssim+l1:A"`` (SSIM weight ``A`` in (0, 1), e.g. ``ssim+l1:0.5``, which weighs intensities, and so
    PSNR, more); all take ``(pred, target, data_range)``."""
    if name == "ssim":
        return SSIMLoss()
    if name == "l1":
        return L1Loss()
    if name == "ssim+l1":
        return MixedLoss()
    base, _, alpha = name.partition(":")
    if base == "ssim+l1" and alpha:
        try:
            a = float(alpha)
        except ValueError:
            a = float("nan")
        if not 0.0 < a < 1.0:
            raise ConfigError(f"loss {name!r}: the SSIM weight after ':' must be a number in (0, 1)")
        return MixedLoss(a)
    raise UnknownChoiceError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)} or ssim+l1:A")
