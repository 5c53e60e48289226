"""Scale robustness of inference (issue 16 item 4): k-space scaled by ``s`` gives the image times ``s``.

Every method is positively homogeneous in exact arithmetic; what can break it is an absolute floor
(an epsilon on a norm, a std or an RSS) that dominates at tiny scales, or an overflow at huge ones.
One small frame (64 x 80, 6 coils, R = 4) keeps the test fast.
"""

from __future__ import annotations

import pytest
import torch

from cardiomm.recon import ReconInput, get_reconstructor

from .conftest import line_mask

# At 1e-12 the learned models' absolute floors (std clamp 1e-12 in the NormUnet normalisation,
# models/layers/unet.py STD_EPS; coil-RSS floors 1e-12 / 1e-15) dominate a unit-magnitude input:
# PSNR about 6 dB against the unscaled result. Reported on issue 16; remove the mark once fixed.
_LEARNED_TINY = pytest.mark.xfail(strict=True, reason="absolute normalisation floors in the learned models")


@pytest.mark.parametrize(
    ("method", "scale"),
    [
        ("zf", 1e-12),
        ("zf", 1e12),
        ("sense", 1e-12),
        ("sense", 1e12),
        pytest.param("cardiomm", 1e-12, marks=_LEARNED_TINY),
        ("cardiomm", 1e12),
    ],
)
def test_reconstruction_scales_with_the_kspace(
    method: str, scale: float, phantom: dict[str, torch.Tensor], torch_single_thread: None
) -> None:
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    recon = get_reconstructor(method)
    prompts = ("Adult cardiac MRI reconstruction.", "Undersampling: 4x uniform.")

    def run(kspace: torch.Tensor) -> torch.Tensor:
        return recon(ReconInput(kspace * mask, mask, "uniform", 4, 20, *prompts)).double()

    ref = run(k)
    out = run(k * scale) / scale
    assert torch.isfinite(out).all()
    err = float((out - ref).abs().max() / ref.abs().max())
    assert err < 1e-4, f"{method} at scale {scale:g}: max error {err:.3g} of the image maximum"
