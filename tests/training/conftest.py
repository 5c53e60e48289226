"""Tiny MMCMR-style trees for the training tests (seeded, written in ``tmp_path`` with ``save_mat``).

Layout: ``Cine/{TrainingSet,TestSet}/FullSample/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/cine_sax.mat``
(``kspace_full``, h5py order ``(t, z, c, ky, kx)``). Images are smooth ellipses with a little
texture, coil maps smooth Gaussians, so the k-space behaves like MR data (energy at the centre).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cardiomm.io.mat import save_mat
from cardiomm.physics.fft import fft2c_np

#: (center, scanner folder, patient, set, (t, z, c, ky, kx))
TREE_SCANS: tuple[tuple[str, str, str, str, tuple[int, int, int, int, int]], ...] = (
    ("Center001", "Siemens_30T_Vida", "P001", "TrainingSet", (2, 2, 3, 24, 32)),
    ("Center001", "Siemens_30T_Vida", "P002", "TrainingSet", (2, 2, 3, 24, 32)),
    ("Center002", "GE_15T_Artist", "P001", "TrainingSet", (2, 1, 3, 24, 40)),
    ("Center002", "GE_15T_Artist", "P002", "TrainingSet", (2, 1, 3, 24, 40)),
    ("Center001", "Siemens_30T_Vida", "P003", "TestSet", (2, 2, 3, 24, 32)),
)


def _phantom(rng: np.random.Generator, shape: tuple[int, int, int, int, int]) -> np.ndarray:
    t, z, c, ny, nx = shape
    y, x = np.mgrid[-1 : 1 : ny * 1j, -1 : 1 : nx * 1j]
    img = np.zeros((t, z, ny, nx), dtype=np.complex64)
    for ti in range(t):
        for zi in range(z):
            a, b = 0.6 + 0.1 * rng.random(), 0.5 + 0.1 * rng.random()
            body = ((x / a) ** 2 + (y / b) ** 2 < 1).astype(np.float32)
            heart = (((x - 0.1 * zi) / 0.25) ** 2 + ((y + 0.05 * ti) / 0.2) ** 2 < 1).astype(np.float32)
            img[ti, zi] = (body * (1.0 + 0.2 * rng.standard_normal((ny, nx))) + 2.0 * heart) * np.exp(
                1j * 0.3 * x
            )
    centres = np.linspace(-1, 1, c)
    csm = np.stack([np.exp(-((x - cx) ** 2 + y**2) / 0.8) for cx in centres]).astype(np.complex64)
    coil_imgs = img[:, :, None] * csm[None, None]
    kspace = fft2c_np(coil_imgs.astype(np.complex64))
    noise = 0.01 * (rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape))
    return (kspace + noise).astype(np.complex64)


def write_tree(root: Path, scans=TREE_SCANS, seed: int = 0) -> Path:
    """Write the scans of ``scans`` under ``root`` and return it."""
    rng = np.random.default_rng(seed)
    for center, scanner, patient, data_set, shape in scans:
        rel = Path("Cine") / data_set / "FullSample" / center / scanner / patient / "cine_sax.mat"
        save_mat(root / rel, {"kspace_full": _phantom(rng, shape)})
    return root


@pytest.fixture(scope="session")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-scan tree (4 training patients over 2 centers and 2 frame sizes, 1 test patient)."""
    return write_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: much faster than oversubscribed threads on a small shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
