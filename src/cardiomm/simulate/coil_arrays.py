"""Vendor-like receive arrays: element layout, Biot-Savart sensitivities, correlated coil noise.

Two layouts cover the clinical cardiac arrays:

``anterior_posterior``
    Two flat-ish panels of loops, one on the chest wall and one under the back (the spine array of the
    table), ``rows x cols`` loops each: rows run left-right, columns head-foot. This is how body /
    cardiac arrays of 8 to 32 elements are built (e.g. 2 x (2 x 2), 2 x (3 x 3), 2 x (3 x 5)): the
    sensitivity falls off from the chest and the back towards the centre of the thorax, where the
    heart is, and lateral coverage is weak.
``ring``
    Loops evenly spaced on an elliptical cylinder around the thorax (one or two rings), the geometry of
    :func:`cardiomm.simulate.coils.biot_savart_csm`.

A short-axis plane is double oblique to the body axes, so the array coordinates are rotated about the
image centre by a random tilt before the field is evaluated on the image plane. Loop fields come from
the Biot-Savart law (:func:`cardiomm.simulate.coils.loop_field`), which gives the ``1/r^3``-like fall-off
of real surface coils.

Noise: receiver channels share noise through mutual inductance and the body, so the per-sample noise is
complex Gaussian with a covariance ``Psi = D^1/2 C D^1/2``: ``C = (1 - rho) I + rho exp(-d_ij / lambda)``
(``d_ij`` the distance between loop centres, a positive-definite kernel, so ``C`` is a valid correlation
matrix for any ``rho`` in [0, 1)) and ``D`` per-channel noise powers that vary by a few tens of percent
(receiver gains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import map_coordinates

from cardiomm.errors import ConfigError
from cardiomm.simulate.coils import loop_field, normalise_csm

__all__ = ["CoilArray", "array_geometry", "array_csm", "noise_covariance", "add_correlated_noise"]

LAYOUTS = ("anterior_posterior", "ring")


@dataclass(frozen=True)
class CoilArray:
    """A receive array.

    Attributes
    ----------
    name
        Short description, e.g. ``"18-ch body (2 x 3 x 3)"``.
    layout
        ``anterior_posterior`` or ``ring``.
    rows, cols
        Loops per panel (left-right x head-foot) for ``anterior_posterior``; ``rows`` = loops per ring
        and ``cols`` = rings (1 or 2) for ``ring``.
    noise_correlation
        ``rho`` of the noise correlation model (0: independent channels).
    """

    name: str
    layout: str
    rows: int
    cols: int
    noise_correlation: float = 0.2

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigError(f"unknown coil layout {self.layout!r}; choose from {', '.join(LAYOUTS)}")
        if self.rows < 1 or self.cols < 1:
            raise ConfigError(f"coil array {self.name!r} needs rows, cols >= 1")
        if not 0 <= self.noise_correlation < 1:
            raise ConfigError(f"noise_correlation must be in [0, 1), got {self.noise_correlation}")

    @property
    def n_elements(self) -> int:
        """Number of receive elements."""
        return (2 if self.layout == "anterior_posterior" else 1) * self.rows * self.cols


def _rotation(tilt_deg: tuple[float, float, float]) -> NDArray[np.float64]:
    a, b, c = (math.radians(v) for v in tilt_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def array_geometry(
    array: CoilArray,
    body_semi_axes: tuple[float, float],
    rng: np.random.Generator,
    *,
    tilt_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Loop centres ``(n, 3)``, unit normals ``(n, 3)`` and radii ``(n,)`` [mm] in image coordinates.

    Body frame: ``x`` left-right, ``y`` anterior-posterior (anterior at ``-semi_y``), ``z`` head-foot;
    the image plane is ``z = 0`` after the rotation ``tilt_deg`` (degrees about x, y, z). Element
    positions jitter by a few millimetres (patient-to-patient placement).
    """
    semi_x, semi_y = body_semi_axes
    centres, normals, radii = [], [], []
    if array.layout == "anterior_posterior":
        width = 1.6 * semi_x  # panels cover most of the chest width
        length = 0.9 * width * array.cols / max(array.rows, 1)
        radius = 0.55 * min(width / array.rows, length / array.cols)
        for side in (-1.0, 1.0):  # anterior (chest), posterior (spine array)
            for r in range(array.rows):
                for c in range(array.cols):
                    x = (r + 0.5) / array.rows * width - width / 2
                    z = (c + 0.5) / array.cols * length - length / 2
                    # the chest panel follows the body's curvature a little
                    y = side * semi_y * (1.0 - (0.25 if side < 0 else 0.05) * (x / semi_x) ** 2)
                    centres.append((x + rng.normal(0, 4.0), y + rng.normal(0, 2.0), z + rng.normal(0, 4.0)))
                    normals.append((0.0, -side, 0.0))
                    radii.append(radius * float(np.exp(rng.normal(0, 0.05))))
    else:
        per_ring, n_rings = array.rows, min(array.cols, 2)
        h = (3 * semi_x + semi_y) * (semi_x + 3 * semi_y)
        perimeter = math.pi * (3 * (semi_x + semi_y) - math.sqrt(h))  # Ramanujan
        radius = min(0.45 * perimeter / per_ring, 80.0)
        for ring in range(n_rings):
            z = 0.0 if n_rings == 1 else (ring - 0.5) * 2.0 * 60.0
            phi0 = rng.uniform(0, 2 * math.pi / per_ring) + (math.pi / per_ring if ring % 2 else 0.0)
            for k in range(per_ring):
                phi = phi0 + 2 * math.pi * k / per_ring + rng.normal(0, 0.05)
                px, py = semi_x * math.cos(phi), semi_y * math.sin(phi)
                nx, ny = -math.cos(phi) / semi_x, -math.sin(phi) / semi_y
                norm = math.hypot(nx, ny)
                centres.append((px, py, z + rng.normal(0, 3.0)))
                normals.append((nx / norm, ny / norm, 0.0))
                radii.append(radius * float(np.exp(rng.normal(0, 0.05))))
    rot = _rotation(tilt_deg)
    return np.asarray(centres) @ rot.T, np.asarray(normals) @ rot.T, np.asarray(radii)


