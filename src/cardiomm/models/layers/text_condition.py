"""Metadata adapter (reference 7.5, published ``TextConditionBlock``, after InstructIR's ICB).

::

    gate = sigmoid(Linear(E -> C)(meta_emb))        # (b, C)
    f    = (x * gamma + beta) * gate                # gamma, beta: (1, C, 1, 1), initialised to 0
    out  = x + CAB(f)                               # the CAB has its own PReLU

With ``gamma = beta = 0`` the block is an **exact identity** at initialisation (f = 0 and a bias-free
CAB maps 0 to 0). ``meta_emb`` must have one row per row of ``x``; callers that fold coils into the
batch expand it with ``repeat_interleave`` (see :mod:`cardiomm.models.sensitivity_net`).
"""

from __future__ import annotations

import torch
from torch import nn

from cardiomm.errors import ShapeError
from cardiomm.models.layers.cab import CAB

__all__ = ["MetadataAdapter"]


class MetadataAdapter(nn.Module):
    """Text-gated feature modulation with a residual CAB.

    Parameters
    ----------
    feature_dim
        Channels C of the features.
    embed_dim
        Dimension E of the projected metadata embedding.
    kernel_size, reduction
        Of the CAB.
    """

    def __init__(
        self, feature_dim: int, embed_dim: int = 256, kernel_size: int = 3, reduction: int = 4
    ) -> None:
        super().__init__()
        self.fc = nn.Linear(embed_dim, feature_dim)
        self.block = CAB(feature_dim, kernel_size, reduction, bias=False, act=nn.PReLU(), use_ca=True)
        self.beta = nn.Parameter(torch.zeros(1, feature_dim, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, feature_dim, 1, 1))

    def forward(self, x: torch.Tensor, meta_emb: torch.Tensor) -> torch.Tensor:
        """``x`` (b, C, h, w), ``meta_emb`` (b, E) -> (b, C, h, w)."""
        if meta_emb.ndim != 2 or meta_emb.shape[0] != x.shape[0]:
            got = tuple(meta_emb.shape)
            raise ShapeError(f"metadata adapter needs meta_emb ({x.shape[0]}, E), got {got}")
        gate = torch.sigmoid(self.fc(meta_emb))[:, :, None, None]
        f = (x * self.gamma + self.beta) * gate
        return x + self.block(f)
