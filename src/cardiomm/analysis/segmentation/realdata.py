"""Training frames of the ``acdcunet`` segmenter: real ACDC slices with expert labels, augmented.

The ACDC HDF5 layout of ``../shared/data/acdc`` (one ``patientNNN.h5`` per patient, ``frame01`` =
end-diastole and ``frame02`` = end-systole, each with ``image`` ``(z, y, x)`` uint16 and ``label``
``(z, y, x)`` uint8 with ACDC codes 1 RV, 2 MYO, 3 LV) is read by :func:`load_acdc_slices`, which maps
the labels to the cardiomm convention (:mod:`cardiomm.analysis.labels`: 1 LV, 2 MYO, 3 RV). The files
store no pixel spacing (ACDC: about 1.37-1.68 mm), so every slice is given a *random* source spacing
from ``source_spacing_mm``; the scale augmentation covers the rest.

Every training sample (:func:`augment_slice`) is drawn from an explicit :class:`numpy.random.Generator`:

1. **geometry**: random rotation (any angle: DICOM orientations differ between vendors and sites),
   flip, anisotropic scale, translation (the heart is not always at the image centre) and a smooth
   elastic warp, sampled straight onto the ``size x size`` grid of ``spacing_mm`` pixels (bilinear
   image, nearest labels; zeros outside the source field of view, as scanners pad);
2. **acquisition**: k-space low-pass to a random coarser acquisition pixel (sharp or Hann-apodised:
   Gibbs ringing and blur as in real reconstructions), complex Gaussian noise (Rician magnitude, random
   SNR), optionally the residual of an undersampled acquisition (``p_undersample``: a random 1-D line
   mask, its zero-filled image blended in at a random fraction, as the aliasing and blur an accelerated
   reconstruction leaves), and a smooth multiplicative bias field (receive-coil shading);
3. **normalisation** as at inference (:func:`~cardiomm.analysis.segmentation.unet.normalise_slices`),
   then a random gamma (contrast differences between sequences and vendors).

A fraction ``p_simulated`` of the frames comes from the phantom generator of :mod:`.simdata`
(extra variety of contrast and anatomy, e.g. pediatric hearts). Optionally a fraction ``p_recon`` of the
real frames comes from *reconstructions* of the training patients' stacks (:func:`load_recon_slices`,
written by ``scripts/segmenter_recon_pairs.py``: synthesised k-space, undersampled, reconstructed and
resampled back onto the ACDC grid) with the expert labels of the source image: the segmenter then learns
to draw the expert's contours on the blur and residual artefacts of an accelerated reconstruction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch
from numpy.typing import NDArray
from scipy import ndimage

from cardiomm.analysis.labels import LV, MYO, RV
from cardiomm.analysis.segmentation.simdata import SimDataConfig, render_sample
from cardiomm.analysis.segmentation.unet import normalise_slices
from cardiomm.errors import InputFileError
from cardiomm.sampling import make_test_mask

__all__ = [
    "ACDC_NOMINAL_PIXEL_MM",
    "ACDC_TO_CARDIOMM",
    "RealDataConfig",
    "RealSlice",
    "load_acdc_slices",
    "load_recon_slices",
    "augment_slice",
    "RealBatches",
    "plain_slices",
]

#: Nominal in-plane pixel [mm] given to ACDC slices, whose files record none (ACDC: 1.37-1.68 mm).
ACDC_NOMINAL_PIXEL_MM = 1.5625

#: ACDC label code -> cardiomm label (ACDC: 1 RV cavity, 2 myocardium, 3 LV cavity).
ACDC_TO_CARDIOMM: NDArray[np.uint8] = np.array([0, RV, MYO, LV], dtype=np.uint8)


@dataclass(frozen=True)
class RealDataConfig:
    """Parameters of the real-slice augmentation.

    Attributes
    ----------
    size
        Output side [px].
    spacing_mm
        Output pixel spacing [mm] (the segmenter's working spacing).
    source_spacing_mm
        Range of the (unrecorded) ACDC pixel spacing [mm] assumed per sample.
    scale_jitter
        Extra relative anisotropic scaling (1 +- this).
    shift_mm
        Standard deviation of the random translation [mm].
    elastic_px
        Amplitude [px] of the smooth elastic displacement.
    acq_spacing_mm
        Range of the simulated acquisition pixel [mm] (low-pass only when coarser than the source).
    p_lowpass, p_noise
        Probabilities of the k-space low-pass and of added noise.
    p_undersample
        Probability of the undersampling residual (0: the shipped stage-1 / stage-2 recipes, whose
        random streams it leaves unchanged).
    undersample_accel, undersample_alpha
        Its acceleration range (a line mask with ``undersample_acs`` centre lines) and the range of the
        fraction of the zero-filled image blended in.
    snr_range
        Range of the signal-to-noise ratio (99th intensity percentile / noise sigma, log-uniform).
    bias_max
        Maximum log-amplitude of the multiplicative bias field.
    p_gamma
        Probability of a random gamma after normalisation.
    p_simulated
        Fraction of phantom frames from :mod:`.simdata`.
    p_recon
        Fraction of the real frames drawn from reconstruction slices, when :class:`RealBatches` has
        them (no random draw without them: earlier recipes keep their random streams).
    percentiles
        Normalisation percentiles (the segmenter's).
    """

    size: int = 192
    spacing_mm: float = 1.5
    source_spacing_mm: tuple[float, float] = (1.3, 1.8)
    scale_jitter: float = 0.12
    shift_mm: float = 20.0
    elastic_px: float = 3.0
    acq_spacing_mm: tuple[float, float] = (1.4, 3.0)
    p_lowpass: float = 0.5
    p_noise: float = 0.6
    p_undersample: float = 0.0
    undersample_accel: tuple[float, float] = (4.0, 16.0)
    undersample_alpha: tuple[float, float] = (0.0, 0.35)
    undersample_acs: float = 0.08
    snr_range: tuple[float, float] = (8.0, 80.0)
    bias_max: float = 0.5
    p_gamma: float = 0.5
    p_simulated: float = 0.15
    p_recon: float = 0.5
    percentiles: tuple[float, float] = (1.0, 99.0)
    sim: SimDataConfig = field(default_factory=lambda: SimDataConfig(size=192, spacing_mm=1.5))


@dataclass(frozen=True)
class RealSlice:
    """One real 2-D slice: magnitude ``image`` ``(y, x)`` float32 and ``labels`` (cardiomm codes)."""

    image: NDArray[np.float32]
    labels: NDArray[np.uint8]
    subject: str


def _read_acdc(path: Path) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Images and cardiomm labels ``(2, z, y, x)`` (ED, ES) of one ACDC patient file."""
    if not path.is_file():
        raise InputFileError("ACDC patient file not found", path=path)
    images, labels = [], []
    try:
        with h5py.File(path, "r") as f:
            for frame in ("frame01", "frame02"):
                img = np.asarray(f[frame]["image"][()], dtype=np.float32)
                lab = np.asarray(f[frame]["label"][()])
                if img.shape != lab.shape or img.ndim != 3 or lab.max() > 3:
                    raise InputFileError(f"{frame}: image / label shapes or codes are not ACDC's", path=path)
                images.append(img)
                labels.append(ACDC_TO_CARDIOMM[lab])
    except (OSError, KeyError) as exc:
        raise InputFileError(f"not an ACDC patient file ({exc})", path=path) from None
    if images[0].shape != images[1].shape:
        raise InputFileError("ED and ES stacks differ in shape", path=path)
    return np.stack(images), np.stack(labels)


def load_acdc_slices(root: str | os.PathLike[str], patients: Sequence[str]) -> list[RealSlice]:
    """All ED and ES slices of ``patients`` (e.g. ``"patient001"``) under the ACDC folder ``root``.

    Raises
    ------
    InputFileError
        A patient file is missing or lacks ``frame0N/image`` / ``frame0N/label``.
    """
    out: list[RealSlice] = []
    for pid in patients:
        images, labels = _read_acdc(Path(root) / f"{pid}.h5")
        for img, lab in zip(
            images.reshape(-1, *images.shape[-2:]), labels.reshape(-1, *labels.shape[-2:]), strict=True
        ):
            out.append(RealSlice(img, lab, pid))
    return out


def load_recon_slices(
    folder: str | os.PathLike[str], root: str | os.PathLike[str], patients: Sequence[str]
) -> list[RealSlice]:
    """Reconstruction slices of ``patients`` with their ACDC expert labels.

    ``folder`` holds ``<patient>_<mask>.npz`` files (key ``image``: ``(2, z, y, x)`` float32 on the ACDC
    grid of ``root/<patient>.h5``; ``scripts/segmenter_recon_pairs.py``); files of other patients are
    skipped, so a folder can never bring validation or test patients into training.

    Raises
    ------
    InputFileError
        An unreadable file, or an image whose shape is not its patient's stack, or not finite.
    """
    wanted = set(patients)
    out: list[RealSlice] = []
    labels_of: dict[str, NDArray[np.uint8]] = {}
    for path in sorted(Path(folder).glob("*.npz")):
        pid = path.stem.split("_")[0]
        if pid not in wanted:
            continue
        if pid not in labels_of:
            labels_of[pid] = _read_acdc(Path(root) / f"{pid}.h5")[1]
        labels = labels_of[pid]
        try:
            with np.load(path) as f:
                image = np.asarray(f["image"], dtype=np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise InputFileError(f"not a reconstruction-slice file ({exc})", path=path) from None
        if image.shape != labels.shape:
            raise InputFileError(
                f"image shape {image.shape} is not the ACDC stack's {labels.shape}", path=path
            )
        if not np.isfinite(image).all():
            raise InputFileError("image holds NaN/Inf", path=path)
        flat_img, flat_lab = image.reshape(-1, *image.shape[-2:]), labels.reshape(-1, *labels.shape[-2:])
        out.extend(RealSlice(i, lab, path.stem) for i, lab in zip(flat_img, flat_lab, strict=True))
    return out


def _smooth(rng: np.random.Generator, shape: tuple[int, int], n_freq: int = 3) -> NDArray[np.float64]:
    """A smooth random field in about [-1, 1] (sum of random low-frequency cosines)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]] / max(shape)
    out = np.zeros(shape)
    for _ in range(n_freq):
        fy, fx = rng.uniform(-1.5, 1.5, 2)
        out += np.cos(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
    return out / n_freq


def _lowpass_noise(
    rng: np.random.Generator, img: NDArray[np.float64], cfg: RealDataConfig, src_mm: float
) -> NDArray[np.float64]:
    """k-space low-pass to a coarser acquisition pixel and complex noise, on the source grid."""
    ny, nx = img.shape
    filt = np.ones(img.shape)
    if rng.random() < cfg.p_lowpass:
        acq = rng.uniform(*cfg.acq_spacing_mm)
        fy = np.abs(np.fft.fftfreq(ny))[:, None] / min(1.0, src_mm / (acq * rng.uniform(1.0, 1.3)))
        fx = np.abs(np.fft.fftfreq(nx))[None, :] / min(1.0, src_mm / acq)
        filt = ((fy <= 0.5) & (fx <= 0.5)).astype(np.float64)
        if rng.random() < 0.5:
            filt *= np.cos(np.pi * np.minimum(fy, 0.5) / 1.4) * np.cos(np.pi * np.minimum(fx, 0.5) / 1.4)
    noisy = rng.random() < cfg.p_noise
    under = cfg.p_undersample > 0 and rng.random() < cfg.p_undersample  # no draw at 0: old streams kept
    if not noisy and not under and filt.min() == 1.0:
        return img
    k = np.fft.fft2(img, norm="ortho") * filt
    if noisy:
        snr = np.exp(rng.uniform(np.log(cfg.snr_range[0]), np.log(cfg.snr_range[1])))
        sigma = float(np.percentile(img, 99)) / snr
        k = k + sigma * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / np.sqrt(2.0)
    x = np.fft.ifft2(k, norm="ortho")
    if under:
        alpha = rng.uniform(*cfg.undersample_alpha)
        x = x + alpha * (np.fft.ifft2(k * _line_mask(rng, k.shape, cfg), norm="ortho") - x)
    return np.abs(x)


def _line_mask(rng: np.random.Generator, shape: tuple[int, int], cfg: RealDataConfig) -> NDArray[np.float64]:
    """A random protocol line mask (:func:`cardiomm.sampling.make_test_mask`, Uniform or ktGaussian,
    R from ``undersample_accel`` plus the centre lines within ``undersample_acs / 2`` of k = 0) of
    ``shape`` along a random axis, in unshifted FFT order."""
    axis = int(rng.integers(2))
    n, other = shape[axis], shape[1 - axis]
    accel = int(round(rng.uniform(*cfg.undersample_accel)))
    acs = int((np.abs(np.fft.fftfreq(n)) <= cfg.undersample_acs / 2).sum())
    pattern = "Uniform" if rng.random() < 0.5 else "ktGaussian"
    seed = int(rng.integers(2**31))
    mask = make_test_mask(pattern, max(accel, 1), other, n, 1, acs=acs, seed=seed, squeeze=True)  # (n, other)
    mask = np.fft.ifftshift(mask, axes=0).astype(np.float64)
    return mask if axis == 0 else mask.T


def augment_slice(
    rng: np.random.Generator, sl: RealSlice, cfg: RealDataConfig
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """One augmented ``(size, size)`` training pair (normalised float32 image, uint8 labels)."""
    src_mm = rng.uniform(*cfg.source_spacing_mm)
    img = _lowpass_noise(rng, sl.image.astype(np.float64), cfg, src_mm)
    img = img * np.exp(rng.uniform(0.0, cfg.bias_max) * _smooth(rng, img.shape))
    # output pixel (i, j) -> source coordinates: rotate, scale, flip, shift about the source centre
    n = cfg.size
    theta = rng.uniform(0.0, 2 * np.pi)
    scale = cfg.spacing_mm / src_mm * (1.0 + rng.uniform(-cfg.scale_jitter, cfg.scale_jitter, 2))
    c, s = np.cos(theta), np.sin(theta)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2.0
    yy, xx = yy * scale[0], xx * scale[1] * flip
    shift = rng.normal(0.0, cfg.shift_mm / src_mm, 2)
    centre = (np.array(img.shape) - 1) / 2.0
    amp = rng.uniform(0.0, cfg.elastic_px)
    coords = np.stack(
        [
            centre[0] + c * yy - s * xx + shift[0] + amp * _smooth(rng, (n, n), 4),
            centre[1] + s * yy + c * xx + shift[1] + amp * _smooth(rng, (n, n), 4),
        ]
    )
    out = ndimage.map_coordinates(img, coords, order=1, mode="constant", cval=0.0)
    lab = ndimage.map_coordinates(sl.labels, coords, order=0, mode="constant", cval=0).astype(np.uint8)
    norm = normalise_slices(torch.from_numpy(out[None].astype(np.float32)), cfg.percentiles)[0].numpy()
    if rng.random() < cfg.p_gamma:
        norm = norm ** float(np.exp(rng.normal(0.0, 0.3)))
    return norm.astype(np.float32), lab


def plain_slices(
    slices: Sequence[RealSlice], cfg: RealDataConfig, source_mm: float = ACDC_NOMINAL_PIXEL_MM
) -> tuple[torch.Tensor, torch.Tensor]:
    """Un-augmented network inputs of ``slices`` (the inference pre-processing, ``source_mm`` pixels).

    Returns ``(n, 1, size, size)`` float32 images and ``(n, size, size)`` int64 labels (validation).
    """
    n = cfg.size
    images, labels = [], []
    for sl in slices:
        yy, xx = (np.mgrid[:n, :n] - (n - 1) / 2.0) * (cfg.spacing_mm / source_mm)
        coords = np.stack([yy + (sl.image.shape[0] - 1) / 2.0, xx + (sl.image.shape[1] - 1) / 2.0])
        img = ndimage.map_coordinates(sl.image.astype(np.float64), coords, order=1, cval=0.0)
        labels.append(ndimage.map_coordinates(sl.labels, coords, order=0, cval=0))
        images.append(normalise_slices(torch.from_numpy(img[None].astype(np.float32)), cfg.percentiles)[0])
    return torch.stack(images)[:, None], torch.from_numpy(np.stack(labels).astype(np.int64))


class RealBatches:
    """Batch source for :func:`~cardiomm.analysis.segmentation.train_unet.train_unet`: real + phantom frames.

    Parameters
    ----------
    slices
        Real training slices.
    cfg
        Augmentation parameters.
    recon
        Reconstruction slices (:func:`load_recon_slices`), drawn for a share ``cfg.p_recon`` of the real
        frames; ``None`` or empty: none.
    """

    def __init__(
        self,
        slices: Sequence[RealSlice],
        cfg: RealDataConfig | None = None,
        recon: Sequence[RealSlice] | None = None,
    ) -> None:
        if not slices:
            raise InputFileError("no real training slices")
        self.slices = list(slices)
        self.recon = list(recon or [])
        self.cfg = RealDataConfig() if cfg is None else cfg

    def __call__(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` frames: ``(n, 1, size, size)`` float32 images and ``(n, size, size)`` int64 labels."""
        pairs = []
        for _ in range(n):
            if rng.random() < self.cfg.p_simulated:
                pairs.append(render_sample(rng, self.cfg.sim))
            else:
                pool = self.recon if self.recon and rng.random() < self.cfg.p_recon else self.slices
                pairs.append(augment_slice(rng, pool[int(rng.integers(len(pool)))], self.cfg))
        images = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
        return images, torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))
