"""Noise already in the source magnitude images, and how much acquisition noise to add on top.

A real magnitude cine (ACDC, Sunnybrook, any DICOM series) carries its scanner's noise: measured in the
background of ACDC volumes it is an object-mean SNR of about 16-35, as noisy as or noisier than the
centers' target SNR. Turned into k-space, that noise is part of the "object", so adding the center's full
noise on top would give references noisier than the scanner data the models meet (the real CMRxRecon
3 T cine slice measures an object-mean SNR of 42). :func:`added_noise_std` therefore adds only the part
of the target noise the source does not already have, with a floor so every scan keeps some
coil-correlated channel noise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIN_ADDED_FRACTION", "source_noise_std", "added_noise_std"]

#: Fraction of the target noise always added as correlated channel noise (complex std ratio).
MIN_ADDED_FRACTION = 0.3

_MAD_TO_STD = 0.6745  # median |N(0, 1)|


def source_noise_std(images: NDArray[np.floating], max_frames: int = 8) -> float:
    """Per-pixel noise standard deviation of magnitude images (robust wavelet estimate).

    Donoho's estimator: the median absolute diagonal (HH) Haar detail coefficient / 0.6745, taken only
    inside the object (pixels above 10 % of the 99th percentile), because zero-padded or masked
    corners of clinical images would drag a whole-image median to zero. Median over up to
    ``max_frames`` evenly spaced 2-D frames.

    Parameters
    ----------
    images
        ``(..., y, x)`` non-negative magnitude images.

    Returns
    -------
    float
        Noise std in the images' units (0 when no frame has enough object pixels).
    """
    import pywt  # noqa: PLC0415 - lazy: importing this module loads no pywt

    frames = np.asarray(images, dtype=np.float32).reshape(-1, *np.shape(images)[-2:])
    step = max(1, len(frames) // max_frames)
    values = []
    for frame in frames[::step][:max_frames]:
        positive = frame[frame > 0]
        if positive.size < 64:
            continue
        _, (_, _, hh) = pywt.dwt2(frame, "haar")
        level = frame[: 2 * hh.shape[0] : 2, : 2 * hh.shape[1] : 2]
        inside = level > 0.1 * np.percentile(positive, 99)
        if inside.sum() >= 32:
            values.append(float(np.median(np.abs(hh[inside]))) / _MAD_TO_STD)
    return float(np.median(values)) if values else 0.0


def added_noise_std(target_std: float, source_std: float, min_fraction: float = MIN_ADDED_FRACTION) -> float:
    """Complex channel-noise std to add so the image noise reaches ``target_std``.

    The source noise is real (along the magnitude), so it matches complex noise of std
    ``sqrt(2) source_std``; the added noise is ``sqrt(target^2 - 2 source^2)``, at least
    ``min_fraction * target``.
    """
    rest = target_std**2 - 2.0 * source_std**2
    return float(max(np.sqrt(max(rest, 0.0)), min_fraction * target_std))
