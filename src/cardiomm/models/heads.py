"""Trainable text projection heads (reference 7.2, published ``LMHead`` / ``LMHead2``).

``LMHead``: ``Linear(text_dim -> embed_dim)`` (512 -> 256 for CLIP) followed by a normalisation. The
published heads also own ``fc2 = Linear(256 -> 3)`` whose "auxiliary logits" enter no loss; it is
omitted here (:func:`cardiomm.models.cardiomm.convert_published_state_dict` drops its weights).

Normalisation (``norm``):

* ``"l2"`` (default): ``F.normalize(fc1(x), dim=-1)``, the documented intent (unit 256-d vectors).
* ``"published"``: what the released code actually computes. Its embeddings have shape ``(B, 1, 256)``
  and ``F.normalize(..., dim=1)`` normalises over the **singleton** axis, i.e. element-wise
  ``x / max(|x|, 1e-12)``: a sign vector in {-1, 0, +1}^256, whose gradient is zero, so the published
  ``fc1`` only ever saw weight decay. Required to reproduce published weights bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cardiomm.errors import ShapeError, UnknownChoiceError

__all__ = ["LMHead"]


class LMHead(nn.Module):
    """Project a frozen text embedding ``(b, text_dim)`` to ``(b, embed_dim)``.

    Parameters
    ----------
    text_dim
        Encoder output dimension (512 CLIP ViT-B/16, 384 MiniLM).
    embed_dim
        Projected dimension (256 in CardioMM).
    norm
        ``"l2"`` or ``"published"`` (see the module docstring).
    """

    def __init__(self, text_dim: int = 512, embed_dim: int = 256, norm: str = "l2") -> None:
        super().__init__()
        if norm not in ("l2", "published"):
            raise UnknownChoiceError(f"unknown head norm {norm!r}; expected 'l2' or 'published'")
        self.norm = norm
        self.fc1 = nn.Linear(text_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (b, text_dim) float -> (b, embed_dim)."""
        if x.ndim != 2 or x.shape[1] != self.fc1.in_features:
            raise ShapeError(f"text embedding must be (b, {self.fc1.in_features}), got {tuple(x.shape)}")
        y = self.fc1(x.to(self.fc1.weight.dtype))
        if self.norm == "published":
            return y / y.abs().clamp_min(1e-12)
        return F.normalize(y, p=2, dim=-1)
