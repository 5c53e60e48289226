"""Weighted-average data consistency (ref. 7.7, "Data_consistency_PISFC", doi:10.1016/j.media.2025.103616).

::

    k = M * (k0 + |w| k_pred) / (1 + |w|) + (1 - M) * k_pred

At sampled locations the result is a convex blend of the measurement ``k0`` and the prediction
(``w = 0`` returns ``k0`` exactly; ``|w| -> inf`` returns the prediction); at unsampled locations it is
the prediction. ``w`` is one learnable scalar, initialised to 1 and used as ``|w|``. This is *not*
PromptMR+'s gradient-style soft DC.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["data_consistency", "DataConsistency"]


def data_consistency(
    k_pred: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Apply the weighted DC.

    Parameters
    ----------
    k_pred
        Predicted multi-coil k-space ``(b, c, kx, ky)`` (any spatial order), complex64.
    k0
        Measured (masked) k-space, same shape.
    mask
        Sampling mask, bool, broadcastable to ``k_pred``.
    weight
        DC weight ``w`` (scalar tensor); ``|w|`` is used.
    """
    w = weight.abs()
    return torch.where(mask, (k0 + w * k_pred) / (1 + w), k_pred)


class DataConsistency(nn.Module):
    """Module form of :func:`data_consistency` with its own learnable ``dc_weight`` (init 1)."""

    def __init__(self, init: float = 1.0) -> None:
        super().__init__()
        self.dc_weight = nn.Parameter(torch.full((1,), float(init)))

    def forward(self, k_pred: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """See :func:`data_consistency`."""
        return data_consistency(k_pred, k0, mask, self.dc_weight)
