"""On-the-fly training frames of the ``simunet`` segmenter: random short-axis phantom frames, augmented.

Every sample is drawn from an explicit :class:`numpy.random.Generator` (no files, no global state):

1. **anatomy**: a random subject (:func:`~cardiomm.simulate.anatomy.sample_heart`, any disease, adult or
   pediatric) with extra variation of the LV radius, wall thickness, heart position and in-plane angle;
   a random slice depth (base to just beyond the apex) and cardiac phase, rendered by
   :func:`~cardiomm.simulate.phantom.render_frame` (tissue and labels at pixel centres) on a grid of
   ``spacing_mm`` times a random zoom;
2. **contrast**: tissue intensities of a bSSFP steady state (:func:`~cardiomm.simulate.contrast.bssfp`,
   random field strength and flip angle) jittered per tissue (fat and lungs vary most), or, with
   probability ``p_other_contrast``, arbitrary intensities (blood and myocardium kept apart);
   smooth texture, dark papillary-muscle blobs inside the LV cavity (labelled LV) and random
   background blobs (labelled background);
3. **geometry**: random rotation, flip, anisotropic scaling, translation and a smooth elastic warp,
   resampled onto the ``size x size`` output grid (bilinear image, nearest labels);
4. **acquisition**: k-space low-pass to a random acquisition pixel size (1.2-3.5 mm, sharp or Hann
   filtered), complex Gaussian k-space noise (Rician magnitude, random SNR), smooth multiplicative
   bias field, optional circular / band field-of-view masks (zeros outside);
5. **normalisation**: :func:`~cardiomm.analysis.segmentation.unet.normalise_slices` (as at inference),
   then a random gamma.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import ndimage

from cardiomm.analysis.labels import BACKGROUND, LV
from cardiomm.analysis.segmentation.unet import normalise_slices
from cardiomm.simulate.anatomy import Disease, HeartParams, Population, sample_heart
from cardiomm.simulate.contrast import bssfp
from cardiomm.simulate.phantom import Grid, View, render_frame
from cardiomm.simulate.tissues import Tissue, tissue_parameter_arrays

__all__ = ["SimDataConfig", "random_heart", "tissue_intensities", "render_sample", "render_batch"]

_DISEASES = tuple(Disease)


@dataclass(frozen=True)
class SimDataConfig:
    """Parameters of the training-frame generator.

    Attributes
    ----------
    size
        Output side [px].
    spacing_mm
        Output pixel spacing [mm] (the segmenter's working spacing).
    zoom_range
        Range of the render pixel size relative to ``spacing_mm`` (random scaling of the anatomy).
    acq_spacing_mm
        Range of the simulated acquisition pixel size [mm] (k-space low-pass when coarser than the output).
    snr_range
        Range of the blood-pool signal-to-noise ratio (log-uniform).
    p_other_contrast
        Probability of arbitrary (non-bSSFP) tissue intensities.
    p_papillary
        Probability of dark papillary blobs in the LV cavity.
    max_distractors
        Maximum number of random background blobs.
    p_fov_mask
        Probability of zeroing the image outside a circle (as scanners do outside the reconstructed FOV).
    elastic_px
        Maximum amplitude [px] of the smooth elastic displacement.
    pediatric_fraction
        Fraction of pediatric subjects.
    percentiles
        Normalisation percentiles (the segmenter's).
    """

    size: int = 128
    spacing_mm: float = 2.0
    zoom_range: tuple[float, float] = (0.8, 1.2)
    acq_spacing_mm: tuple[float, float] = (1.2, 3.5)
    snr_range: tuple[float, float] = (6.0, 60.0)
    p_other_contrast: float = 0.15
    p_papillary: float = 0.7
    max_distractors: int = 4
    p_fov_mask: float = 0.35
    elastic_px: float = 4.0
    pediatric_fraction: float = 0.25
    percentiles: tuple[float, float] = (1.0, 99.0)


def random_heart(rng: np.random.Generator, pediatric_fraction: float = 0.25) -> HeartParams:
    """A random subject: any disease, adult or pediatric, with widened size, position and angle variation."""
    disease = _DISEASES[int(rng.integers(len(_DISEASES)))]
    pop = Population.PEDIATRIC if rng.random() < pediatric_fraction else Population.ADULT
    h = sample_heart(disease, pop, rng)
    radius = float(np.exp(rng.normal(0.0, 0.1)))
    return replace(
        h,
        lv_radius_ed=h.lv_radius_ed * radius,
        lv_radius_es=h.lv_radius_es * radius * float(np.exp(rng.normal(0.0, 0.08))),
        wall_ed=h.wall_ed * float(np.exp(rng.normal(0.0, 0.15))),
        rv_width_ed=h.rv_width_ed * float(np.exp(rng.normal(0.0, 0.15))),
        heart_offset=(float(rng.normal(15.0, 12.0)), float(rng.normal(-10.0, 12.0))),
        heart_angle=float(rng.uniform(-35.0, 35.0)),
    )


def tissue_intensities(rng: np.random.Generator, p_other: float = 0.2) -> NDArray[np.float64]:
    """Random intensity per :class:`~cardiomm.simulate.tissues.Tissue` (index = tissue value), max about 1."""
    n = len(Tissue)
    blood, myo = int(Tissue.BLOOD), int(Tissue.MYOCARDIUM)
    if rng.random() < p_other:
        v = rng.uniform(0.02, 1.0, n)
        if abs(v[blood] - v[myo]) < 0.25:
            v[myo] = (v[blood] + 0.25 + rng.uniform(0.0, 0.4)) % 1.0
    else:
        lut = tissue_parameter_arrays(float(rng.uniform(0.55, 3.0)))
        v = bssfp(lut["pd"], lut["t1"], lut["t2"], float(rng.uniform(35.0, 80.0)))
        v = v * np.exp(rng.normal(0.0, 0.2, n))
        for tissue, sd in ((Tissue.FAT, 0.5), (Tissue.LUNG, 0.8), (Tissue.LIVER, 0.3), (Tissue.SOFT, 0.4)):
            v[int(tissue)] *= np.exp(rng.normal(0.0, sd))
        v[blood] = max(v[blood], 1.6 * v[myo])
    v[int(Tissue.INFARCT)] = v[myo] * np.exp(rng.normal(0.0, 0.15))
    v[int(Tissue.AIR)] = 0.0
    return v / max(float(v.max()), 1e-6)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], n_freq: int = 4) -> NDArray[np.float64]:
    """Smooth random field of ``shape`` in [-1, 1]: random cosines, up to ``n_freq`` half-periods.

    Used for texture, bias fields, elastic displacements and background phase.
    """
    basis = []
    for n in shape:
        pos = np.arange(n)[:, None] / n
        freq = np.arange(n_freq)[None, :] + rng.uniform(0.0, 1.0, (1, n_freq))
        basis.append(np.cos(np.pi * freq * pos + rng.uniform(0.0, 2.0 * np.pi, (1, n_freq))))
    coef = rng.normal(0.0, 1.0, (n_freq, n_freq)) / (1.0 + np.arange(n_freq))[:, None]
    field = basis[0] @ coef @ basis[1].T
    return field / max(float(np.abs(field).max()), 1e-9)


def _ellipse(
    shape: tuple[int, int], cy: float, cx: float, a: float, b: float, ang: float
) -> NDArray[np.bool_]:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    c, s = np.cos(ang), np.sin(ang)
    u, v = c * (xx - cx) + s * (yy - cy), -s * (xx - cx) + c * (yy - cy)
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def _decorate(
    rng: np.random.Generator,
    sig: NDArray[np.float64],
    lab: NDArray[np.uint8],
    tis: NDArray[np.uint8],
    v: NDArray[np.float64],
    cfg: SimDataConfig,
) -> None:
    """Texture, papillary muscles (labelled LV) and background blobs, in place on ``sig``."""
    sig *= 1.0 + rng.uniform(0.0, 0.25) * _smooth_field(rng, sig.shape, int(rng.integers(3, 8)))
    lv = lab == LV
    if lv.sum() > 30 and rng.random() < cfg.p_papillary:
        ys, xs = np.nonzero(lv)
        cy, cx, r = ys.mean(), xs.mean(), np.sqrt(lv.sum() / np.pi)
        for _ in range(int(rng.integers(1, 4))):
            ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.45, 0.9) * r
            a, b = rng.uniform(0.1, 0.3, 2) * r + 0.5
            blob = _ellipse(sig.shape, cy + dist * np.sin(ang), cx + dist * np.cos(ang), a, b, ang) & lv
            sig[blob] = v[int(Tissue.MYOCARDIUM)] * rng.uniform(0.7, 1.5)
    free = (lab == BACKGROUND) & (tis != int(Tissue.MYOCARDIUM)) & (tis != int(Tissue.AIR))
    for _ in range(int(rng.integers(0, cfg.max_distractors + 1))):
        cy, cx = rng.uniform(0, sig.shape[0]), rng.uniform(0, sig.shape[1])
        a, b = rng.uniform(2.0, 14.0, 2)
        blob = _ellipse(sig.shape, cy, cx, a, b, rng.uniform(0, np.pi)) & free
        sig[blob] = rng.uniform(0.0, 1.1)


def _warp_coords(
    rng: np.random.Generator, size: int, centre: float, elastic_px: float
) -> NDArray[np.float64]:
    """Source coordinates ``(2, size, size)`` of a random rotation, flip, scaling, shift and elastic warp."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64) - (size - 1) / 2.0
    if rng.random() < 0.5:
        xx = -xx
    yy, xx = yy * rng.uniform(0.9, 1.1), xx * rng.uniform(0.9, 1.1)
    th = rng.uniform(0.0, 2.0 * np.pi)
    c, s = np.cos(th), np.sin(th)
    ty, tx = rng.normal(0.0, 0.08 * size, 2)
    amp = rng.uniform(0.0, elastic_px)
    ey = amp * _smooth_field(rng, (size, size), 5)
    ex = amp * _smooth_field(rng, (size, size), 5)
    return np.stack([centre + c * yy - s * xx + ty + ey, centre + s * yy + c * xx + tx + ex])


def _acquire(
    rng: np.random.Generator, img: NDArray[np.float64], cfg: SimDataConfig, blood: float
) -> NDArray[np.float64]:
    """k-space low-pass to a random acquisition resolution, complex noise -> magnitude (Rician)."""
    ny, nx = img.shape
    acq = rng.uniform(*cfg.acq_spacing_mm)
    ky = np.abs(np.fft.fftfreq(ny))[:, None] / min(1.0, cfg.spacing_mm / (acq * rng.uniform(1.0, 1.3)))
    kx = np.abs(np.fft.fftfreq(nx))[None, :] / min(1.0, cfg.spacing_mm / acq)
    keep = (ky <= 0.5) & (kx <= 0.5)
    filt = keep.astype(np.float64)
    if rng.random() < 0.5:  # Hann-type apodisation, as vendors' k-space filters
        filt *= np.cos(np.pi * np.minimum(ky, 0.5) / 1.4) * np.cos(np.pi * np.minimum(kx, 0.5) / 1.4)
    phase = np.exp(1j * np.pi * rng.uniform(0, 1) * _smooth_field(rng, img.shape, 3))
    k = np.fft.fft2(img * phase, norm="ortho")
    snr = np.exp(rng.uniform(np.log(cfg.snr_range[0]), np.log(cfg.snr_range[1])))
    sigma = blood / snr / np.sqrt(max(keep.mean(), 1e-3))
    k += sigma * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2.0)
    return np.abs(np.fft.ifft2(k * filt, norm="ortho"))


def render_sample(
    rng: np.random.Generator, cfg: SimDataConfig | None = None
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """One augmented training frame (``cfg``: default :class:`SimDataConfig` when None).

    Returns
    -------
    image, labels
        ``(size, size)`` float32 normalised image and uint8 labels (0 background, 1 LV, 2 MYO, 3 RV).
    """
    cfg = SimDataConfig() if cfg is None else cfg
    heart = random_heart(rng, cfg.pediatric_fraction)
    depth = rng.uniform(-0.05, 1.08) * heart.epi_length_ed
    phase = float(rng.random())
    n_r = int(cfg.size * 1.8) // 2 * 2
    d = cfg.spacing_mm * rng.uniform(*cfg.zoom_range)
    maps = render_frame(heart, View.SAX, Grid(n_r, n_r, d, d, 1), phase=phase, z=depth)
    v = tissue_intensities(rng, cfg.p_other_contrast)
    sig = v[maps.tissue]
    _decorate(rng, sig, maps.label, maps.tissue, v, cfg)
    coords = _warp_coords(rng, cfg.size, float(n_r // 2), cfg.elastic_px)
    img = ndimage.map_coordinates(sig, coords, order=1, mode="constant", cval=0.0)
    lab = ndimage.map_coordinates(maps.label, coords, order=0, mode="constant", cval=0).astype(np.uint8)
    img *= np.exp(rng.uniform(0.0, 0.6) * _smooth_field(rng, img.shape, 3))
    img = _acquire(rng, img, cfg, float(v[int(Tissue.BLOOD)]))
    if rng.random() < cfg.p_fov_mask:
        shift = rng.normal(0.0, 0.05 * cfg.size, (2, 1, 1))
        yy, xx = np.mgrid[: cfg.size, : cfg.size] - (cfg.size - 1) / 2.0 - shift
        img[np.hypot(yy, xx) > rng.uniform(0.35, 0.75) * cfg.size] = 0.0
    norm = normalise_slices(torch.from_numpy(img[None].astype(np.float32)), cfg.percentiles)[0].numpy()
    if rng.random() < 0.5:
        norm = norm ** float(np.exp(rng.normal(0.0, 0.25)))
    return norm.astype(np.float32), lab


def render_batch(
    rng: np.random.Generator, n: int, cfg: SimDataConfig | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of :func:`render_sample`.

    Returns
    -------
    images, labels
        ``(n, 1, size, size)`` float32 and ``(n, size, size)`` int64 tensors.
    """
    samples = [render_sample(rng, cfg) for _ in range(n)]
    images = torch.from_numpy(np.stack([s[0] for s in samples]))[:, None]
    labels = torch.from_numpy(np.stack([s[1] for s in samples]).astype(np.int64))
    return images, labels
