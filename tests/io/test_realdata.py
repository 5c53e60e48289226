"""Real CMRxRecon2024 demo data (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cardiomm.evaluation.metrics import evaluate_volume
from cardiomm.io.h5 import rss_from_kspace
from cardiomm.io.kspace import read_cmrxrecon, read_mask
from cardiomm.io.mat import mat_version

pytestmark = pytest.mark.realdata

KSPACE = "kspace/cmrxrecon2024_demo_cine_sax_1coil_1slice_1frame.mat"
MASK = "kspace/cmrxrecon2024_demo_cine_sax_mask_Uniform8.mat"


def test_real_cmrxrecon_kspace_and_mask(shared_data: Path) -> None:
    assert mat_version(shared_data / KSPACE) == "5" and mat_version(shared_data / MASK) == "7.3"
    vol = read_cmrxrecon(shared_data / KSPACE)
    assert vol.key == "kspace_full" and vol.matlab_shape == (512, 246)
    assert vol.kspace.shape == (1, 1, 1, 246, 512) and vol.kspace.dtype == torch.complex64
    mask = read_mask(shared_data / MASK)
    assert mask.shape == (1, 246, 512) and mask.dtype == torch.bool
    lines = mask[0].any(dim=1)
    assert bool((mask[0] == lines[:, None]).all())  # constant over kx
    assert int(lines.sum()) == 45
    assert bool(lines[115:131].all()) and not bool(lines[114]) and not bool(lines[131])


def test_real_zero_filled_metrics(shared_data: Path) -> None:
    vol = read_cmrxrecon(shared_data / KSPACE, mask=shared_data / MASK)
    gt = rss_from_kspace(vol.frames())
    zf = rss_from_kspace(vol.frames() * vol.frame_masks())
    res = evaluate_volume(gt, zf)
    print(f"zero-filled R8 (percentile): PSNR {res.psnr:.2f} dB, SSIM {res.ssim:.4f}, NMSE {res.nmse:.4f}")
    z24 = evaluate_volume(gt, zf, scheme="std")
    print(f"zero-filled R8 (std, 2024): PSNR {z24.psnr:.2f} dB, SSIM {z24.ssim:.4f}, NMSE {z24.nmse:.4f}")
    assert res.n_frames == 1
    assert 24.0 < res.psnr < 34.0 and 0.6 < res.ssim < 0.9 and 0.02 < res.nmse < 0.3
    scaled = evaluate_volume(gt, 7.5 * zf)  # percentile normalisation: invariant to a global scale
    assert scaled.psnr == pytest.approx(res.psnr, abs=1e-4)
    assert scaled.ssim == pytest.approx(res.ssim, abs=1e-6)
