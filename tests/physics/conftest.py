"""Small synthetic multi-coil cases for the physics tests (seeded, generated in memory)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytest
import torch


@dataclass
class Case:
    """A noise-free (unless noise > 0) multi-coil case: numpy complex64 arrays."""

    img: np.ndarray  # (y, x) complex image
    csm: np.ndarray  # (c, y, x) smooth coil maps (not normalised)
    kspace: np.ndarray  # (c, ky, kx) = fft2c(csm * img) (+ noise)
    support: np.ndarray  # (y, x) bool object support

    def torch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(img (1, y, x), csm (1, c, y, x), kspace (1, c, ky, kx)) as complex64 tensors."""
        return (
            torch.from_numpy(self.img)[None],
            torch.from_numpy(self.csm)[None],
            torch.from_numpy(self.kspace)[None],
        )


def make_case(ny: int = 48, nx: int = 56, n_coils: int = 6, noise: float = 0.0, seed: int = 0) -> Case:
    """Ellipse phantom with a bright insert and a smooth phase, times Gaussian coil profiles around it."""
    from cardiomm.physics.fft import fft2c_np

    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    support = (x / 0.75) ** 2 + (y / 0.85) ** 2 < 1
    insert = (x - 0.2) ** 2 + (y + 0.1) ** 2 < 0.08
    img = (support * (1.0 + 0.6 * insert + 0.3 * y) * np.exp(1j * 0.5 * x)).astype(np.complex64)
    ang = 2 * np.pi * np.arange(n_coils) / n_coils + rng.uniform(0, 0.3)
    csm = np.stack(
        [
            np.exp(-((x - 1.3 * np.cos(a)) ** 2 + (y - 1.3 * np.sin(a)) ** 2) / 1.6)
            * np.exp(1j * (a + 1.2 * x * np.cos(a) + 0.8 * y * np.sin(a)))
            for a in ang
        ]
    ).astype(np.complex64)
    kspace = fft2c_np(csm * img).astype(np.complex64)
    if noise > 0:
        shape = kspace.shape
        noisy = kspace + noise * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        kspace = noisy.astype(np.complex64)
    return Case(img=img, csm=csm, kspace=kspace, support=support)


@pytest.fixture(scope="session")
def case_factory() -> Callable[..., Case]:
    """Factory ``case_factory(ny, nx, n_coils, noise, seed) -> Case``."""
    return make_case


@pytest.fixture(scope="session")
def case() -> Case:
    """Default 6-coil 48 x 56 noise-free case (< 32k samples: torch ops stay single-threaded)."""
    return make_case()


def crandn(*shape: int, gen: torch.Generator, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Complex standard normal tensor from an explicit generator."""
    return torch.randn(*shape, generator=gen, dtype=dtype)


@pytest.fixture
def gen() -> torch.Generator:
    """A fresh seeded torch generator."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def randn() -> Callable[..., torch.Tensor]:
    """``randn(*shape, gen=...)``: complex64 standard normal from an explicit generator."""
    return crandn


@pytest.fixture
def sigpy_mri() -> Iterator[ModuleType]:
    """``sigpy.mri`` (skips when sigpy is absent), run with one BLAS thread.

    On a small, oversubscribed CI machine, threaded OpenBLAS next to torch's OpenMP pool can spin for
    seconds on these tiny problems; one thread keeps the reference computation fast and deterministic.
    """
    mr = pytest.importorskip("sigpy.mri")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed-up
        limits: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
    with limits:
        yield mr
