"""SSIM loss vs scikit-image (fastMRI semantics: 7x7 uniform window, sample covariance, volume-max range)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from cardiomm.errors import ConfigError, ShapeError, UnknownChoiceError
from cardiomm.training.losses import L1Loss, SSIMLoss, make_loss, ssim_map


def _pair(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    gt = rng.random(shape).astype(np.float32) * 3.0
    pred = (gt + 0.4 * rng.standard_normal(shape)).astype(np.float32)
    return gt, pred


@pytest.mark.parametrize("shape", [(7, 7), (33, 40), (64, 48)])
def test_ssim_loss_matches_skimage(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    pairs = [_pair(rng, shape) for _ in range(3)]
    data_range = np.array([3.0, 4.5, 2.0])  # per-sample "volume max", not the frame range
    ref = [
        structural_similarity(
            gt, pred, data_range=dr, win_size=7, use_sample_covariance=True, gaussian_weights=False
        )
        for (gt, pred), dr in zip(pairs, data_range, strict=True)
    ]
    gt_t = torch.from_numpy(np.stack([g for g, _ in pairs]))
    pred_t = torch.from_numpy(np.stack([p for _, p in pairs]))
    per_frame = ssim_map(pred_t, gt_t, torch.from_numpy(data_range)).flatten(1).mean(1)
    np.testing.assert_allclose(per_frame.numpy(), ref, atol=1e-4)
    loss = SSIMLoss()(pred_t, gt_t, torch.from_numpy(data_range))
    assert abs(float(loss) - (1 - np.mean(ref))) < 1e-4


def test_ssim_loss_identical_images_is_zero_and_differentiable() -> None:
    x = torch.rand(2, 16, 16, requires_grad=True)
    loss = SSIMLoss()(x, x.detach(), torch.tensor([1.0, 1.0]))
    assert abs(loss.item()) < 1e-6
    y = torch.rand(2, 16, 16)
    loss = SSIMLoss()(x, y, torch.tensor([1.0, 2.0]))
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_ssim_loss_under_bf16_autocast_stays_float32() -> None:
    x, y = torch.rand(1, 16, 16), torch.rand(1, 16, 16)
    ref = SSIMLoss()(x, y, torch.tensor([1.0]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = SSIMLoss()(x.bfloat16(), y, torch.tensor([1.0]))
    assert out.dtype == torch.float32
    assert abs(float(out) - float(ref)) < 2e-2  # bf16 input rounding only


def test_l1_loss_is_scaled_by_data_range() -> None:
    x, y = torch.zeros(2, 8, 8), torch.ones(2, 8, 8)
    assert float(L1Loss()(x, y, torch.tensor([2.0, 2.0]))) == pytest.approx(0.5)


def test_make_loss_choices() -> None:
    assert isinstance(make_loss("ssim"), SSIMLoss)
    assert isinstance(make_loss("l1"), L1Loss)
    with pytest.raises(UnknownChoiceError):
        make_loss("mse")
    with pytest.raises(ShapeError):
        SSIMLoss()(torch.rand(1, 5, 5), torch.rand(1, 5, 5), torch.tensor([1.0]))


def test_mixed_loss_weighs_skimage_ssim_and_mean_absolute_error() -> None:
    """``ssim+l1`` = 0.84 (1 - SSIM) + 0.16 mean|x - y| / range, against skimage and numpy."""
    rng = np.random.default_rng(2)
    gt, pred = _pair(rng, (40, 36))
    dr = 3.0
    ssim = structural_similarity(gt, pred, data_range=dr, win_size=7, use_sample_covariance=True)
    expected = 0.84 * (1 - ssim) + 0.16 * np.abs(pred - gt).mean() / dr
    loss = make_loss("ssim+l1")(torch.from_numpy(pred)[None], torch.from_numpy(gt)[None], torch.tensor([dr]))
    assert float(loss) == pytest.approx(expected, abs=1e-4)


def test_mixed_loss_with_a_chosen_ssim_weight() -> None:
    """``ssim+l1:0.5`` = 0.5 (1 - SSIM) + 0.5 mean|x - y| / range (skimage, numpy); a weight outside
    (0, 1) or not a number is a typed error."""
    rng = np.random.default_rng(3)
    gt, pred = _pair(rng, (36, 40))
    ssim = structural_similarity(gt, pred, data_range=2.0, win_size=7, use_sample_covariance=True)
    expected = 0.5 * (1 - ssim) + 0.5 * np.abs(pred - gt).mean() / 2.0
    pair = torch.from_numpy(pred)[None], torch.from_numpy(gt)[None]
    loss = make_loss("ssim+l1:0.5")(*pair, torch.tensor([2.0]))
    assert float(loss) == pytest.approx(expected, abs=1e-4)
    for bad in ("ssim+l1:1", "ssim+l1:0", "ssim+l1:x", "ssim+l1:nan"):
        with pytest.raises(ConfigError, match="SSIM weight"):
            make_loss(bad)
    with pytest.raises(UnknownChoiceError):
        make_loss("l1+ssim:0.5")
