"""Fixtures: a small noise-free multi-coil phantom with smooth coil maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

from cardiomm.physics import fft2c


@pytest.fixture(scope="module")
def phantom() -> dict[str, torch.Tensor]:
    ny, nx, nc = 64, 80, 6
    img = resize(shepp_logan_phantom(), (ny, nx), anti_aliasing=True).astype(np.float32)
    yy, xx = np.mgrid[0:ny, 0:nx]
    maps = []
    for c in range(nc):
        a = 2 * np.pi * c / nc
        cy, cx = ny / 2 + 0.8 * ny * np.sin(a), nx / 2 + 0.8 * nx * np.cos(a)
        maps.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.35 * nx) ** 2)) * np.exp(1j * a))
    csm = np.asarray(maps)
    csm /= np.sqrt((np.abs(csm) ** 2).sum(0))
    coil = torch.from_numpy((csm * img).astype(np.complex64))[None]
    return {
        "img": torch.from_numpy(img)[None],
        "csm": torch.from_numpy(csm.astype(np.complex64))[None],
        "kspace": fft2c(coil),
    }


def line_mask(ny: int, nx: int, r: int, acs: int = 20) -> torch.Tensor:
    m = torch.zeros(1, 1, ny, nx, dtype=torch.bool)
    m[..., ::r, :] = True
    m[..., ny // 2 - acs // 2 : ny // 2 - acs // 2 + acs, :] = True
    return m
