"""Tests of cardiomm.evaluation.metrics against direct scikit-image calls and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cardiomm.errors import DataValueError, ShapeError, UnknownChoiceError
from cardiomm.evaluation.metrics import evaluate_volume, frame_metrics, nmse, psnr, ssim
from cardiomm.evaluation.normalise import normalise_percentile, normalise_std


def _phantom(n: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n] - n / 2
    img = (xx**2 + yy**2 < (0.4 * n) ** 2).astype(np.float64)
    img += 0.5 * ((xx - 3) ** 2 + (yy + 2) ** 2 < (0.15 * n) ** 2)
    return img


def _pair(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = np.broadcast_to(_phantom(shape[-1]), shape) * (1 + rng.random(shape[:-2] + (1, 1)))
    gt = gt + 0.05 * rng.random(shape)
    pred = np.abs(gt + 0.1 * rng.standard_normal(shape))
    return gt.astype(np.float32), pred.astype(np.float32)


def test_frame_metrics_equal_direct_skimage_calls() -> None:
    gt, pred = _pair((32, 32))
    m = frame_metrics(gt, pred)
    gt_n = gt / np.percentile(gt, 99.5)
    pred_n = pred / np.percentile(pred, 99.5)
    assert m.psnr == peak_signal_noise_ratio(gt_n, pred_n, data_range=gt_n.max())
    assert m.ssim == structural_similarity(gt_n, pred_n, data_range=gt_n.max())
    assert m.nmse == np.linalg.norm(gt_n - pred_n) ** 2 / np.linalg.norm(gt_n) ** 2


def test_std_scheme_equals_direct_calls() -> None:
    gt, pred = _pair((32, 32), seed=3)
    m = frame_metrics(gt, pred, scheme="std")
    g, p = normalise_std(gt), normalise_std(pred)
    assert m.psnr == peak_signal_noise_ratio(g, p, data_range=g.max())
    assert m.ssim == structural_similarity(g, p, data_range=g.max())


def test_psnr_hand_computed() -> None:
    gt = np.zeros((16, 16))
    gt[0, 0] = 2.0  # data_range 2
    pred = gt.copy()
    pred[5:9, 5:9] = 0.5  # 16 errors of 0.5 -> MSE = 16 * 0.25 / 256 = 1/64
    assert psnr(gt, pred, data_range=2.0) == pytest.approx(10 * math.log10(4.0 * 64))
    assert nmse(gt, pred) == pytest.approx(4.0 / 4.0)
    assert ssim(gt, gt, data_range=2.0) == 1.0


def test_evaluate_volume_shapes_and_per_frame() -> None:
    gt, pred = _pair((2, 3, 32, 32))
    res = evaluate_volume(gt, pred)
    assert res.n_frames == 6 and res.per_frame_psnr.shape == (6,)
    for b in range(6):
        m = frame_metrics(gt[b // 3, b % 3], pred[b // 3, b % 3])
        assert res.per_frame_psnr[b] == m.psnr and res.per_frame_ssim[b] == m.ssim
    assert res.psnr == pytest.approx(res.per_frame_psnr.mean())
    flat = evaluate_volume(gt.reshape(6, 32, 32), pred.reshape(6, 32, 32))
    np.testing.assert_array_equal(flat.per_frame_ssim, res.per_frame_ssim)
    tensors = evaluate_volume(torch.from_numpy(gt), torch.from_numpy(pred))
    assert tensors.psnr == res.psnr
    assert set(res.rounded()) == {"PSNR", "SSIM", "NMSE"} and res.rounded()["SSIM"] == round(res.ssim, 4)


def test_percentile_metrics_invariant_to_prediction_scale() -> None:
    gt, pred = _pair((3, 32, 32), seed=5)
    base = evaluate_volume(gt, pred)
    for scale in (1e-3, 0.5, 37.0):
        res = evaluate_volume(gt, pred * np.float32(scale))
        # float32 inputs are normalised in float32 (as published): equal to float32 rounding
        np.testing.assert_allclose(res.per_frame_psnr, base.per_frame_psnr, rtol=0, atol=1e-4)
        np.testing.assert_allclose(res.per_frame_ssim, base.per_frame_ssim, rtol=0, atol=1e-6)
        np.testing.assert_allclose(res.per_frame_nmse, base.per_frame_nmse, rtol=1e-4)
    gt64, pred64 = gt.astype(np.float64), pred.astype(np.float64)
    exact = evaluate_volume(gt64, pred64 * 2.0)  # a power of two scales exactly
    np.testing.assert_array_equal(exact.per_frame_psnr, evaluate_volume(gt64, pred64).per_frame_psnr)
    raw = evaluate_volume(gt, pred * 37.0, scheme="maxval")
    assert raw.psnr == pytest.approx(evaluate_volume(gt, pred, scheme="maxval").psnr, abs=1e-4)


def test_evaluate_volume_undefined_frame_is_nan_and_excluded() -> None:
    gt, pred = _pair((3, 32, 32), seed=7)
    gt[1] = 0.0
    res = evaluate_volume(gt, pred)
    assert np.isnan(res.per_frame_psnr[1]) and np.isnan(res.per_frame_ssim[1])
    assert res.psnr == pytest.approx(np.mean(res.per_frame_psnr[[0, 2]]))


def test_evaluate_volume_bad_input() -> None:
    gt, pred = _pair((2, 32, 32))
    with pytest.raises(ShapeError, match="differ"):
        evaluate_volume(gt, pred[:1])
    with pytest.raises(ShapeError):
        evaluate_volume(gt[..., :5, :5], pred[..., :5, :5])
    with pytest.raises(ShapeError):
        evaluate_volume(gt.reshape(1, 1, 2, 32, 32), pred.reshape(1, 1, 2, 32, 32))
    bad = pred.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(DataValueError, match="prediction"):
        evaluate_volume(gt, bad)
    with pytest.raises(UnknownChoiceError):
        evaluate_volume(gt, pred, scheme="nope")


def test_normalisation_applied_independently() -> None:
    gt, pred = _pair((32, 32), seed=11)
    m = frame_metrics(gt, pred)
    g, p = normalise_percentile(gt), normalise_percentile(pred)
    assert m.psnr == psnr(g, p, data_range=g.max())
