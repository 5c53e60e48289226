"""Loss weights that undo SSDU's sampling bias: the K-weighted loss of Millard and Chiew.

Millard and Chiew ("A theoretical framework for self-supervised MR image reconstruction using
sub-sampling via variable density Noisier2Noise", IEEE TCI 2023) read SSDU as variable-density
Noisier2Noise: the network sees ``Theta``, a random subset of the acquired set ``Omega``, and is scored on
the held-back ``Lambda``. Where ``Omega`` is drawn with density ``P`` and an acquired location stays in
``Theta`` with probability ``P~``, weighting the squared error at each held-back location by

    ``(1 - K)^-1 = (1 - P~ P) / (P (1 - P~))``,   ``K = (1 - P~ P)^-1 (1 - P)``

makes its expectation the error over the *whole* k-space, so the network estimates all of k-space from
``Theta`` instead of favouring the densely sampled (and densely held-back) centre. Here:

* ``P`` (:func:`sampling_density`) is estimated from a scan's own masks (the locations left for the
  training splits, ``Omega \\ Gamma``, of every frame): their mean over frames, averaged over the
  distance from the k-space centre (|ky| for line masks, the radius in samples for 2-D masks) and
  smoothed over half the nominal acceleration outside the fully sampled centre, i.e. the density of
  the mask *family*, so that a regular line mask has ``P = 1 / R`` outside the ACS and a radial one
  its ``1 / r`` fall-off.
* ``1 - P~`` (:func:`loss_probability`) is the probability that :func:`~cardiomm.training.ssdu.split_frame`
  puts a location into ``Lambda``: exact ``n / N`` for spokes (drawn uniformly) and Rosen's
  approximation ``1 - exp(-c w_i)`` (with ``c`` such that the probabilities sum to ``n``) for the
  Gaussian variable-density draw of lines and points without replacement.

The weight multiplies the amplitude of the error by ``sqrt((1 - K)^-1)`` in
:func:`~cardiomm.training.ssdu.ssdu_loss` (the L2 term is then the weighted squared error of the
paper; the L1 term is weighted alike).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import brentq

from cardiomm.training.ssdu import SplitSpec, is_line_mask, loss_units, unit_ids, unit_weights

__all__ = ["MAX_WEIGHT", "inclusion_probability", "k_weight", "loss_probability", "sampling_density"]

_MIN_DENSITY = 1e-3
#: Upper bound of a location's weight (the protocol masks give 1.3-600).
MAX_WEIGHT = 1e4


def inclusion_probability(weights: np.ndarray, n: int) -> np.ndarray:
    """Probability that each unit is among ``n`` drawn without replacement with draw weights ``weights``.

    Rosen's approximation for successive sampling, ``pi_i = 1 - exp(-c w_i)`` with ``c`` chosen so
    that ``sum(pi) = n`` (exact for equal weights).

    Parameters
    ----------
    weights
        ``(N,)`` positive draw weights.
    n
        Units drawn, ``0 <= n <= N``.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 in ``[0, 1]``, summing to ``n``.
    """
    w = np.asarray(weights, dtype=np.float64)
    if n <= 0:
        return np.zeros_like(w)
    if n >= w.size:
        return np.ones_like(w)
    w = w / w.max()

    def excess(c: float) -> float:
        return float((-np.expm1(-c * w)).sum()) - n

    hi = 1.0
    while excess(hi) < 0:
        hi *= 2.0
    return -np.expm1(-brentq(excess, 0.0, hi, xtol=1e-12) * w)


def loss_probability(available: np.ndarray, acs: np.ndarray, spec: SplitSpec) -> np.ndarray:
    """Probability that each location is in the loss set ``Lambda`` of a split of this frame.

    ``available`` and ``acs`` are ``(ky, kx)`` bool as in :func:`~cardiomm.training.ssdu.split_frame`;
    returns ``(ky, kx)`` float64, zero outside ``available & ~acs``.
    """
    kind, ids = unit_ids(available, available & ~acs, spec)
    units, w = unit_weights(ids, kind, spec.std_scale)
    out = np.zeros(ids.shape)
    if units.size < 2:
        return out
    pi = inclusion_probability(w, loss_units(units.size, spec))
    sel = ids >= 0
    out[sel] = pi[np.searchsorted(units, ids[sel])]
    return out


def sampling_density(masks: np.ndarray, acceleration: float) -> np.ndarray:
    """The sampling density ``P`` of a scan's mask family, ``(ky, kx)`` float64 in ``[1e-3, 1]``.

    Parameters
    ----------
    masks
        ``(b, ky, kx)`` bool: the locations of every frame that the splits draw from.
    acceleration
        Nominal acceleration ``R``: the profile over the distance from the centre is smoothed with a
        Gaussian of ``R / 2`` samples (a regular comb of period ``R`` becomes ``1 / R`` within 2 %),
        from the first distance that is not fully sampled in every frame outwards.
    """
    masks = np.asarray(masks, dtype=bool)
    _, ny, nx = masks.shape
    dy = np.abs(np.arange(ny) - ny // 2)[:, None]
    if all(is_line_mask(m) for m in masks):
        dist = np.broadcast_to(dy, (ny, nx))
    else:
        dx = np.abs(np.arange(nx) - nx // 2)[None, :]
        dist = np.rint(np.hypot(dy, dx)).astype(np.int64)
    mean = masks.mean(axis=0)
    n_bins = int(dist.max()) + 1
    count = np.bincount(dist.ravel(), minlength=n_bins)
    profile = np.bincount(dist.ravel(), weights=mean.ravel(), minlength=n_bins) / np.maximum(count, 1)
    full = np.flatnonzero(profile < 1.0 - 1e-6)  # the fully sampled centre is not smoothed into the rest
    b0 = int(full[0]) if full.size else n_bins
    if b0 < n_bins:
        sigma = max(float(acceleration) / 2.0, 0.5)
        profile[b0:] = gaussian_filter1d(profile[b0:], sigma=sigma, mode="nearest")
    return np.clip(profile[dist], _MIN_DENSITY, 1.0)


def k_weight(density: np.ndarray, loss_prob: np.ndarray) -> np.ndarray:
    """``(1 - K)^-1 = (1 - P~ P) / (P (1 - P~))`` per location, ``(ky, kx)`` float64, at most
    :data:`MAX_WEIGHT` (a location almost never drawn must not carry the whole loss); 0 where a location
    is never in ``Lambda`` (``loss_prob == 0``)."""
    p = np.clip(density, _MIN_DENSITY, 1.0)
    q = np.asarray(loss_prob, dtype=np.float64)
    keep = 1.0 - q
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.minimum((1.0 - keep * p) / (p * q), MAX_WEIGHT)
    return np.where(q > 0, w, 0.0)
