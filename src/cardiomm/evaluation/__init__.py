"""Evaluation: per-frame normalisation and the CardioMM / CMRxRecon metric protocol."""

from cardiomm.evaluation.metrics import (
    FrameMetrics,
    VolumeMetrics,
    as_frames,
    evaluate_volume,
    frame_metrics,
    nmse,
    psnr,
    ssim,
)
from cardiomm.evaluation.normalise import (
    DEFAULT_PERCENTILE,
    NormScheme,
    normalise_frame,
    normalise_maxval,
    normalise_percentile,
    normalise_std,
    parse_scheme,
)

__all__ = [
    "FrameMetrics",
    "VolumeMetrics",
    "evaluate_volume",
    "frame_metrics",
    "as_frames",
    "psnr",
    "ssim",
    "nmse",
    "NormScheme",
    "DEFAULT_PERCENTILE",
    "parse_scheme",
    "normalise_frame",
    "normalise_percentile",
    "normalise_maxval",
    "normalise_std",
]
