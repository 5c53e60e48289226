"""Image-quality metrics under the CardioMM / CMRxRecon evaluation protocol (reference section 11).

Per 2-D frame (every slice x every time/contrast frame), the reference ``gt`` and the prediction are
each normalised on their own (:mod:`cardiomm.evaluation.normalise`, default ``percentile``: divide by
the frame's 99.5th percentile, no clipping), then

- PSNR = ``skimage.metrics.peak_signal_noise_ratio(gt_n, pred_n, data_range=gt_n.max())`` [dB],
- SSIM = ``skimage.metrics.structural_similarity(gt_n, pred_n, data_range=gt_n.max())`` with
  skimage defaults (7x7 uniform window, K1 = 0.01, K2 = 0.03, no Gaussian weighting),
- NMSE = ``||gt_n - pred_n||^2 / ||gt_n||^2``.

The per-file score is the ``nanmean`` over frames (the published CSV rounds it to 4 decimals; see
:meth:`VolumeMetrics.rounded`). ``scheme="std"`` gives the CMRxRecon2024 z-score variant. The argument
order is always (reference, prediction): the published 3-D branch that swaps it is not reproduced.

A frame whose normalised reference has a non-positive or non-finite maximum (e.g. an all-zero frame)
has no defined ``data_range``; its metrics are NaN and it is left out of the means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cardiomm.errors import DataValueError, ShapeError
from cardiomm.evaluation.normalise import DEFAULT_PERCENTILE, NormScheme, normalise_frame, parse_scheme

__all__ = [
    "FrameMetrics",
    "VolumeMetrics",
    "psnr",
    "ssim",
    "nmse",
    "frame_metrics",
    "evaluate_volume",
    "as_frames",
]

_SSIM_MIN_SIDE = 7  # skimage default window


@dataclass(frozen=True)
class FrameMetrics:
    """Metrics of one 2-D frame.

    Attributes
    ----------
    psnr
        [dB].
    ssim
        Unitless, <= 1.
    nmse
        Unitless, >= 0.
    """

    psnr: float
    ssim: float
    nmse: float


@dataclass(frozen=True)
class VolumeMetrics:
    """Per-file metrics: nanmeans over frames plus the per-frame values.

    Attributes
    ----------
    psnr, ssim, nmse
        ``nanmean`` over frames (NaN when every frame is undefined).
    n_frames
        Number of 2-D frames ``b`` evaluated (``t * z``, t-major).
    per_frame_psnr, per_frame_ssim, per_frame_nmse
        ``(b,)`` float64 arrays, NaN for undefined frames.
    scheme
        Normalisation scheme used.
    """

    psnr: float
    ssim: float
    nmse: float
    n_frames: int
    per_frame_psnr: np.ndarray
    per_frame_ssim: np.ndarray
    per_frame_nmse: np.ndarray
    scheme: NormScheme

    def rounded(self, decimals: int = 4) -> dict[str, float]:
        """Return ``{"PSNR", "SSIM", "NMSE"}`` rounded as in the published CSV."""
        return {
            "PSNR": round(self.psnr, decimals),
            "SSIM": round(self.ssim, decimals),
            "NMSE": round(self.nmse, decimals),
        }


def _to_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().resolve_conj().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def as_frames(image: np.ndarray | torch.Tensor, *, name: str = "image") -> np.ndarray:
    """Flatten ``(t, z, y, x)``, ``(b, y, x)`` or ``(y, x)`` to ``(b, y, x)`` (t-major).

    Raises
    ------
    ShapeError
        Not 2-D to 4-D.
    """
    arr = _to_numpy(image)
    if not 2 <= arr.ndim <= 4:
        raise ShapeError(f"{name} has shape {arr.shape}; expected (t, z, y, x), (b, y, x) or (y, x)")
    return arr.reshape(-1, *arr.shape[-2:])


def psnr(gt: np.ndarray, pred: np.ndarray, *, data_range: float | np.floating) -> float:
    """PSNR [dB] of ``pred`` against ``gt``: :func:`skimage.metrics.peak_signal_noise_ratio`."""
    return float(peak_signal_noise_ratio(gt, pred, data_range=data_range))


def ssim(gt: np.ndarray, pred: np.ndarray, *, data_range: float | np.floating) -> float:
    """SSIM with skimage defaults (7x7 uniform window): :func:`skimage.metrics.structural_similarity`."""
    return float(structural_similarity(gt, pred, data_range=data_range))


def nmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """Normalised MSE ``||gt - pred||^2 / ||gt||^2`` (NaN when ``gt`` is all zero)."""
    den = float(np.linalg.norm(gt) ** 2)
    return float(np.linalg.norm(gt - pred) ** 2 / den) if den > 0 else float("nan")


def frame_metrics(
    gt: np.ndarray | torch.Tensor,
    pred: np.ndarray | torch.Tensor,
    *,
    scheme: NormScheme | str = NormScheme.PERCENTILE,
    percentile: float = DEFAULT_PERCENTILE,
) -> FrameMetrics:
    """Metrics of one ``(y, x)`` frame under the protocol (both frames normalised on their own).

    Parameters
    ----------
    gt, pred
        ``(y, x)`` reference and prediction (magnitude; complex input is converted to magnitude by the
        ``percentile``/``maxval`` schemes).
    scheme
        ``percentile`` (default), ``maxval`` or ``std``.
    percentile
        Percentile of the ``percentile`` scheme.
    """
    g, p = _to_numpy(gt), _to_numpy(pred)
    if g.shape != p.shape or g.ndim != 2:
        raise ShapeError(f"frames must be 2-D and equal in shape, got {g.shape} and {p.shape}")
    if min(g.shape) < _SSIM_MIN_SIDE:
        raise ShapeError(f"frames of {g.shape} are smaller than the 7x7 SSIM window")
    s = parse_scheme(scheme)
    gt_n = normalise_frame(g, scheme=s, percentile=percentile)
    pred_n = normalise_frame(p, scheme=s, percentile=percentile)
    data_range = gt_n.max()  # numpy scalar of the frame's precision, exactly as the published evaluator
    if not np.isfinite(data_range) or data_range <= 0:
        nan = float("nan")
        return FrameMetrics(nan, nan, nan)
    return FrameMetrics(
        psnr=psnr(gt_n, pred_n, data_range=data_range),
        ssim=ssim(gt_n, pred_n, data_range=data_range),
        nmse=nmse(gt_n, pred_n),
    )


def _nanmean(x: np.ndarray) -> float:
    finite = x[~np.isnan(x)]
    return float(finite.mean()) if finite.size else float("nan")


def evaluate_volume(
    gt: np.ndarray | torch.Tensor,
    pred: np.ndarray | torch.Tensor,
    *,
    scheme: NormScheme | str = NormScheme.PERCENTILE,
    percentile: float = DEFAULT_PERCENTILE,
) -> VolumeMetrics:
    """Evaluate a reconstruction against its reference under the protocol, frame by frame.

    Parameters
    ----------
    gt
        Reference magnitude, ``(t, z, y, x)``, ``(b, y, x)`` or ``(y, x)`` (e.g. ``gtsosimage`` /
        ``img4ranking`` read with :func:`cardiomm.io.read_image_mat`).
    pred
        Prediction, same shape (e.g. ``reconimage``).
    scheme
        ``percentile`` (CardioMM / CMRxRecon2025, default), ``maxval``, or ``std`` (CMRxRecon2024).
    percentile
        Percentile of the ``percentile`` scheme.

    Returns
    -------
    VolumeMetrics
        nanmeans and ``(b,)`` per-frame arrays, ``b`` t-major over ``(t, z)``.

    Raises
    ------
    ShapeError
        Different shapes, wrong dimensionality, or frames smaller than 7x7.
    DataValueError
        NaN/Inf values in either input.
    UnknownChoiceError
        Unknown scheme.
    """
    s = parse_scheme(scheme)
    g, p = _to_numpy(gt), _to_numpy(pred)
    if g.shape != p.shape:
        raise ShapeError(f"reference {g.shape} and prediction {p.shape} differ in shape")
    g_frames, p_frames = as_frames(g, name="reference"), as_frames(p, name="prediction")
    for arr, name in ((g_frames, "reference"), (p_frames, "prediction")):
        if not np.isfinite(arr).all():
            raise DataValueError(f"{name} has NaN/Inf values")
    rows = []
    for g_frame, p_frame in zip(g_frames, p_frames, strict=True):
        m = frame_metrics(g_frame, p_frame, scheme=s, percentile=percentile)
        rows.append([m.psnr, m.ssim, m.nmse])
    values = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return VolumeMetrics(
        psnr=_nanmean(values[:, 0]),
        ssim=_nanmean(values[:, 1]),
        nmse=_nanmean(values[:, 2]),
        n_frames=int(values.shape[0]),
        per_frame_psnr=values[:, 0].copy(),
        per_frame_ssim=values[:, 1].copy(),
        per_frame_nmse=values[:, 2].copy(),
        scheme=s,
    )
