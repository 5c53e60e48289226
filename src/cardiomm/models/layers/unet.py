"""The 3-level prompt U-Net of CardioMM (reference 7.3, published ``CardioMMUnet`` / ``NormCardioMMUnet``).

Topology (paper cascade values in brackets)::

    feat_extract   conv3x3 in -> n_feat0                                       [2 -> 48]
    enc_level1..3  n_enc_cab x CAB(C_i) -> stride-2 conv3x3 C_i -> C_{i+1} (bias); skip = pre-down
    skip_attn1..3  n_skip_cab x CAB(C_i) on the skip features
    bottleneck     n_bottleneck_cab x CAB(C_3)
    level l = 3,2,1:
      prompt_level_l   UndersamplingPrompter(P_l, L_l, S_l) on the decoder input
      dec_level_l      UpBlock: cat[x, prompt] -> n_dec_cab x CAB(C + P) -> 1x1 (C + P) -> C
                       -> bilinear x2 + 1x1 C -> C_out (no bias) -> + skip -> CAB(C_out)
      metacond_level_l MetadataAdapter(C_out)          (absent when text_conditioning=False)
    conv_last      conv 5x5 n_feat0 -> out                                     [48 -> 2]

All convolutions are bias-free except the stride-2 down-sampling convolutions. Activations are PReLU;
``act`` (one shared instance) reproduces the published tying quirk, ``None`` unties every CAB (see
:mod:`cardiomm.models.cardiomm`). The first CAB of encoder level 1 and each adapter CAB always own
their PReLU, as in the published code. Module names follow the published code.

:class:`NormPromptUnet` wraps the U-Net for complex images: complex -> [real, imag] channels,
per-sample mean/std normalisation over all channels and pixels (unbiased std, as published), symmetric
zero padding of h and w to multiples of 8, U-Net, unpad, un-normalise, back to complex. There is no
global residual.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cardiomm.models.layers.cab import CAB, conv
from cardiomm.models.layers.complex_channels import channels_to_complex, complex_to_channels
from cardiomm.models.layers.prompter import UndersamplingPrompter
from cardiomm.models.layers.text_condition import MetadataAdapter

__all__ = ["DownBlock", "SkipBlock", "UpBlock", "PromptUnet", "NormPromptUnet"]

ActFactory = Callable[[], nn.Module]

#: Run the U-Net in channels_last memory format (several times faster for narrow convolutions on CPU).
CHANNELS_LAST = True

#: Floor on the normalisation std so an all-zero input stays finite (no effect on real data).
STD_EPS = 1e-12


def _default_act() -> nn.Module:
    return nn.PReLU()


class DownBlock(nn.Module):
    """``n_cab`` CABs then a stride-2 conv3x3 (with bias); returns ``(down, skip)``."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        n_cab: int,
        kernel_size: int,
        reduction: int,
        make_act: ActFactory,
        first_own_act: bool = False,
    ) -> None:
        super().__init__()
        cabs = []
        for i in range(n_cab):
            act = nn.PReLU() if (first_own_act and i == 0) else make_act()
            cabs.append(CAB(in_dim, kernel_size, reduction, bias=False, act=act))
        self.encoder = nn.Sequential(*cabs)
        self.down = nn.Conv2d(in_dim, out_dim, kernel_size=3, stride=2, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (b, C_in, h, w) -> (down (b, C_out, h/2, w/2), skip (b, C_in, h, w))."""
        enc = self.encoder(x)
        return self.down(enc), enc


class SkipBlock(nn.Module):
    """``n_cab`` CABs on the skip path (identity for 0)."""

    def __init__(self, dim: int, n_cab: int, kernel_size: int, reduction: int, make_act: ActFactory) -> None:
        super().__init__()
        self.skip_attn: nn.Module = (
            nn.Sequential(*[CAB(dim, kernel_size, reduction, act=make_act()) for _ in range(n_cab)])
            if n_cab > 0
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same shape in and out."""
        return self.skip_attn(x)


class UpBlock(nn.Module):
    """Prompt fusion, up-sampling and skip addition (see module docstring)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        prompt_dim: int,
        n_cab: int,
        kernel_size: int,
        reduction: int,
        make_act: ActFactory,
    ) -> None:
        super().__init__()
        fused = in_dim + prompt_dim
        self.fuse = nn.Sequential(
            *[CAB(fused, kernel_size, reduction, bias=False, act=make_act()) for _ in range(n_cab)]
        )
        self.reduce = nn.Conv2d(fused, in_dim, kernel_size=1, bias=False)
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(in_dim, out_dim, 1, stride=1, padding=0, bias=False),
        )
        self.ca = CAB(out_dim, kernel_size, reduction, bias=False, act=make_act())

    def forward(self, x: torch.Tensor, prompt: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """``x`` (b, C_in, h, w), ``prompt`` (b, P, h, w), ``skip`` (b, C_out, 2h, 2w) -> like ``skip``."""
        x = self.reduce(self.fuse(torch.cat([x, prompt], dim=1)))
        # ``up`` = bilinear x2 then 1x1 conv (published order). Both are linear and act on different
        # axes (pixels within a channel vs channels within a pixel), so they commute exactly; applying
        # the 1x1 conv first runs it on 4x fewer pixels and upsamples C_out instead of C_in channels.
        upsample, project = self.up[0], self.up[1]
        return self.ca(upsample(project(x)) + skip)


class PromptUnet(nn.Module):
    """Text-conditioned 3-level prompt U-Net on real channels (published ``CardioMMUnet``).

    Parameters
    ----------
    in_chans, out_chans
        Real channels in and out (2 for one complex image).
    n_feat0
        Channels after ``feat_extract``.
    feature_dim
        Channels of encoder levels 2, 3 and the bottleneck.
    prompt_dim, len_prompt, prompt_size
        Prompt channels, bank length and bank size of decoder levels 1, 2, 3.
    n_enc_cab, n_dec_cab, n_skip_cab, n_bottleneck_cab
        CAB counts.
    kernel_size, reduction
        CAB convolution kernel and channel-attention reduction.
    embed_dim
        Dimension of the projected text embeddings.
    text_conditioning
        False drops the metadata adapters and makes the prompters pool image features (PromptMR-style).
    act
        One activation instance shared by every default-act CAB (the published quirk), or ``None`` for
        an own PReLU per CAB.
    """

    def __init__(
        self,
        in_chans: int = 2,
        out_chans: int = 2,
        n_feat0: int = 48,
        feature_dim: Sequence[int] = (72, 96, 120),
        prompt_dim: Sequence[int] = (24, 48, 72),
        len_prompt: Sequence[int] = (3, 3, 3),
        prompt_size: Sequence[int] = (64, 32, 16),
        n_enc_cab: Sequence[int] = (2, 3, 3),
        n_dec_cab: Sequence[int] = (2, 2, 3),
        n_skip_cab: Sequence[int] = (1, 1, 1),
        n_bottleneck_cab: int = 3,
        kernel_size: int = 3,
        reduction: int = 4,
        embed_dim: int = 256,
        text_conditioning: bool = True,
        act: nn.Module | None = None,
    ) -> None:
        super().__init__()
        make_act: ActFactory = (lambda: act) if act is not None else _default_act  # noqa: E731
        k, r = kernel_size, reduction
        f0, (f1, f2, f3) = n_feat0, feature_dim
        self.text_conditioning = text_conditioning

        self.feat_extract = conv(in_chans, f0, k, bias=False)
        self.enc_level1 = DownBlock(f0, f1, n_enc_cab[0], k, r, make_act, first_own_act=True)
        self.enc_level2 = DownBlock(f1, f2, n_enc_cab[1], k, r, make_act)
        self.enc_level3 = DownBlock(f2, f3, n_enc_cab[2], k, r, make_act)
        self.skip_attn1 = SkipBlock(f0, n_skip_cab[0], k, r, make_act)
        self.skip_attn2 = SkipBlock(f1, n_skip_cab[1], k, r, make_act)
        self.skip_attn3 = SkipBlock(f2, n_skip_cab[2], k, r, make_act)
        self.bottleneck = nn.Sequential(*[CAB(f3, k, r, act=make_act()) for _ in range(n_bottleneck_cab)])

        def prompter(level: int, feat: int) -> UndersamplingPrompter:
            return UndersamplingPrompter(
                prompt_dim[level], len_prompt[level], prompt_size[level], feat, embed_dim, text_conditioning
            )

        self.prompt_level3 = prompter(2, f3)
        self.dec_level3 = UpBlock(f3, f2, prompt_dim[2], n_dec_cab[2], k, r, make_act)
        self.prompt_level2 = prompter(1, f2)
        self.dec_level2 = UpBlock(f2, f1, prompt_dim[1], n_dec_cab[1], k, r, make_act)
        self.prompt_level1 = prompter(0, f1)
        self.dec_level1 = UpBlock(f1, f0, prompt_dim[0], n_dec_cab[0], k, r, make_act)
        if text_conditioning:
            self.metacond_level3 = MetadataAdapter(f2, embed_dim, k, r)
            self.metacond_level2 = MetadataAdapter(f1, embed_dim, k, r)
            self.metacond_level1 = MetadataAdapter(f0, embed_dim, k, r)
        self.conv_last = conv(f0, out_chans, 5, bias=False)

    def _cond(self, level: int, x: torch.Tensor, meta_emb: torch.Tensor | None) -> torch.Tensor:
        if not self.text_conditioning:
            return x
        adapter: MetadataAdapter = getattr(self, f"metacond_level{level}")
        if meta_emb is None:
            raise ValueError("text-conditioned U-Net needs meta_emb")
        return adapter(x, meta_emb)

    def forward(
        self, x: torch.Tensor, meta_emb: torch.Tensor | None = None, us_emb: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` (b, in, h, w) with h, w multiples of 8; embeddings (b, E) -> (b, out, h, w)."""
        x = self.feat_extract(x)
        x, enc1 = self.enc_level1(x)
        x, enc2 = self.enc_level2(x)
        x, enc3 = self.enc_level3(x)
        x = self.bottleneck(x)
        x = self.dec_level3(x, self.prompt_level3(x, us_emb), self.skip_attn3(enc3))
        x = self._cond(3, x, meta_emb)
        x = self.dec_level2(x, self.prompt_level2(x, us_emb), self.skip_attn2(enc2))
        x = self._cond(2, x, meta_emb)
        x = self.dec_level1(x, self.prompt_level1(x, us_emb), self.skip_attn1(enc1))
        x = self._cond(1, x, meta_emb)
        return self.conv_last(x)


def _pad_sizes(n: int) -> tuple[int, int, int]:
    mult = ((n - 1) | 7) + 1
    return math.floor((mult - n) / 2), math.ceil((mult - n) / 2), mult


class NormPromptUnet(nn.Module):
    """Complex-image wrapper around :class:`PromptUnet` (published ``NormCardioMMUnet``).

    ``forward(x (b, c, h, w) complex64, meta_emb (b, E) | None, us_emb (b, E) | None) -> (b, c, h, w)``
    complex64; the wrapped U-Net has ``2c`` real channels in and out. Constructor arguments are those of
    :class:`PromptUnet` (``in_chans``/``out_chans`` count real channels).
    """

    def __init__(self, **unet_kwargs: Any) -> None:
        super().__init__()
        self.unet = PromptUnet(**unet_kwargs)

    @staticmethod
    def norm(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample mean/std over channels and pixels -> ``(x_n, mean, std)``."""
        b = x.shape[0]
        flat = x.reshape(b, -1)
        mean = flat.mean(dim=1).view(b, 1, 1, 1)
        std = flat.std(dim=1).clamp_min(STD_EPS).view(b, 1, 1, 1)
        return (x - mean) / std, mean, std

    @staticmethod
    def pad(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        """Symmetric zero padding of h and w to multiples of 8 (extra pixel at the end)."""
        h, w = x.shape[-2:]
        h0, h1, _ = _pad_sizes(h)
        w0, w1, _ = _pad_sizes(w)
        return F.pad(x, [w0, w1, h0, h1]), (h0, h1, w0, w1)

    @staticmethod
    def unpad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
        """Inverse of :meth:`pad`."""
        h0, h1, w0, w1 = pads
        return x[..., h0 : x.shape[-2] - h1, w0 : x.shape[-1] - w1]

    def forward(
        self, x: torch.Tensor, meta_emb: torch.Tensor | None = None, us_emb: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Denoise complex images ``x`` (b, c, h, w) -> (b, c, h, w) complex64."""
        y = complex_to_channels(x)
        y, mean, std = self.norm(y)
        y, pads = self.pad(y)
        if CHANNELS_LAST:
            y = y.contiguous(memory_format=torch.channels_last)
        y = self.unet(y, meta_emb, us_emb)
        y = self.unpad(y, pads).contiguous() * std + mean
        return channels_to_complex(y)
