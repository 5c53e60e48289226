"""Channel-attention building blocks (PromptMR / CardioMM, reference section 7.3).

* :func:`conv` -- ``nn.Conv2d`` with same padding, no bias unless asked.
* :class:`CALayer` -- global average pool -> 1x1 conv C -> C/r -> ReLU -> 1x1 conv C/r -> C -> sigmoid ->
  channel scale (r = ``reduction``, 4 in CardioMM; no bias).
* :class:`CAB` -- conv3x3 -> activation -> conv3x3 -> CALayer -> + input.

Sub-module names (``body.0``, ``body.1``, ``body.2``, ``CA.conv_du.0``, ``CA.conv_du.2``) follow the
published code so published state dicts load key for key.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["conv", "CALayer", "CAB"]


def conv(
    in_channels: int, out_channels: int, kernel_size: int, bias: bool = False, stride: int = 1
) -> nn.Conv2d:
    """Same-padding 2-D convolution (padding ``kernel_size // 2``)."""
    pad = kernel_size // 2
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad, bias=bias, stride=stride)


class CALayer(nn.Module):
    """Channel attention: ``x * sigmoid(W2 relu(W1 avgpool(x)))``.

    Parameters
    ----------
    channel
        Number of channels C (input = output).
    reduction
        Bottleneck factor r; the hidden width is ``C // r`` (at least 1).
    bias
        Bias of the two 1x1 convolutions.
    """

    def __init__(self, channel: int, reduction: int = 4, bias: bool = False) -> None:
        super().__init__()
        hidden = max(channel // reduction, 1)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channel, hidden, 1, padding=0, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channel, 1, padding=0, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` (b, C, h, w) by its attention weight."""
        # The 1x1 convolutions act on a 1x1 map: apply them as matrix products (same parameters and
        # result, without the per-call convolution overhead that dominated small inputs).
        down, up = self.conv_du[0], self.conv_du[2]
        assert isinstance(down, nn.Conv2d) and isinstance(up, nn.Conv2d)
        y = x.mean(dim=(-2, -1))
        y = torch.relu(F.linear(y, down.weight.flatten(1), down.bias))
        y = torch.sigmoid(F.linear(y, up.weight.flatten(1), up.bias))
        return x * y[:, :, None, None]


class CAB(nn.Module):
    """Residual channel-attention block: ``x + CA(conv(act(conv(x))))``.

    Parameters
    ----------
    n_feat
        Number of channels.
    kernel_size
        Kernel of the two convolutions.
    reduction
        Channel-attention reduction.
    bias
        Bias of the convolutions (False in CardioMM).
    act
        Activation module. Passing the same instance to several CABs ties their parameters (the
        published PReLU quirk); ``None`` creates a fresh ``nn.PReLU()``.
    use_ca
        Channel attention on (CardioMM) or replaced by identity.
    """

    def __init__(
        self,
        n_feat: int,
        kernel_size: int = 3,
        reduction: int = 4,
        bias: bool = False,
        act: nn.Module | None = None,
        use_ca: bool = True,
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(n_feat, n_feat, kernel_size, bias=bias),
            act if act is not None else nn.PReLU(),
            conv(n_feat, n_feat, kernel_size, bias=bias),
        )
        self.CA: nn.Module = CALayer(n_feat, reduction, bias=bias) if use_ca else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (b, C, h, w) -> same shape."""
        return self.CA(self.body(x)) + x
