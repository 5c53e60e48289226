"""End-to-end VarNet (Sriram et al., MICCAI 2020), our own implementation, as a learned baseline.

Layout: cardiomm's ``(b, c, ky, kx)`` outside and inside (no published weights to match).

* Sensitivity model: the ACS-only k-space (central ``n_acs`` ky lines, or the central square for radial
  masks) -> coil images -> a normalised U-Net on each coil (coils folded into the batch) -> divided by
  the coil RSS.
* K cascades: ``k <- k - eta * M (k - k0) - F S U(S^H F^{-1} k)`` with a learnable ``eta`` per cascade
  (init 1) and a normalised U-Net ``U`` (own weights per cascade).
* Output: RSS over coils of ``|ifft2c(k)|``, ``(b, y, x)``.

The U-Net is the fastMRI design (two 3x3 conv + instance norm + LeakyReLU(0.2) per block, 2x2 average
pooling, transposed-conv upsampling). ``chans`` sets the width; :func:`equal_parameter_chans` finds the
width giving a target parameter count (the "equal-parameter" option).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cardiomm.errors import ConfigError, UnknownChoiceError
from cardiomm.models.config import check_output_dc
from cardiomm.models.layers.complex_channels import channels_to_complex, complex_to_channels
from cardiomm.models.layers.output_dc import make_output_dc
from cardiomm.models.sensitivity_net import acs_mask
from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import fft2c, ifft2c

__all__ = ["VarNetConfig", "VarNet", "VARNET_PRESETS", "equal_parameter_chans"]


@dataclass(frozen=True)
class VarNetConfig:
    """E2E-VarNet architecture: cascades, U-Net widths and depths (cascade and sensitivity nets)."""

    preset: str = "custom"
    n_cascades: int = 12
    chans: int = 18
    pools: int = 4
    sens_chans: int = 8
    sens_pools: int = 4
    output_dc: str = "none"
    output_dc_iterations: int = 10
    output_dc_floor: float = 0.0

    def __post_init__(self) -> None:
        check_output_dc(self.output_dc, self.output_dc_iterations, "VarNet config", self.output_dc_floor)

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable dictionary (with ``"model": "varnet"``)."""
        return {"model": "varnet", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> VarNetConfig:
        """Inverse of :meth:`to_dict`."""
        fields: dict[str, Any] = {k: v for k, v in d.items() if k != "model"}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ConfigError(f"invalid VarNet config: {exc}") from None


#: ``paper``: the fastMRI E2E-VarNet (12 cascades, 18 channels); ``small``: CPU-trainable; ``tiny``: tests.
VARNET_PRESETS: dict[str, VarNetConfig] = {
    "paper": VarNetConfig("paper", 12, 18, 4, 8, 4),
    "small": VarNetConfig("small", 4, 8, 3, 4, 3),
    "tiny": VarNetConfig("tiny", 2, 4, 2, 2, 2),
}


class _ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.InstanceNorm2d(c_out),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.InstanceNorm2d(c_out),
            nn.LeakyReLU(0.2),
        )


