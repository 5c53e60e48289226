"""Tissue-dependent image phase for k-space synthesised from magnitude images.

The complex images of a real bSSFP cine are not a magnitude with a smooth phase. Each tissue carries its
own signal phase, with steps at the tissue boundaries:

- **Chemical shift.** Fat precesses 3.4 ppm below water (-217 Hz at 1.5 T, -435 Hz at 3 T). With the
  echo at ``TE = TR/2`` the bSSFP signal phase is half the precession angle per TR, modulo ``pi``
  (:mod:`cardiomm.simulate.offresonance`): with TR = 3 ms fat sits about 2.0 rad (1.5 T) or 1.0 rad
  (3 T) away from water, so subcutaneous, epicardial and pericardial fat differ from muscle and blood.
- **Flow.** Through-plane flow in the blood pool and the great vessels adds a velocity-dependent phase
  (the first gradient moment is nulled only at the echo centre of a balanced readout).
- **Susceptibility.** The field steps between tissues of different susceptibility (lung, liver,
  myocardium, blood of different oxygenation) shift the bSSFP phase region by region.

The magnitude images this is applied to show tissues by their intensity, so the phase is a random
smooth function of the smoothed magnitude: ``knots`` points evenly spaced over the intensity range of
each slice (0 to its 99th percentile), each with an offset drawn uniformly from ``[-a, a]``, ``a`` drawn
per subject from ``[0.3, 1] x max_rad``, linear in between. Tissues of different intensity get
different phases with steps at their boundaries, a tissue keeps its phase while it moves over the
cardiac cycle, and the small intensity variations inside one tissue (noise, shading) move its phase only
a little, with no speckle. The magnitude is smoothed by ``blur_px`` first (partial volume at the
boundaries, less noise). The background keeps phase 0 (it holds only noise).

Why it is needed (a model trained only on smooth phase does not transfer to real images) and what it
costs the shipped models: ``docs/real_anatomy.md``, "Tissue phase".
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

from cardiomm.errors import ConfigError, ShapeError

__all__ = ["check_amplitude", "tissue_phase"]

#: Share of the 99th magnitude percentile below which a pixel is background.
_OBJECT_LEVEL = 0.05


def check_amplitude(max_rad: float, name: str = "tissue_phase_rad") -> None:
    """Raise :class:`ConfigError` unless ``max_rad`` (the option ``name``) is in ``[0, pi]`` rad."""
    if not (np.isfinite(max_rad) and 0.0 <= max_rad <= np.pi):
        raise ConfigError(f"{name} must be in [0, pi] rad, got {max_rad}")


def tissue_phase(
    magnitude: NDArray[np.floating],
    max_rad: float,
    rng: np.random.Generator,
    *,
    knots: int = 5,
    blur_px: float = 1.0,
) -> NDArray[np.float32]:
    """Phase [rad] ``(t, z, y, x)``, a random smooth function of the tissue intensity, for a magnitude
    ``(t, z, y, x)``.

    Parameters
    ----------
    magnitude
        Non-negative images ``(t, z, y, x)``.
    max_rad
        Largest offset amplitude [rad], in ``[0, pi]``; ``0`` gives zeros and draws nothing from ``rng``.
    rng
        Source of the subject's amplitude and class offsets.
    knots
        Number of intensity points with their own offset (>= 2).
    blur_px
        Gaussian blur of the magnitude before the mapping [pixels] (>= 0).

    Raises
    ------
    ShapeError
        ``magnitude`` is not 4-D.
    ConfigError
        ``max_rad``, ``knots`` or ``blur_px`` out of range.
    """
    mag = np.asarray(magnitude, dtype=np.float32)
    if mag.ndim != 4:
        raise ShapeError(f"magnitude must be (t, z, y, x), got shape {mag.shape}")
    check_amplitude(max_rad, "tissue phase amplitude")
    if knots < 2:
        raise ConfigError(f"tissue phase needs at least 2 intensity knots, got {knots}")
    if not (np.isfinite(blur_px) and blur_px >= 0):
        raise ConfigError(f"tissue phase blur must be >= 0 pixels, got {blur_px}")
    out = np.zeros(mag.shape, np.float32)
    if max_rad == 0.0:
        return out
    amplitude = max_rad * rng.uniform(0.3, 1.0)
    offsets = rng.uniform(-amplitude, amplitude, knots)
    smooth = gaussian_filter(mag, sigma=(0, 0, blur_px, blur_px)) if blur_px > 0 else mag
    for z in range(mag.shape[1]):
        sl = smooth[:, z]
        top = float(np.percentile(sl, 99))
        if top <= 0:
            continue
        level = np.clip(sl / top, 0.0, 1.0)
        phase = np.interp(level, np.linspace(0.0, 1.0, knots), offsets)
        out[:, z] = np.where(level > _OBJECT_LEVEL, phase, 0.0)
    return out
