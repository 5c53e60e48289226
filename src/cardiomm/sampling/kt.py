"""k-t Cartesian masks (one ky line set per frame, full readout): ``ktGaussian`` and ``ktUniform``.

Axis order: masks are ``bool`` ``(t, ky, kx)`` (``(ky, kx)`` for a 2-D shape), constant over ``kx``
within a frame and varying from frame to frame.

Sources (read for facts; cardiomm_reference.md section 10): ``ktGaussianSampling.m``,
``ktUniformSampling.m``, ``ktdup.m``, ``randp.m`` of the CardioMM mask toolbox (a refactor of the
CMRxRecon2024 Task-2 toolbox, ACS raised from 16 to 20).

Random numbers for ktGaussian
-----------------------------
MATLAB's ``rng(s)`` (Mersenne Twister, seeded with ``init_genrand(s)``) followed by ``rand`` yields the
same doubles as numpy's *legacy* ``RandomState(s).rand`` (MT19937, ``init_genrand``, 53-bit doubles);
MATLAB's seed 0 is the twister's default seed 5489 (its first ``rand`` is 0.8147). The official Python
port relies on the same identity and checks it against MATLAB-generated references. cardiomm therefore
draws the per-frame line positions from local ``RandomState`` instances (:func:`matlab_rng`; never the
global numpy state), which makes an int ``seed`` the MATLAB per-file seed ``s``:
``KtGaussianMask(R)(shape, seed=s)`` follows ``ktGaussianSampling(nx, ny, nt, ncalib, R, 0.2, s)``
step by step. What cannot be reproduced from code is the seed itself: the toolbox draws ``s`` from
``randi([1 1000])`` with an unseeded RNG, so a released mask is only reproducible if its ``s`` is known
(e.g. stored in the manifest, or recovered by trying ``s = 1..1000`` against the released file).
A ``numpy.random.Generator`` seed replaces MATLAB's ``rand(nt, 1)`` by ``Generator.random(nt)``; the
rest of the scheme is unchanged.
"""

from __future__ import annotations

import numbers

import numpy as np

from cardiomm.errors import ConfigError, MaskError
from cardiomm.sampling.base import (
    MaskFunc,
    SeedLike,
    check_seed,
    lines_to_mask,
    round_half_up,
)
from cardiomm.types import MaskPattern, TrainMaskType

__all__ = [
    "KtGaussianMask",
    "KtUniformMask",
    "kt_gaussian_density",
    "randp",
    "ktdup",
    "matlab_rng",
    "KT_GAUSSIAN_ALPHA",
]

#: Density parameter of the test protocol (``alpha = 0.2`` in ``ktMaskGenerator.m``).
KT_GAUSSIAN_ALPHA = 0.2

_MATLAB_DEFAULT_TWISTER_SEED = 5489
_UINT32 = 2**32


def matlab_rng(seed: int) -> np.random.RandomState:
    """A *local* MT19937 stream equal to MATLAB ``rng(seed, 'twister')``; ``rand`` = ``.rand``.

    Parameters
    ----------
    seed
        ``0 <= seed < 2**32``. MATLAB maps seed 0 to the twister's default seed 5489; so does this.
    """
    value = check_seed(seed, upper=_UINT32)
    return np.random.RandomState(_MATLAB_DEFAULT_TWISTER_SEED if value == 0 else value)


