"""Undersampling prompter (reference 7.4, published ``USPromptBlock_lightweight``).

A **fixed random prompt bank** ``P`` of shape ``(1, L, Cp, S, S)`` (drawn once with ``torch.rand`` and
never trained) is mixed with per-sample weights, resized to the decoder feature size and refined by a
learnable conv3x3 (no bias)::

    w      = softmax(Linear(E -> L)(us_emb))          # text-conditioned (CardioMM)
    w      = softmax(Linear(C -> L)(mean_hw(x)))      # text_conditioning=False (PromptMR-style)
    prompt = conv3x3(bilinear_resize(sum_l w_l P_l, (h, w)))

The bank is a registered **buffer** (``persistent=True``): it is in the state dict (so a checkpoint
carries the exact random basis and must be loaded, not re-drawn) but it is not a parameter, so no
optimiser ever sees it. The state-dict key ``prompt_param`` and the linear-layer names
(``linear_layer2`` text / ``linear_layer`` pooled, as in PromptMR) follow the published code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cardiomm.errors import ShapeError

__all__ = ["UndersamplingPrompter"]


class UndersamplingPrompter(nn.Module):
    """Prompt generator for one decoder level.

    Parameters
    ----------
    prompt_dim
        Prompt channels ``Cp``.
    prompt_len
        Number of bank components ``L``.
    prompt_size
        Spatial size ``S`` of the bank (square).
    feature_dim
        Channels of the decoder features ``x`` (used only when ``text_conditioning`` is False).
    embed_dim
        Dimension ``E`` of the projected undersampling embedding.
    text_conditioning
        True: weights from ``us_emb`` (CardioMM). False: weights from the mean-pooled features
        (PromptMR-style baseline); ``us_emb`` is then ignored.
    """

    prompt_param: torch.Tensor

    def __init__(
        self,
        prompt_dim: int,
        prompt_len: int,
        prompt_size: int,
        feature_dim: int,
        embed_dim: int = 256,
        text_conditioning: bool = True,
    ) -> None:
        super().__init__()
        self.text_conditioning = text_conditioning
        bank = torch.rand(1, prompt_len, prompt_dim, prompt_size, prompt_size)
        self.register_buffer("prompt_param", bank, persistent=True)
        if text_conditioning:
            self.linear_layer2 = nn.Linear(embed_dim, prompt_len)
        else:
            self.linear_layer = nn.Linear(feature_dim, prompt_len)
        self.dec_conv3x3 = nn.Conv2d(prompt_dim, prompt_dim, kernel_size=3, stride=1, padding=1, bias=False)

    def weights(self, x: torch.Tensor, us_emb: torch.Tensor | None) -> torch.Tensor:
        """Mixing weights ``(b, L)`` (rows sum to 1)."""
        if self.text_conditioning:
            if us_emb is None or us_emb.shape[0] != x.shape[0]:
                got = None if us_emb is None else tuple(us_emb.shape)
                raise ShapeError(f"prompter needs us_emb of shape ({x.shape[0]}, E), got {got}")
            logits = self.linear_layer2(us_emb)
        else:
            logits = self.linear_layer(x.mean(dim=(-2, -1)))
        return F.softmax(logits, dim=1)

    def forward(self, x: torch.Tensor, us_emb: torch.Tensor | None = None) -> torch.Tensor:
        """Prompt ``(b, Cp, h, w)`` for decoder features ``x`` (b, C, h, w)."""
        _, _, h, w = x.shape
        weights = self.weights(x, us_emb).to(dtype=x.dtype)  # softmax is float32 under autocast
        bank = self.prompt_param[0].to(dtype=x.dtype)
        prompt = torch.einsum("bl,lchw->bchw", weights, bank)
        prompt = F.interpolate(prompt, size=(h, w), mode="bilinear", align_corners=False)
        if x.is_contiguous(memory_format=torch.channels_last):
            prompt = prompt.contiguous(memory_format=torch.channels_last)
        return self.dec_conv3x3(prompt)
