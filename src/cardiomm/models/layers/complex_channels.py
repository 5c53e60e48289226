"""The one complex <-> real-channel boundary of the networks.

``complex_to_channels`` turns ``(b, c, h, w)`` complex64 into ``(b, 2c, h, w)`` float32 ordered
**[all real parts, then all imaginary parts]**, the order of the published CardioMM/PromptMR checkpoints
(``x.permute(0, 4, 1, 2, 3).reshape(b, 2c, h, w)`` of a complex-last tensor). ``channels_to_complex``
is its exact inverse. Real 2-channel views exist only inside ``cardiomm.models.layers``.
"""

from __future__ import annotations

import torch

from cardiomm.errors import DataValueError, ShapeError

__all__ = ["complex_to_channels", "channels_to_complex"]


def complex_to_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(b, c, h, w)`` -> real ``(b, 2c, h, w)``: channels ``[re_0..re_{c-1}, im_0..im_{c-1}]``."""
    if not torch.is_complex(x):
        raise DataValueError(f"complex_to_channels expects a complex tensor, got {x.dtype}")
    if x.ndim != 4:
        raise ShapeError(f"complex_to_channels expects (b, c, h, w), got shape {tuple(x.shape)}")
    return torch.cat([x.real, x.imag], dim=1)


def channels_to_complex(x: torch.Tensor) -> torch.Tensor:
    """Real ``(b, 2c, h, w)`` ordered [all real, all imaginary] -> complex ``(b, c, h, w)``."""
    if torch.is_complex(x):
        raise DataValueError("channels_to_complex expects a real tensor, got a complex one")
    if x.ndim != 4 or x.shape[1] % 2:
        raise ShapeError(f"channels_to_complex expects (b, 2c, h, w), got shape {tuple(x.shape)}")
    c = x.shape[1] // 2
    return torch.complex(x[:, :c].float(), x[:, c:].float())
