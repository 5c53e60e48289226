"""Variable-density Poisson-disc 2-D mask in the ``(ky, kx)`` plane, seeded.

Axis order: masks are ``bool`` ``(t, ky, kx)`` (``(ky, kx)`` for a 2-D shape).

Algorithm (cardiomm's own; the radius law follows sigpy's ``mri.poisson``)
--------------------------------------------------------------------------
Jittered random sequential adsorption: every grid point ``q`` gets a fixed continuous position
``q + u`` (``u`` uniform in ``[-1/2, 1/2)**2``), the points are visited in a random order, and a point is
accepted unless it lies inside the exclusion ellipse of an already accepted point ``p``:
``((y_q - y_p) / r_y(p))**2 + ((x_q - x_p) / r_x(p))**2 < 1`` (continuous positions). Working with
jittered positions makes the achieved density a smooth function of the radius (plain grid RSA jumps
from density 1 to about 0.36 as soon as the radius exceeds one pixel).

Exclusion radii grow linearly with the normalised radius ``rho`` (``rho = 1`` on the inscribed
ellipse): ``r = c * (1 + vd * rho)``, scaled by ``ny / max(ny, nx)`` along ky and ``nx / max(ny, nx)``
along kx (isotropic in normalised k-space). ``vd`` sets the variable density (the density falls roughly
as ``1 / (1 + vd * rho)**2``; ``vd = 0`` is uniform Poisson disc) and ``c`` is found by regula falsi so
that ``ny * nx / n_points`` is within ``tol`` (relative) of ``R`` for frame 0; later frames reuse ``c``
with their own random positions and order. With ``crop_corner``, points with ``rho >= 1`` are never
sampled. The central ``acs x acs`` square (``floor(N/2) - floor(n/2)``) is added afterwards and, as for
every cardiomm mask, is not counted in ``R``. All randomness comes from the explicit seed.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from cardiomm.errors import MaskError
from cardiomm.sampling.base import SeedLike, SquareAcsMaskFunc, as_generator
from cardiomm.types import TrainMaskType

__all__ = ["PoissonDiscMask", "poisson_disc"]


def _normalised_radius(ny: int, nx: int) -> np.ndarray:
    ky = (np.arange(ny) - ny / 2) / (ny / 2)
    kx = (np.arange(nx) - nx / 2) / (nx / 2)
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def poisson_disc(
    ny: int,
    nx: int,
    radius: np.ndarray | float,
    rng: np.random.Generator,
    *,
    crop_corner: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One jittered Poisson-disc pattern for given exclusion radii.

    Parameters
    ----------
    ny, nx
        Grid size (``ky``, ``kx``).
    radius
        Exclusion radius per grid point (``(ny, nx)`` or scalar), in units of ``max(ny, nx)``-normalised
        pixels: the ellipse has semi-axes ``radius * ny / max(ny, nx)`` (ky) and ``radius * nx / max``
        (kx).
    rng
        Source of the jitter (drawn first, ``(2, ny, nx)``) and of the visiting order.
    crop_corner
        Never sample points with normalised radius ``>= 1``.

    Returns
    -------
    tuple
        ``(mask, positions)``: ``bool`` ``(ky, kx)`` and the ``(2, ky, kx)`` float jittered positions.
    """
    big = max(ny, nx)
    rad = np.broadcast_to(np.asarray(radius, dtype=np.float64), (ny, nx))
    ry, rx = rad * (ny / big), rad * (nx / big)
    jitter = rng.random((2, ny, nx)) - 0.5
    pos_y = np.arange(ny, dtype=np.float64)[:, None] + jitter[0]
    pos_x = np.arange(nx, dtype=np.float64)[None, :] + jitter[1]
    order = rng.permutation(ny * nx)
    blocked = np.zeros((ny, nx), dtype=bool)
    if crop_corner:
        blocked |= _normalised_radius(ny, nx) >= 1
    sampled = np.zeros((ny, nx), dtype=bool)
    flat_blocked = blocked.reshape(-1)
    for idx in order.tolist():
        if flat_blocked[idx]:
            continue
        y, x = divmod(idx, nx)
        sampled[y, x] = True
        ryp, rxp = float(ry[y, x]), float(rx[y, x])
        hy, hx = math.ceil(ryp) + 1, math.ceil(rxp) + 1
        y0, y1, x0, x1 = max(y - hy, 0), min(y + hy + 1, ny), max(x - hx, 0), min(x + hx + 1, nx)
        dy = (pos_y[y0:y1, x0:x1] - pos_y[y, x]) / ryp
        dx = (pos_x[y0:y1, x0:x1] - pos_x[y, x]) / rxp
        blocked[y0:y1, x0:x1] |= dy**2 + dx**2 < 1
        flat_blocked[idx] = True
    return sampled, np.stack([pos_y, pos_x])