def array_csm(
    array: CoilArray,
    shape: tuple[int, int],
    spacing: tuple[float, float],
    *,
    body_semi_axes: tuple[float, float],
    seed: int | np.random.Generator = 0,
    tilt_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    slice_offset: float = 0.0,
    coarse: int = 4,
    n_segments: int = 24,
) -> tuple[NDArray[np.complex64], NDArray[np.float64]]:
    """Sensitivities of ``array`` on an image plane, normalised to ``sum_c |S_c|^2 = 1``.

    Parameters
    ----------
    shape, spacing
        Image grid ``(ny, nx)`` and pixel size ``(dy, dx)`` [mm] (the full, readout-oversampled grid).
    body_semi_axes
        Thorax semi-axes ``(x, y)`` [mm].
    seed
        Element jitter and per-element phase.
    tilt_deg
        Rotation of the array relative to the image plane (double-oblique short axis).
    slice_offset
        Image plane position along the rotated ``z`` [mm] (slices of a stack see the array shifted).
    coarse
        Fields are smooth: evaluated on a grid this much coarser and interpolated (cubic).

    Returns
    -------
    tuple
        Maps ``(c, y, x)`` complex64 and the loop centres ``(c, 3)`` [mm] (for the noise model).
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    centres, normals, radii = array_geometry(array, body_semi_axes, rng, tilt_deg=tilt_deg)
    cy, cx = max(4, -(-ny // coarse)), max(4, -(-nx // coarse))
    ys = (np.linspace(0, ny - 1, cy) - ny // 2) * spacing[0]
    xs = (np.linspace(0, nx - 1, cx) - nx // 2) * spacing[1]
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, slice_offset)], axis=-1)
    phases = np.exp(1j * rng.uniform(0, 2 * np.pi, len(radii)))
    fields = np.stack(
        [
            (loop_field(pts, centres[k], normals[k], radii[k], n_segments) * phases[k]).reshape(cy, cx)
            for k in range(len(radii))
        ]
    )
    fields /= max(float(np.abs(fields).max()), 1e-30)
    yi = np.arange(ny) * (cy - 1) / max(ny - 1, 1)
    xi = np.arange(nx) * (cx - 1) / max(nx - 1, 1)
    coords = np.stack(np.meshgrid(yi, xi, indexing="ij"))
    out = np.empty((len(radii), ny, nx), np.complex64)
    for k, f in enumerate(fields):
        out[k] = map_coordinates(f.real, coords, order=3, mode="nearest") + 1j * map_coordinates(
            f.imag, coords, order=3, mode="nearest"
        )
    return normalise_csm(out), centres


def noise_covariance(
    centres: NDArray[np.float64],
    rho: float,
    rng: np.random.Generator,
    *,
    length_mm: float = 120.0,
    gain_spread: float = 0.15,
) -> NDArray[np.complex128]:
    """Channel noise covariance ``D^1/2 C D^1/2`` (see the module notes), trace ``= c``.

    ``C = (1 - rho) I + rho exp(-d_ij / length_mm)``; ``D`` log-normal powers of spread ``gain_spread``.
    """
    d = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)
    corr = (1.0 - rho) * np.eye(len(centres)) + rho * np.exp(-d / length_mm)
    power = np.exp(rng.normal(0.0, gain_spread, len(centres)))
    power *= len(centres) / power.sum()
    sq = np.sqrt(power)
    return (sq[:, None] * corr * sq[None, :]).astype(np.complex128)


def add_correlated_noise(
    kspace: NDArray[np.complex64], sigma: float, covariance: NDArray[np.complex128], rng: np.random.Generator
) -> NDArray[np.complex64]:
    """Add complex Gaussian noise of covariance ``sigma^2 Psi`` over the coil axis (``-3``), in place.

    ``kspace`` is ``(..., c, ky, kx)``; each sample gets ``sigma L w`` with ``L L^H = Psi`` and white
    ``w`` (``1/sqrt 2`` per real and imaginary part).
    """
    if sigma <= 0:
        return kspace
    chol = np.linalg.cholesky(covariance).astype(np.complex64)
    n_coils = kspace.shape[-3]
    scale = np.float32(sigma / np.sqrt(2.0))
    for index in np.ndindex(kspace.shape[:-3]):
        white = (
            rng.standard_normal((n_coils, *kspace.shape[-2:]), dtype=np.float32)
            + 1j * rng.standard_normal((n_coils, *kspace.shape[-2:]), dtype=np.float32)
        ) * scale
        kspace[index] += np.einsum("cd,dyx->cyx", chol, white.astype(np.complex64))
    return kspace
