"""Scale robustness of inference (issue 16 item 4): k-space scaled by ``s`` gives the image times ``s``.

Every method is positively homogeneous in exact arithmetic; what can break it is an absolute floor
(an epsilon on a norm, a std or an RSS) that dominates at tiny scales, or an overflow at huge ones.
The learned models see the k-space divided by its RMS (``cardiomm.recon.learned.kspace_scale``).
One small frame (64 x 80, 6 coils, R = 4) keeps the test fast.
"""

from __future__ import annotations

import pytest
import torch

from cardiomm.recon import ReconInput, get_reconstructor

from .conftest import line_mask


@pytest.mark.parametrize(
    ("method", "scale"),
    [
        ("zf", 1e-12),
        ("zf", 1e12),
        ("sense", 1e-12),
        ("sense", 1e12),
        ("cardiomm", 1e-12),
        ("varnet", 1e-12),
        ("promptmr", 1e-12),
        ("varnet", 1e12),
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
