"""CardioMM: text-conditioned unrolled reconstruction for multi-coil cardiac MRI (reference 7.1).

Data flow (our layout outside, published layout inside)::

    masked_kspace (b, c, ky, kx), mask (b, 1, ky, kx)      # cardiomm layout
      --transpose(-2, -1)-->  (b, c, kx, ky)               # network layout of the published weights
    meta, us  = LMHead(meta_emb), LMHead(us_emb)           # (b, E), E = 256 in the paper
    csm       = SensitivityNet(k0, mask, meta, us, mask_type, n_acs)   # once, shared by all cascades
    k = k0
    K times:  x = sum_c conj(csm_c) ifft2c(k_c)            # sens_reduce
              x = NormPromptUnet(x, meta, us)              # denoise (own weights per cascade)
              k_pred = fft2c(csm * x)                      # sens_expand
              k = M (k0 + |w| k_pred) / (1 + |w|) + (1 - M) k_pred      # DC, w init 1
    out = RSS_c |ifft2c(k_c)|  (b, x, y)  --transpose-->  (b, y, x) float32

**The (kx, ky) transpose** happens here and only here: the published network was trained on
``[frames, coils, nx, ny]`` (readout first), and the prompt-bank resize, the padding and the learned
convolutions are not transpose-symmetric, so keeping the published orientation inside is what makes
published weights loadable. Inside the network ky is the last axis (ACS bands run along it).

Deliberate decisions (also in ``docs/models.md``):

* **PReLU tying** (``ModelConfig.shared_prelu``). The published code passes one default ``nn.PReLU()``
  instance to almost every CAB of every U-Net (a Python default-argument quirk), so a single scalar is
  shared by the cascades and the sensitivity net. ``shared_prelu=False`` (default) unties it: every CAB
  owns its PReLU (+252 parameters for ``paper``). ``shared_prelu=True`` replicates the tying (needed
  for published weights); the first CAB of encoder level 1 and each adapter CAB keep their own PReLU
  in both modes, as published.
* **Embedding pairing for B > 1.** In the coil-folded sensitivity pass the embeddings are expanded
  with ``repeat_interleave`` (sample-major), not the published ``.repeat`` (correct only for B = 1).
* **Projection-head normalisation** (``ModelConfig.head_norm``): ``"l2"`` by default; ``"published"``
  reproduces the released code's element-wise (sign) normalisation, see :mod:`cardiomm.models.heads`.
* **Per-sample mask types**: ``mask_type`` may be one string for the batch (published) or one per sample.
* Tiny floors (1e-12) on the normalisation std and the coil RSS keep all-zero inputs finite.
* ``text_conditioning=False`` builds the PromptMR-style variant: no heads, no adapters, prompt weights
  from mean-pooled features; the embeddings are then ignored (may be ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from cardiomm.errors import DataValueError, MaskError, ShapeError
from cardiomm.models.config import ModelConfig, get_config
from cardiomm.models.heads import LMHead
from cardiomm.models.layers.data_consistency import data_consistency
from cardiomm.models.layers.output_dc import make_output_dc
from cardiomm.models.layers.unet import NormPromptUnet
from cardiomm.models.sensitivity_net import SensitivityNet
from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import fft2c, ifft2c

__all__ = ["CardioMM", "CardioMMBlock", "LMHead", "count_parameters", "convert_published_state_dict"]

#: Floor of the output RSS image: the gradient stays finite where every coil is exactly zero.
RSS_EPS = 1e-15


class CardioMMBlock(nn.Module):
    """One cascade: sens_reduce -> denoiser -> sens_expand -> weighted DC (published ``CardioMMBlock``).

    Parameters
    ----------
    model
        The denoiser, a :class:`~cardiomm.models.layers.unet.NormPromptUnet` on one complex channel.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.dc_weight = nn.Parameter(torch.ones(1))

    def forward(
        self,
        kspace: torch.Tensor,
        k0: torch.Tensor,
        mask: torch.Tensor,
        csm: torch.Tensor,
        meta: torch.Tensor | None,
        us: torch.Tensor | None,
    ) -> torch.Tensor:
        """All tensors in the network layout: k-space/csm ``(b, c, kx, ky)``, mask ``(b, 1, kx, ky)``."""
        img = (csm.conj() * ifft2c(kspace)).sum(dim=1, keepdim=True)
        img = self.model(img, meta, us)
        k_pred = fft2c(csm * img)
        return data_consistency(k_pred, k0, mask, self.dc_weight)