class Unet(nn.Module):
    """fastMRI-style U-Net on real channels ``(n, c_in, h, w) -> (n, c_out, h, w)``;
    h, w multiples of 2**pools."""

    def __init__(self, c_in: int, c_out: int, chans: int, pools: int) -> None:
        super().__init__()
        self.down = nn.ModuleList([_ConvBlock(c_in, chans)])
        ch = chans
        for _ in range(pools - 1):
            self.down.append(_ConvBlock(ch, ch * 2))
            ch *= 2
        self.bottleneck = _ConvBlock(ch, ch * 2)
        self.up_t = nn.ModuleList()
        self.up = nn.ModuleList()
        for _ in range(pools):
            self.up_t.append(
                nn.Sequential(
                    nn.ConvTranspose2d(ch * 2, ch, 2, stride=2, bias=False),
                    nn.InstanceNorm2d(ch),
                    nn.LeakyReLU(0.2),
                )
            )
            self.up.append(_ConvBlock(ch * 2, ch))
            ch //= 2
        self.final = nn.Conv2d(chans, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.avg_pool2d(x, 2)
        x = self.bottleneck(x)
        for up_t, block in zip(self.up_t, self.up, strict=True):
            x = block(torch.cat([up_t(x), skips.pop()], dim=1))
        return self.final(x)


class NormUnet(nn.Module):
    """U-Net on a complex image ``(n, y, x)``: to 2 channels, per-sample mean/std normalisation, padding."""

    def __init__(self, chans: int, pools: int) -> None:
        super().__init__()
        self.unet = Unet(2, 2, chans, pools)
        self.multiple = 2**pools

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = complex_to_channels(img.unsqueeze(1))  # (n, 2, y, x)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.flatten(1).std(dim=1).view(-1, 1, 1, 1).clamp_min(1e-12)
        x = (x - mean) / std
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        x = self.unet(x)[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
        return channels_to_complex(x * std + mean).squeeze(1)


class VarNet(nn.Module):
    """E2E-VarNet:
    ``forward(masked_kspace (b, c, ky, kx), mask (b, 1, ky, kx), mask_type, n_acs) -> (b, y, x)``."""

    def __init__(self, config: VarNetConfig | str = "small") -> None:
        super().__init__()
        if isinstance(config, str):
            if config not in VARNET_PRESETS:
                raise UnknownChoiceError(
                    f"unknown VarNet preset {config!r}; choose from {', '.join(VARNET_PRESETS)}"
                )
            config = VARNET_PRESETS[config]
        self.config = config
        self.sens_net = NormUnet(config.sens_chans, config.sens_pools)
        self.cascades = nn.ModuleList(NormUnet(config.chans, config.pools) for _ in range(config.n_cascades))
        self.eta = nn.Parameter(torch.ones(config.n_cascades))
        self.output_dc = make_output_dc(config.output_dc, config.output_dc_iterations, config.output_dc_floor)

    def sensitivity_maps(
        self, masked_kspace: torch.Tensor, mask: torch.Tensor, mask_type: str | list[str], n_acs: int
    ) -> torch.Tensor:
        """Coil maps ``(b, c, y, x)`` from the ACS region, normalised to unit RSS."""
        acs = acs_mask(mask.transpose(-2, -1), mask_type, n_acs).transpose(-2, -1)
        coil_imgs = ifft2c(masked_kspace * acs)
        b, c = coil_imgs.shape[:2]
        maps = self.sens_net(coil_imgs.reshape(b * c, *coil_imgs.shape[-2:])).view_as(coil_imgs)
        return maps / rss(maps, dim=1, keepdim=True, eps=1e-12)

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        mask_type: str | list[str] = "uniform",
        n_acs: int = 20,
    ) -> torch.Tensor:
        """Magnitude ``(b, y, x)`` float32: the RSS of the last cascade's k-space, or with
        ``output_dc="sense"`` its trained SENSE data consistency (:meth:`output_image`)."""
        k_net, csm = self.forward_kspace_maps(masked_kspace, mask, mask_type, n_acs)
        return self.output_image(masked_kspace, mask, k_net, csm)

    def output_image(
        self, masked_kspace: torch.Tensor, mask: torch.Tensor, k_net: torch.Tensor, csm: torch.Tensor
    ) -> torch.Tensor:
        """The output layer alone, from the measured k-space ``(b, c, ky, kx)``, the mask ``(b, 1, ky, kx)``
        and what :meth:`forward_kspace_maps` returned for them -> magnitude ``(b, y, x)`` float32."""
        if self.output_dc is None:
            return rss(ifft2c(k_net), dim=1, eps=0.0)
        mask = mask.bool()
        return self.output_dc(masked_kspace * mask, mask, k_net, csm)

    def forward_kspace(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        mask_type: str | list[str] = "uniform",
        n_acs: int = 20,
    ) -> torch.Tensor:
        """Multi-coil k-space of the output ``(b, c, ky, kx)`` complex64 (before the coil combination):
        the output layer's ``F S x`` with ``output_dc="sense"``, else the last cascade's k-space;
        :meth:`forward` is its root-sum-of-squares image.

        ``masked_kspace`` ``(b, c, ky, kx)`` complex64, ``mask`` ``(b, 1, ky, kx)`` bool; used by
        self-supervised adaptation (:mod:`cardiomm.training.adapt`).
        """
        k_net, csm = self.forward_kspace_maps(masked_kspace, mask, mask_type, n_acs)
        if self.output_dc is None:
            return k_net
        mask = mask.bool()
        return self.output_dc.kspace(masked_kspace * mask, mask, k_net, csm)

    def forward_kspace_maps(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        mask_type: str | list[str] = "uniform",
        n_acs: int = 20,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The last cascade's k-space and the coil maps ``(b, c, y, x)`` (unit RSS) the cascades used."""
        mask = mask.bool()
        k0 = masked_kspace * mask
        csm = self.sensitivity_maps(k0, mask, mask_type, n_acs)
        k = k0
        for i, unet in enumerate(self.cascades):
            img = (csm.conj() * ifft2c(k)).sum(dim=1)
            refined = fft2c(csm * unet(img).unsqueeze(1))
            k = k - self.eta[i] * torch.where(mask, k - k0, torch.zeros_like(k)) - refined
        return k, csm


def equal_parameter_chans(target: int, base: VarNetConfig) -> int:
    """Smallest U-Net width ``chans`` whose VarNet has at least ``target`` trainable parameters."""
    chans = 1
    while True:
        cfg = VarNetConfig(base.preset, base.n_cascades, chans, base.pools, base.sens_chans, base.sens_pools)
        n = sum(p.numel() for p in VarNet(cfg).parameters() if p.requires_grad)
        if n >= target or chans > 512:
            return chans
        chans += 1