class PoissonDiscMask(SquareAcsMaskFunc):
    """Variable-density Poisson-disc mask (2-D ``(ky, kx)`` sampling, one pattern per frame) plus ACS square.

    Parameters
    ----------
    accel
        Target acceleration of the Poisson points, ``ny * nx / n_points`` (ACS not counted).
    acs
        Side of the central ACS square.
    vd
        Variable-density slope of the exclusion radius, ``r = c * (1 + vd * rho)`` (0 = uniform density).
    crop_corner
        Leave the k-space corners (normalised radius ``>= 1``) unsampled.
    tol
        Relative tolerance on the achieved acceleration of frame 0.
    max_iter
        Regula-falsi steps on the radius scale.
    """

    pattern = "Poisson"
    mask_type = TrainMaskType.RANDOM
    centring = "test"
    needs_seed = True

    def __init__(
        self,
        accel: int,
        *,
        acs: int = 20,
        vd: float = 2.0,
        crop_corner: bool = True,
        tol: float = 0.02,
        max_iter: int = 40,
    ) -> None:
        super().__init__(accel, acs=acs)
        if not isinstance(tol, numbers.Real) or not 0 < float(tol) < 1:
            raise MaskError(f"Poisson-disc tolerance must be in (0, 1), got {tol!r}")
        if not isinstance(vd, numbers.Real) or float(vd) < 0:
            raise MaskError(f"Poisson-disc variable-density slope must be >= 0, got {vd!r}")
        self.vd: float = float(vd)
        self.crop_corner: bool = bool(crop_corner)
        self.tol: float = float(tol)
        self.max_iter: int = int(max_iter)

    def radius_profile(self, ny: int, nx: int) -> np.ndarray:
        """Radius law ``1 + vd * rho`` over the grid (multiplied by the fitted scale ``c``), ``(ky, kx)``."""
        return 1 + self.vd * _normalised_radius(ny, nx)

    def find_scale(self, ny: int, nx: int, frame_seed: int) -> float:
        """Scale ``c`` of the radii reaching ``R`` within ``tol`` for frame 0 (best found otherwise).

        Regula falsi (Illinois variant) on ``log(achieved R) - log(R)`` over ``log c``; every trial uses
        the same jitter and order (``default_rng(frame_seed)``), so the achieved R is nearly monotone.
        """
        total = ny * nx
        target = float(self.accel)
        n_max = int((_normalised_radius(ny, nx) < 1).sum()) if self.crop_corner else total
        if n_max == 0 or total / n_max > target * (1 + self.tol):
            r_min = total / n_max if n_max else math.inf
            raise MaskError(
                f"acceleration R={self.accel} is below what a {'corner-cropped ' if self.crop_corner else ''}"
                f"Poisson-disc mask can reach on a {ny} x {nx} grid (minimum {r_min:.2f})"
            )
        profile = self.radius_profile(ny, nx)

        def err(log_c: float) -> float:
            mask, _ = poisson_disc(
                ny,
                nx,
                math.exp(log_c) * profile,
                np.random.default_rng(frame_seed),
                crop_corner=self.crop_corner,
            )
            n = int(mask.sum())
            return (math.log(total / n) if n else math.inf) - math.log(target)

        lo, hi = math.log(0.25), math.log(2.0)
        e_lo, e_hi = err(lo), err(hi)
        while e_lo > 0 and lo > math.log(1e-3):
            hi, e_hi, lo = lo, e_lo, lo - math.log(4.0)
            e_lo = err(lo)
        while e_hi < 0 and hi < math.log(4.0 * max(ny, nx)):
            lo, e_lo, hi = hi, e_hi, hi + math.log(2.0)
            e_hi = err(hi)
        best, best_err = (hi, e_hi) if abs(e_hi) < abs(e_lo) else (lo, e_lo)
        log_tol = math.log1p(self.tol)
        side = 0
        for _ in range(self.max_iter):
            if abs(best_err) <= log_tol or not (math.isfinite(e_lo) and math.isfinite(e_hi)):
                break
            if e_lo > 0 or e_hi < 0:  # not bracketed (target outside the reachable range)
                break
            mid = (lo * e_hi - hi * e_lo) / (e_hi - e_lo)
            if not lo < mid < hi:
                mid = 0.5 * (lo + hi)
            e_mid = err(mid)
            if abs(e_mid) < abs(best_err):
                best, best_err = mid, e_mid
            if e_mid < 0:
                lo, e_lo = mid, e_mid
                if side == -1:
                    e_hi /= 2
                side = -1
            else:
                hi, e_hi = mid, e_mid
                if side == 1:
                    e_lo /= 2
                side = 1
        return math.exp(best)

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """One Poisson-disc pattern per frame, ``bool`` ``(t, ky, kx)``."""
        assert seed is not None
        nt, ny, nx = shape
        rng = as_generator(seed)
        frame_seeds = rng.integers(0, 2**63, size=nt)
        scale = self.find_scale(ny, nx, int(frame_seeds[0]))
        radius = scale * self.radius_profile(ny, nx)
        out = np.empty(shape, dtype=bool)
        for f in range(nt):
            out[f], _ = poisson_disc(
                ny, nx, radius, np.random.default_rng(int(frame_seeds[f])), crop_corner=self.crop_corner
            )
        return out