class CardioMM(nn.Module):
    """The CardioMM network (sensitivity net + K cascades + projection heads).

    Parameters
    ----------
    config
        A :class:`~cardiomm.models.config.ModelConfig`, a preset name (``"paper"``, ``"small"``,
        ``"tiny"``) or a config dict.
    **overrides
        Field changes applied to ``config`` (e.g. ``shared_prelu=True``, ``grad_checkpoint=True``).
    """

    def __init__(self, config: ModelConfig | str | Mapping[str, Any] = "paper", **overrides: Any) -> None:
        super().__init__()
        cfg = get_config(config, **overrides)
        self.config = cfg
        self.grad_checkpoint = cfg.grad_checkpoint
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.init_seed)
            shared_act = nn.PReLU() if cfg.shared_prelu else None
            common: dict[str, Any] = dict(
                len_prompt=cfg.len_prompt,
                prompt_size=cfg.prompt_size,
                n_enc_cab=cfg.n_enc_cab,
                n_dec_cab=cfg.n_dec_cab,
                n_skip_cab=cfg.n_skip_cab,
                n_bottleneck_cab=cfg.n_bottleneck_cab,
                kernel_size=cfg.kernel_size,
                reduction=cfg.reduction,
                embed_dim=cfg.embed_dim,
                text_conditioning=cfg.text_conditioning,
                act=shared_act,
            )
            self.sens_net = SensitivityNet(
                n_feat0=cfg.sens_n_feat0,
                feature_dim=cfg.sens_feature_dim,
                prompt_dim=cfg.sens_prompt_dim,
                **common,
            )
            self.cascades = nn.ModuleList(
                CardioMMBlock(
                    NormPromptUnet(
                        in_chans=2,
                        out_chans=2,
                        n_feat0=cfg.n_feat0,
                        feature_dim=cfg.feature_dim,
                        prompt_dim=cfg.prompt_dim,
                        **common,
                    )
                )
                for _ in range(cfg.n_cascades)
            )
            self.lm_head_meta: LMHead | None = None
            self.lm_head_us: LMHead | None = None
            if cfg.text_conditioning:
                self.lm_head_meta = LMHead(cfg.text_dim, cfg.embed_dim, cfg.head_norm)
                self.lm_head_us = LMHead(cfg.text_dim, cfg.embed_dim, cfg.head_norm)
        self.output_dc = make_output_dc(cfg.output_dc, cfg.output_dc_iterations, cfg.output_dc_floor)

    # ------------------------------------------------------------------------------------------
    def project(
        self, meta_emb: torch.Tensor | None, us_emb: torch.Tensor | None, batch: int
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Projected embeddings ``(b, embed_dim)`` (``(None, None)`` without text conditioning).

        ``meta_emb`` / ``us_emb`` are raw encoder outputs ``(b, text_dim)`` or ``(1, text_dim)``.
        """
        if not self.config.text_conditioning:
            return None, None
        assert self.lm_head_meta is not None and self.lm_head_us is not None
        out = []
        pairs = (("meta_emb", meta_emb, self.lm_head_meta), ("us_emb", us_emb, self.lm_head_us))
        for name, emb, head in pairs:
            if emb is None:
                raise ShapeError(f"{name} is required by a text-conditioned CardioMM")
            if emb.ndim != 2 or emb.shape[0] not in (1, batch) or emb.shape[1] != self.config.text_dim:
                raise ShapeError(
                    f"{name} must be ({batch}, {self.config.text_dim}) (encoder "
                    f"{self.config.text_encoder!r}), got {tuple(emb.shape)}"
                )
            out.append(head(emb.to(head.fc1.weight.device)).expand(batch, -1))
        return out[0], out[1]

    @staticmethod
    def _check_inputs(masked_kspace: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.is_complex(masked_kspace):
            raise DataValueError(f"masked_kspace must be complex64, got {masked_kspace.dtype}")
        if masked_kspace.ndim != 4:
            raise ShapeError(f"masked_kspace must be (b, c, ky, kx), got {tuple(masked_kspace.shape)}")
        k = masked_kspace.to(torch.complex64)
        b, _, ny, nx = k.shape
        if mask.ndim != 4 or mask.shape[1] != 1:
            raise MaskError(f"mask must be (b, 1, ky, kx) (broadcastable), got {tuple(mask.shape)}")
        try:
            m = (mask if mask.dtype == torch.bool else mask != 0).expand(b, 1, ny, nx)
        except RuntimeError:
            raise MaskError(f"mask {tuple(mask.shape)} does not broadcast to ({b}, 1, {ny}, {nx})") from None
        return k, m

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        meta_emb: torch.Tensor | None = None,
        us_emb: torch.Tensor | None = None,
        mask_type: str | Sequence[str] = "random",
        n_acs: int = 20,
    ) -> torch.Tensor:
        """Reconstruct magnitude frames.

        Parameters
        ----------
        masked_kspace
            Undersampled multi-coil k-space ``(b, c, ky, kx)``, complex64 (zeros where not sampled).
        mask
            Sampling mask ``(b, 1, ky, kx)`` (broadcastable), bool.
        meta_emb, us_emb
            Raw text-encoder embeddings of the metadata and undersampling prompts ``(b, text_dim)``
            float32 (``(1, text_dim)`` broadcasts). Ignored when ``text_conditioning`` is False.
        mask_type
            ``"uniform"``, ``"random"`` or ``"radial"``: one for the batch or one per sample.
        n_acs
            ACS size for the sensitivity net (20 in CardioMM).

        Returns
        -------
        torch.Tensor
            Magnitude ``(b, y, x)``, float32: the RSS of the final k-space, or with ``output_dc="sense"``
            the trained SENSE data consistency of it (:meth:`output_image`).
        """
        k_net, csm = self.forward_kspace_maps(masked_kspace, mask, meta_emb, us_emb, mask_type, n_acs)
        return self.output_image(masked_kspace, mask, k_net, csm)

    def output_image(
        self, masked_kspace: torch.Tensor, mask: torch.Tensor, k_net: torch.Tensor, csm: torch.Tensor
    ) -> torch.Tensor:
        """The output layer alone: the magnitude ``(b, y, x)`` float32 that :meth:`forward` returns, from
        the measured k-space and mask (as :meth:`forward`) and what :meth:`forward_kspace_maps` returned
        for them (cardiomm layout)."""
        if self.output_dc is None:
            return rss(ifft2c(k_net), dim=1, eps=RSS_EPS)
        k, m = self._check_inputs(masked_kspace, mask)
        return self.output_dc(k, m, k_net, csm)

    def forward_kspace(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        meta_emb: torch.Tensor | None = None,
        us_emb: torch.Tensor | None = None,
        mask_type: str | Sequence[str] = "random",
        n_acs: int = 20,
    ) -> torch.Tensor:
        """The multi-coil k-space of the output, before the coil combination of :meth:`forward`: the
        output layer's ``F S x`` with ``output_dc="sense"``, else the last cascade's k-space.

        Same arguments as :meth:`forward`. Used by self-supervised adaptation
        (:mod:`cardiomm.training.adapt`), whose loss compares this estimate with measured samples that
        were withheld from ``mask`` (so it trains the output layer too). ``forward(...)`` equals
        ``rss(ifft2c(forward_kspace(...)))``.

        Returns
        -------
        torch.Tensor
            k-space ``(b, c, ky, kx)`` complex64 (cardiomm layout).
        """
        k_net, csm = self.forward_kspace_maps(masked_kspace, mask, meta_emb, us_emb, mask_type, n_acs)
        if self.output_dc is None:
            return k_net
        k, m = self._check_inputs(masked_kspace, mask)
        return self.output_dc.kspace(k, m, k_net, csm)

    def forward_kspace_maps(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        meta_emb: torch.Tensor | None = None,
        us_emb: torch.Tensor | None = None,
        mask_type: str | Sequence[str] = "random",
        n_acs: int = 20,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The last cascade's k-space and the coil maps the cascades used.

        Same arguments as :meth:`forward`. Used by the SENSE data consistency of the output
        (:class:`~cardiomm.recon.learned.LearnedRecon` with ``dc="sense"``).

        Returns
        -------
        tuple[torch.Tensor, torch.Tensor]
            k-space ``(b, c, ky, kx)`` complex64 and sensitivity maps ``(b, c, y, x)`` complex64 (unit
            root-sum-of-squares over coils), both in the cardiomm layout.
        """
        kspace, csm = self._final_kspace(masked_kspace, mask, meta_emb, us_emb, mask_type, n_acs)
        return kspace.transpose(-2, -1), csm.transpose(-2, -1)

    def _final_kspace(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        meta_emb: torch.Tensor | None,
        us_emb: torch.Tensor | None,
        mask_type: str | Sequence[str],
        n_acs: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cascade output k-space ``(b, c, kx, ky)`` and coil maps ``(b, c, x, y)``, network layout."""
        k, m = self._check_inputs(masked_kspace, mask)
        b = k.shape[0]
        meta, us = self.project(meta_emb, us_emb, b)
        # --- the one (ky, kx) -> (kx, ky) transpose (published weights expect readout first) ---
        k0 = k.transpose(-2, -1)
        m = m.transpose(-2, -1)
        csm = self.sens_net(k0, m, meta, us, mask_type, n_acs)
        kspace = k0
        use_ckpt = self.grad_checkpoint and torch.is_grad_enabled()
        for cascade in self.cascades:
            if use_ckpt:
                kspace = checkpoint(cascade, kspace, k0, m, csm, meta, us, use_reentrant=False)
            else:
                kspace = cascade(kspace, k0, m, csm, meta, us)
        return kspace, csm


def count_parameters(model: nn.Module) -> dict[str, int]:
    """``{"trainable": ..., "frozen": ..., "buffers": ...}`` (shared tensors counted once)."""
    seen: set[int] = set()
    counts = {"trainable": 0, "frozen": 0, "buffers": 0}
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        counts["trainable" if p.requires_grad else "frozen"] += p.numel()
    counts["buffers"] = sum(b.numel() for b in model.buffers())
    return counts


def convert_published_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a published Lightning ``state_dict`` (already loaded by the caller) to :class:`CardioMM` keys.

    Keeps ``metausunetlight.*`` (prefix stripped) and ``lm_head_meta.fc1.*`` / ``lm_head_us.fc1.*``;
    drops the unused ``fc2`` heads, the SSIM window ``loss.w`` and the frozen text encoder. Load the
    result into ``CardioMM("paper", shared_prelu=True, head_norm="published")``.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("metausunetlight."):
            out[key[len("metausunetlight.") :]] = value
        elif key.startswith(("lm_head_meta.fc1.", "lm_head_us.fc1.")):
            out[key] = value
    return out
