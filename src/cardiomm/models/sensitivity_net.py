"""Text-conditioned coil-sensitivity estimation (reference 7.6, published ``SensitivityModel``).

All tensors here are in the **network layout** ``(b, c, kx, ky)`` / ``(b, c, x, y)`` of the published
weights (the transpose from our ``(ky, kx)`` layout happens once in :mod:`cardiomm.models.cardiomm`), so
"ky" is the **last** axis.

1. ACS extraction (:func:`acs_mask`), per sample:
   * ``uniform`` / ``random`` (1-D masks): the central ``n_acs`` ky lines, starting at
     ``(n_ky - n_acs + 1) // 2`` (fastMRI ``batched_mask_center``);
   * ``radial`` (2-D masks): the mask entries inside the central ``n_acs x n_acs`` square, each side
     starting at ``(n - n_acs + 1) // 2``.
2. Centred IFFT of the ACS-only k-space; coils folded into the batch, ``(b * c, 1, x, y)`` sample-major.
3. The text-conditioned :class:`~cardiomm.models.layers.unet.NormPromptUnet` on every coil image. The
   embeddings are expanded with ``repeat_interleave(c)`` so row ``i * c + j`` (sample i, coil j) gets
   sample i's embedding. The published code uses ``.repeat(c)``, which mis-pairs samples and
   embeddings for B > 1 (it was trained with B = 1); ours is exact for any B.
4. Unfold the coils and divide by the coil RSS (floored at a tiny epsilon).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cardiomm.errors import MaskError, UnknownChoiceError
from cardiomm.models.layers.unet import NormPromptUnet
from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import ifft2c

__all__ = ["MASK_TYPES", "acs_mask", "SensitivityNet"]

#: Mask families understood by the ACS extractor (lowercase, as in the undersampling prompt).
MASK_TYPES = ("uniform", "random", "radial")

#: Floor on the coil RSS when normalising the maps.
RSS_EPS = 1e-12


def _mask_types(mask_type: str | Sequence[str], batch: int) -> list[str]:
    types = [mask_type] * batch if isinstance(mask_type, str) else list(mask_type)
    if len(types) != batch:
        raise MaskError(f"mask_type has {len(types)} entries for a batch of {batch}")
    for t in types:
        if t not in MASK_TYPES:
            raise UnknownChoiceError(f"unknown mask_type {t!r}; expected one of {', '.join(MASK_TYPES)}")
    return types


def acs_mask(mask: torch.Tensor, mask_type: str | Sequence[str], n_acs: int = 20) -> torch.Tensor:
    """Boolean ACS mask in the network layout.

    Parameters
    ----------
    mask
        Sampling mask ``(b, 1, kx, ky)``, bool (network layout: ky last).
    mask_type
        ``"uniform"``, ``"random"`` or ``"radial"``, one for the batch or one per sample.
    n_acs
        ACS size (20 in CardioMM).

    Returns
    -------
    torch.Tensor
        ``(b, 1, kx, ky)`` bool: the central ky band (1-D families) or the central square (radial),
        intersected with ``mask``.
    """
    b, _, nx, ny = mask.shape
    types = _mask_types(mask_type, b)
    if not 1 <= n_acs <= ny:
        raise MaskError(f"n_acs = {n_acs} does not fit {ny} ky lines")
    out = torch.zeros_like(mask, dtype=torch.bool)
    y0 = (ny - n_acs + 1) // 2
    x0 = (nx - n_acs + 1) // 2
    for i, t in enumerate(types):
        if t == "radial":
            if n_acs > nx:
                raise MaskError(f"n_acs = {n_acs} does not fit {nx} kx samples")
            out[i, :, x0 : x0 + n_acs, y0 : y0 + n_acs] = True
        else:
            out[i, :, :, y0 : y0 + n_acs] = True
    return out & mask.bool()


class SensitivityNet(nn.Module):
    """Estimate normalised coil maps from the ACS region.

    Parameters
    ----------
    unet_kwargs
        Arguments of :class:`~cardiomm.models.layers.unet.PromptUnet` (``in_chans = out_chans = 2``).
    """

    def __init__(self, **unet_kwargs: object) -> None:
        super().__init__()
        self.norm_unet = NormPromptUnet(in_chans=2, out_chans=2, **unet_kwargs)

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        meta_emb: torch.Tensor | None,
        us_emb: torch.Tensor | None,
        mask_type: str | Sequence[str],
        n_acs: int = 20,
    ) -> torch.Tensor:
        """Coil maps ``(b, c, x, y)`` complex64 from ``masked_kspace`` (b, c, kx, ky) and ``mask``.

        ``meta_emb`` / ``us_emb`` are the projected embeddings ``(b, E)`` (``None`` without text).
        """
        b, c, h, w = masked_kspace.shape
        acs = acs_mask(mask, mask_type, n_acs)
        images = ifft2c(masked_kspace * acs).reshape(b * c, 1, h, w)
        meta = None if meta_emb is None else meta_emb.repeat_interleave(c, dim=0)
        us = None if us_emb is None else us_emb.repeat_interleave(c, dim=0)
        maps = self.norm_unet(images, meta, us).reshape(b, c, h, w)
        return maps / rss(maps, dim=1, keepdim=True, eps=RSS_EPS)