def kt_gaussian_density(ny: int, alpha: float = KT_GAUSSIAN_ALPHA) -> np.ndarray:
    """Relative sampling density over ky of the ktGaussian pattern, ``(ny,)`` float64.

    ``0.1 + alpha / (1 - alpha + 1e-10) * exp(-p**2 / sigma**2)`` with ``sigma = ny / 5`` and
    ``p = -floor(ny/2), ..., ceil(ny/2) - 1`` (ky index 0 is ``p = -floor(ny/2)``).
    """
    p = np.arange(-(ny // 2), ny - ny // 2, dtype=np.float64)
    sigma = ny / 5
    return 0.1 + alpha / (1 - alpha + 1e-10) * np.exp(-(p**2) / (1 * sigma**2))


def randp(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws (MATLAB ``randp``/``histc``): 0-based indices into ``probabilities``.

    Parameters
    ----------
    probabilities
        Non-negative relative weights, ``(n,)``.
    uniforms
        Values in ``[0, 1)``; one draw per value (any shape).

    Returns
    -------
    numpy.ndarray
        ``int64`` indices, shape of ``uniforms``: ``k`` with ``edge[k] <= u < edge[k + 1]``, where
        ``edge = [0, cumsum(p)] / sum(p)`` (``sum`` taken as the last cumulative sum, as MATLAB does for
        short vectors). Zero-weight entries are never drawn.
    """
    prob = np.asarray(probabilities, dtype=np.float64).ravel()
    if prob.size == 0 or np.any(prob < 0) or not np.all(np.isfinite(prob)):
        raise MaskError("randp: probabilities must be finite, non-negative and non-empty")
    csum = np.cumsum(prob)
    if csum[-1] <= 0:
        raise MaskError("randp: all probabilities are zero")
    edges = np.concatenate(([0.0], csum)) / csum[-1]
    idx = np.searchsorted(edges, np.asarray(uniforms, dtype=np.float64), side="right") - 1
    # histc puts u == 1 (never produced by rand) into the last bin; keep indices valid regardless.
    return np.clip(idx, 0, prob.size - 1).astype(np.int64)


def ktdup(ky: np.ndarray, frame: np.ndarray, ny: int, nt: int) -> np.ndarray:
    """Move duplicate k-t samples to the nearest vacant ky of the same frame (MATLAB ``ktdup``).

    Parameters
    ----------
    ky
        0-based phase-encode index of each sample, ``(n,)`` int.
    frame
        0-based frame index of each sample, ``(n,)`` int (unchanged by this function).
    ny, nt
        Grid size.

    Returns
    -------
    numpy.ndarray
        New ``ky`` indices (``int64``, input order), distinct within every frame.

    Notes
    -----
    As in ``ktdup.m``: duplicates are processed in ascending order of their grid position
    ``frame * ny + ky`` (for each repeated position, every occurrence after the first); each moves to
    the vacant ky of its own frame with the smallest squared distance to its original ky, the lower ky
    winning ties (MATLAB ``min`` returns the first of the ascending vacancy list); the chosen position
    is then occupied.
    """
    ky = np.asarray(ky, dtype=np.int64).ravel().copy()
    frame = np.asarray(frame, dtype=np.int64).ravel()
    if ky.shape != frame.shape:
        raise MaskError("ktdup: ky and frame must have the same length")
    if ky.size and (ky.min() < 0 or ky.max() >= ny or frame.min() < 0 or frame.max() >= nt):
        raise MaskError(f"ktdup: samples outside the {ny} x {nt} k-t grid")
    pos = frame * ny + ky
    values, counts = np.unique(pos, return_counts=True)
    repeated = values[counts > 1]
    if repeated.size == 0:
        return ky
    occupied = np.zeros((nt, ny), dtype=bool)
    occupied[frame, ky] = True
    grid = np.arange(ny)
    for value in repeated:  # ascending, as MATLAB's unique
        for d in np.flatnonzero(pos == value)[1:]:
            f, k0 = int(frame[d]), int(ky[d])
            vacant = grid[~occupied[f]]
            if vacant.size == 0:
                raise MaskError(f"ktdup: frame {f} has no vacant ky line left")
            new = int(vacant[np.argmin((vacant - k0) ** 2)])
            occupied[f, new] = True
            ky[d] = new
    return ky


class KtGaussianMask(MaskFunc):
    """Test-protocol ``ktGaussian`` mask: per-frame variable-density ky lines plus the central ACS.

    Per frame, ``tr = round_half_up(ny / R)`` ky indices are drawn i.i.d. from
    :func:`kt_gaussian_density` by inverse CDF (:func:`randp`), duplicates are moved by :func:`ktdup`
    (so every frame has exactly ``tr`` distinct lines), and the ACS band (``floor(ny/2) - floor(acs/2)``)
    is added. Frames are visited in the order ``-floor(nt/2) .. ceil(nt/2) - 1`` (= 0-based frames
    ``0 .. nt-1``); frame ``f`` draws from ``matlab_rng(frame_seeds[f])``. See the module docstring for
    the seed scheme (an int seed is MATLAB's per-file seed).

    Parameters
    ----------
    accel
        Nominal acceleration ``R`` (ACS not counted).
    acs
        Number of central ACS ky lines (20 in CardioMM, 16 in CMRxRecon2024).
    alpha
        Density parameter, ``0 <= alpha < 1`` (0.2 in the test protocol).
    """

    pattern = MaskPattern.KT_GAUSSIAN.value
    mask_type = TrainMaskType.RANDOM
    centring = "test"
    needs_seed = True

    def __init__(self, accel: int, *, acs: int = 20, alpha: float = KT_GAUSSIAN_ALPHA) -> None:
        super().__init__(accel, acs=acs)
        if not isinstance(alpha, numbers.Real) or not 0 <= float(alpha) < 1:
            raise MaskError(f"ktGaussian alpha must be in [0, 1), got {alpha!r}")
        self.alpha: float = float(alpha)

    def lines_per_frame(self, ny: int) -> int:
        """``tr = round_half_up(ny / R)``: drawn lines per frame (before adding the ACS)."""
        return int(round_half_up(ny / self.accel))

    @staticmethod
    def frame_seeds(nt: int, seed: SeedLike) -> np.ndarray:
        """Per-frame seeds ``round_half_up(1e6 * u)``, ``u`` = ``rand(nt, 1)`` after ``rng(seed)``.

        An int ``seed`` uses :func:`matlab_rng` (MATLAB-compatible); a Generator gives ``u =
        seed.random(nt)``. Returns ``(nt,)`` int64.
        """
        if isinstance(seed, np.random.Generator):
            uniforms = seed.random(nt)
        else:
            uniforms = matlab_rng(seed).rand(nt)
        return round_half_up(1e6 * uniforms)

    def sample_lines(self, ny: int, nt: int, seed: SeedLike) -> np.ndarray:
        """The drawn (pre-ACS) lines: ``(nt, tr)`` int64 0-based ky indices, distinct per frame.

        Row ``f`` lists the ``tr`` lines of frame ``f`` in draw order (after :func:`ktdup`).
        """
        if seed is None:
            raise ConfigError("the ktGaussian mask is random: pass an explicit seed")
        tr = self.lines_per_frame(ny)
        density = kt_gaussian_density(ny, self.alpha)
        seeds = self.frame_seeds(nt, seed)
        ky = np.empty((nt, tr), dtype=np.int64)
        for i in range(-(nt // 2), nt - nt // 2):  # MATLAB frame order; f = i + floor(nt/2)
            f = i + nt // 2
            ky[f] = randp(density, matlab_rng(int(seeds[f])).rand(tr))
        frames = np.repeat(np.arange(nt, dtype=np.int64), tr)
        return ktdup(ky.ravel(), frames, ny, nt).reshape(nt, tr)

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """The drawn lines of every frame, ``bool`` ``(t, ky, kx)``."""
        assert seed is not None
        nt, ny, _ = shape
        lines = np.zeros((nt, ny), dtype=bool)
        drawn = self.sample_lines(ny, nt, seed)
        lines[np.arange(nt)[:, None], drawn] = True
        return lines_to_mask(lines, shape)


class KtUniformMask(MaskFunc):
    """``ktUniform`` mask (CMRxRecon2024 toolbox, not in the CardioMM test set): sheared k-t lattice + ACS.

    ``toeplitz(ptmp, ttmp)`` with ones every ``R`` along ky and t gives the lattice: frame ``t`` samples
    the ky lines ``k`` with ``(k - t) mod R == 0``. It is passed through :func:`ktdup` (a no-op for a
    lattice) and united with the ACS band. Deterministic (``seed`` is ignored).

    Notes
    -----
    For even ``nt`` this equals ``ktUniformSampling.m`` exactly. For odd ``nt`` the MATLAB code
    centres frames with ``floor(nt)/2`` (a half-integer) instead of ``floor(nt/2)``, which shifts its
    samples by half a k-space and one frame when they are written back; cardiomm implements the intended
    lattice for every ``nt``.
    """

    pattern = MaskPattern.KT_UNIFORM.value
    mask_type = TrainMaskType.UNIFORM
    centring = "test"

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """The sheared lattice, ``bool`` ``(t, ky, kx)``."""
        nt, ny, _ = shape
        t_idx = np.arange(nt)[:, None]
        k_idx = np.arange(ny)[None, :]
        lattice = (k_idx - t_idx) % self.accel == 0
        frames, ky = np.nonzero(lattice)
        ky = ktdup(ky, frames, ny, nt)
        lines = np.zeros((nt, ny), dtype=bool)
        lines[frames, ky] = True
        return lines_to_mask(lines, shape)
