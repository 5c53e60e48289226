"""Off-resonance fields and the balanced SSFP (bSSFP, TrueFISP) signal phase they cause.

Field map: B0 inhomogeneity in the chest scales with the main field (a susceptibility effect, in ppm).
It is a smooth shim residual (a low-order polynomial, about +-0.3 ppm over the field of view) plus
localised lobes where tissue meets air or the great veins (heart-lung interface, posterior wall,
coronary sinus; about 0.5-1.5 ppm over 2-5 cm). At 1.5 T 1 ppm is 64 Hz, at 3 T 128 Hz.

bSSFP phase: with the echo at ``TE = TR/2`` the steady-state signal of an isochromat precessing at
``df`` carries the phase ``theta / 2`` with ``theta = 2 pi df TR``, modulo ``pi``: the phase rises
linearly with ``df`` and jumps by ``pi`` where ``theta`` crosses an odd multiple of ``pi`` (the dark
banding positions; Scheffler and Lehnhardt, Eur Radiol 2003). So the cine images of real scanners carry
a smooth phase with sharp ``pi`` steps near bands, stronger and with more steps at 3 T, which the
magnitude images we start from no longer show.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["GAMMA_HZ_PER_T", "off_resonance_map", "bssfp_phase"]

#: Proton gyromagnetic ratio / 2 pi [Hz/T].
GAMMA_HZ_PER_T = 42.577e6


def off_resonance_map(
    shape: tuple[int, int],
    spacing: tuple[float, float],
    field_t: float,
    rng: np.random.Generator,
    *,
    shim_ppm: float = 0.3,
    n_lobes: int = 2,
    lobe_ppm: tuple[float, float] = (0.5, 1.5),
    lobe_radius_mm: tuple[float, float] = (20.0, 50.0),
) -> NDArray[np.float32]:
    """Off-resonance frequency ``df`` [Hz] on an image grid ``(ny, nx)`` of pixel size ``(dy, dx)`` [mm].

    A degree-2 polynomial of amplitude about ``shim_ppm`` plus ``n_lobes`` Gaussian lobes of
    ``lobe_ppm`` (random sign) and ``lobe_radius_mm`` placed within the central half of the image,
    all times ``field_t x gamma`` (ppm -> Hz).
    """
    ny, nx = shape
    y = (np.arange(ny) - ny / 2) * spacing[0]
    x = (np.arange(nx) - nx / 2) * spacing[1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    half = max(abs(y).max(), abs(x).max(), 1e-6)
    u, v = yy / half, xx / half
    terms = [u, v, u * v, u * u, v * v]
    ppm = sum(rng.uniform(-1, 1) * t for t in terms) * shim_ppm / math.sqrt(len(terms))
    for _ in range(n_lobes):
        cy = rng.uniform(-0.25, 0.25) * ny * spacing[0]
        cx = rng.uniform(-0.25, 0.25) * nx * spacing[1]
        radius = rng.uniform(*lobe_radius_mm)
        amp = rng.uniform(*lobe_ppm) * rng.choice([-1.0, 1.0])
        ppm = ppm + amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    return (ppm * 1e-6 * field_t * GAMMA_HZ_PER_T).astype(np.float32)


def bssfp_phase(df_hz: NDArray[np.floating], tr_s: float) -> NDArray[np.float32]:
    """bSSFP signal phase [rad] at ``TE = TR/2``: ``theta/2`` wrapped to ``(-pi/2, pi/2]``,
    ``theta = 2 pi df TR``."""
    theta = 2.0 * np.pi * np.asarray(df_hz, dtype=np.float64) * tr_s
    wrapped = np.angle(np.exp(1j * theta))  # (-pi, pi]
    return (wrapped / 2.0).astype(np.float32)
