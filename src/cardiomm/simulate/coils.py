"""Synthetic receive-coil sensitivities (Biot-Savart loops around the thorax) and background phase.

Coil model
----------
``n_coils`` circular loops sit on an elliptical cylinder around the thorax (the image plane is
``z = 0``; the slice offset moves the plane along the cylinder axis). Loops are spread evenly in angle,
in one ring (n <= 8) or two rings at ``z = +-ring_offset``. Each loop is discretised into ``n_segments``
straight elements and the field is the Biot-Savart sum ``B(r) = sum dl x (r - r') / |r - r'|^3``
(constant ``mu0 I / 4 pi`` dropped); the receive sensitivity is ``B_x - i B_y`` times a random
per-coil phase. Fields are smooth, so they are evaluated on a coarse grid and interpolated (cubic).

With ``normalise=True`` the maps satisfy ``sum_c |S_c|^2 = 1`` at every pixel, so the coil RSS of the
noise-free multi-coil image equals the object magnitude.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import map_coordinates

from cardiomm.physics.coil_combine import rss_np

__all__ = ["biot_savart_csm", "loop_field", "normalise_csm", "smooth_phase"]

C64 = NDArray[np.complex64]


def _loop_geometry(
    n_coils: int, semi_x: float, semi_y: float, ring_offset: float, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Return centres (n, 3), inward normals (n, 3) and radii (n,) of the loops [mm]."""
    n_rings = 1 if n_coils <= 8 else 2
    per_ring = [n_coils // n_rings + (1 if r < n_coils % n_rings else 0) for r in range(n_rings)]
    centres, normals, radii = [], [], []
    for ring, n in enumerate(per_ring):
        z = 0.0 if n_rings == 1 else (ring - 0.5) * 2.0 * ring_offset
        phi0 = rng.uniform(0, 2 * math.pi / n) + (math.pi / n if ring % 2 else 0.0)
        h = (3 * semi_x + semi_y) * (semi_x + 3 * semi_y)
        perimeter = math.pi * (3 * (semi_x + semi_y) - math.sqrt(h))  # Ramanujan
        radius = 0.5 * perimeter / n * 0.9
        for k in range(n):
            phi = phi0 + 2 * math.pi * k / n + rng.normal(0, 0.05)
            px, py = semi_x * math.cos(phi), semi_y * math.sin(phi)
            nx, ny = -math.cos(phi) / semi_x, -math.sin(phi) / semi_y  # inward normal of the ellipse
            norm = math.hypot(nx, ny)
            centres.append((px, py, z + rng.normal(0, 3.0)))
            normals.append((nx / norm, ny / norm, 0.0))
            radii.append(min(radius, 80.0) * float(np.exp(rng.normal(0, 0.05))))
    return np.asarray(centres), np.asarray(normals), np.asarray(radii)


def loop_field(
    points: NDArray[np.float64],
    centre: NDArray[np.float64],
    normal: NDArray[np.float64],
    radius: float,
    n_segments: int,
) -> NDArray[np.complex128]:
    """Biot-Savart ``B_x - i B_y`` of one loop at ``points`` (P, 3)."""
    e1 = np.cross(normal, [0.0, 0.0, 1.0])
    if np.linalg.norm(e1) < 1e-9:
        e1 = np.array([1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    ang = np.linspace(0.0, 2 * np.pi, n_segments + 1)
    ring = centre + radius * (np.cos(ang)[:, None] * e1 + np.sin(ang)[:, None] * e2)  # (S+1, 3)
    mid = 0.5 * (ring[1:] + ring[:-1])
    dl = ring[1:] - ring[:-1]  # (S, 3)
    r = points[:, None, :] - mid[None, :, :]  # (P, S, 3)
    dist3 = np.maximum(np.linalg.norm(r, axis=-1), 1.0) ** 3
    b = np.cross(dl[None], r) / dist3[..., None]
    bsum = b.sum(axis=1)
    return bsum[:, 0] - 1j * bsum[:, 1]


def biot_savart_csm(
    n_coils: int,
    shape: tuple[int, int],
    spacing: tuple[float, float],
    *,
    body_semi_axes: tuple[float, float] = (175.0, 135.0),
    slice_offset: float = 0.0,
    ring_offset: float = 60.0,
    n_segments: int = 24,
    coarse: int = 4,
    normalise: bool = True,
    seed: int | np.random.Generator = 0,
) -> C64:
    """Coil sensitivity maps from circular loops around the thorax.

    Parameters
    ----------
    n_coils
        Number of coils (1 to 64).
    shape
        Image shape ``(ny, nx)`` (full, i.e. readout-oversampled, grid).
    spacing
        Pixel size ``(dy, dx)`` [mm].
    body_semi_axes
        Semi-axes ``(x, y)`` [mm] of the elliptical cylinder carrying the loops.
    slice_offset
        Position of the image plane along the cylinder axis [mm].
    ring_offset
        Half distance between the two rings of a two-ring array [mm].
    n_segments
        Straight elements per loop.
    coarse
        Evaluate on a grid ``coarse`` times coarser, then interpolate (1 = exact everywhere).
    normalise
        Scale so that ``sum_c |S_c|^2 = 1`` at every pixel.
    seed
        Seed or generator for loop positions and per-coil phases.

    Returns
    -------
    numpy.ndarray
        ``(c, y, x)`` complex64.
    """
    if not 1 <= n_coils <= 64:
        raise ValueError(f"n_coils must be 1..64, got {n_coils}")
    rng = np.random.default_rng(seed)
    ny, nx = shape
    cy, cx = max(4, -(-ny // coarse)), max(4, -(-nx // coarse))
    # coarse sample positions spanning the same extent as the fine pixel centres
    ys = (np.linspace(0, ny - 1, cy) - ny // 2) * spacing[0]
    xs = (np.linspace(0, nx - 1, cx) - nx // 2) * spacing[1]
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    pts = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, slice_offset)], axis=-1)
    centres, normals, radii = _loop_geometry(n_coils, body_semi_axes[0], body_semi_axes[1], ring_offset, rng)
    phases = np.exp(1j * rng.uniform(0, 2 * np.pi, n_coils))
    out = np.empty((n_coils, ny, nx), np.complex64)
    fields = [
        (loop_field(pts, centres[k], normals[k], radii[k], n_segments) * phases[k]).reshape(cy, cx)
        for k in range(n_coils)
    ]
    scale = max(float(np.max(np.abs(np.stack(fields)))), 1e-30)
    if (cy, cx) != (ny, nx):
        yi = np.arange(ny) * (cy - 1) / max(ny - 1, 1)
        xi = np.arange(nx) * (cx - 1) / max(nx - 1, 1)
        coords = np.stack(np.meshgrid(yi, xi, indexing="ij"))
    for k, f in enumerate(fields):
        f = f / scale
        if (cy, cx) == (ny, nx):
            out[k] = f
        else:
            re = map_coordinates(f.real, coords, order=3, mode="nearest")
            im = map_coordinates(f.imag, coords, order=3, mode="nearest")
            out[k] = re + 1j * im
    return normalise_csm(out) if normalise else out


def normalise_csm(csm: C64, eps: float = 1e-12) -> C64:
    """Scale ``(c, y, x)`` maps so that ``sum_c |S_c|^2 = 1`` at every pixel (complex64)."""
    norm = rss_np(csm.astype(np.complex128), axis=0, keepdims=True)
    return (csm / np.maximum(norm, eps)).astype(np.complex64)


def smooth_phase(
    shape: tuple[int, int], seed: int | np.random.Generator = 0, *, max_rad: float = np.pi, order: int = 2
) -> NDArray[np.float32]:
    """Smooth random background phase [rad], a 2-D polynomial of degree ``order`` over ``(y, x)``.

    Coefficients are drawn so that the phase stays within about ``+-max_rad`` over the image.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    y = np.linspace(-1.0, 1.0, ny)[:, None]
    x = np.linspace(-1.0, 1.0, nx)[None, :]
    phase = np.zeros((ny, nx))
    terms = [(i, j) for i in range(order + 1) for j in range(order + 1 - i)]
    for i, j in terms:
        phase = phase + rng.uniform(-1, 1) * (y**i) * (x**j)
    phase *= max_rad / len(terms) ** 0.5
    return phase.astype(np.float32)
