"""Cartesian 1-D masks (vary along ky, full readout): test ``Uniform`` and the training uniform/random.

Axis order: masks are ``bool`` ``(t, ky, kx)`` (``(ky, kx)`` for a 2-D shape), constant over ``kx``.

Sources: test ``Uniform`` = ``UniformSampling.m`` + ``ktMaskGenerator.m`` of the CardioMM mask toolbox
(cardiomm_reference.md section 10); training masks = ``FixedLowEquiSpacedMaskFunc`` /
``FixedLowRandomMaskFunc`` of the published trainer (section 8.2).
"""

from __future__ import annotations

import numpy as np

from cardiomm.sampling.base import MaskFunc, SeedLike, as_generator, lines_to_mask
from cardiomm.types import MaskPattern, TrainMaskType

__all__ = ["UniformMask", "TrainUniformMask", "TrainRandomMask"]


class UniformMask(MaskFunc):
    """Test-protocol ``Uniform`` mask: ky lines ``0, R, 2R, ...`` plus the central ACS lines, all frames.

    MATLAB ``mask(:, 1:R:end) = 1`` (offset 0) on ``zpad(ones(nx, ncalib), [nx, ny])``; the ACS band
    starts at ``floor(ny/2) - floor(acs/2)``. The same 2-D mask is repeated over every frame.
    Deterministic (``seed`` is ignored).

    Reproduces the official CMRxRecon2024 ``cine_sax_mask_Uniform8.mat`` (ny = 246, ACS 16, lines
    115-130) exactly; see ``tests/sampling/test_cartesian.py``.
    """

    pattern = MaskPattern.UNIFORM.value
    mask_type = TrainMaskType.UNIFORM
    centring = "test"

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """Lines ``0::R`` along ky, all frames, ``bool`` ``(t, ky, kx)``."""
        nt, ny, _ = shape
        lines = np.zeros((nt, ny), dtype=bool)
        lines[:, :: self.accel] = True
        return lines_to_mask(lines, shape)


class TrainUniformMask(MaskFunc):
    """Training ``uniform`` mask: ky lines ``0, R, 2R, ...`` (offset fixed at 0) plus the central ACS.

    ACS start ``(ny - acs + 1) // 2`` (fastMRI convention). One 1-D pattern shared by all frames.
    Deterministic (``seed`` is ignored).
    """

    pattern = TrainMaskType.UNIFORM.value
    mask_type = TrainMaskType.UNIFORM
    centring = "train"

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """Lines ``0::R`` along ky, ``bool`` ``(t, ky, kx)``."""
        nt, ny, _ = shape
        lines = np.zeros((nt, ny), dtype=bool)
        lines[:, :: self.accel] = True
        return lines_to_mask(lines, shape)


class TrainRandomMask(MaskFunc):
    """Training ``random`` mask: each ky line kept i.i.d. with probability ``1/R``, plus the central ACS.

    This is Bernoulli sampling, not variable density (the test ``ktGaussian`` is). ACS start
    ``(ny - acs + 1) // 2``. One draw of ``ny`` uniforms (``rng.random(ny) < 1/R``) shared by all
    frames, as the published trainer applies one mask per 2-D sample.
    """

    pattern = TrainMaskType.RANDOM.value
    mask_type = TrainMaskType.RANDOM
    centring = "train"
    needs_seed = True

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """Bernoulli(1/R) ky lines, ``bool`` ``(t, ky, kx)``."""
        assert seed is not None
        nt, ny, _ = shape
        rng = as_generator(seed)
        keep = rng.random(ny) < (ny / self.accel) / ny
        return lines_to_mask(np.broadcast_to(keep, (nt, ny)), shape)
