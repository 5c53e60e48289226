"""SVD coil compression: lossless at full rank, energy ordered, calibration variants."""

from __future__ import annotations

import pytest
import torch

from cardiomm.errors import ShapeError
from cardiomm.physics import coil_compress


def _kspace(gen: torch.Generator, b: int = 2, c: int = 6, ky: int = 16, kx: int = 12) -> torch.Tensor:
    # correlated coils: 3 underlying sources mixed into c coils + a little independent noise
    src = torch.randn(b, 3, ky, kx, generator=gen, dtype=torch.complex64)
    mix = torch.randn(c, 3, generator=gen, dtype=torch.complex64)
    noise = 0.01 * torch.randn(b, c, ky, kx, generator=gen, dtype=torch.complex64)
    return torch.einsum("cs,bsyx->bcyx", mix, src) + noise


def test_coil_compress_full_rank_is_lossless() -> None:
    gen = torch.Generator().manual_seed(0)
    k = _kspace(gen)
    out, mat = coil_compress(k, n_virtual=6)
    assert out.shape == k.shape and mat.shape == (2, 6, 6) and out.dtype == mat.dtype == torch.complex64
    eye = torch.eye(6, dtype=torch.complex64).expand(2, 6, 6)
    torch.testing.assert_close(mat @ mat.mH, eye, rtol=0, atol=1e-5)
    back = (mat.mH @ out.reshape(2, 6, -1)).reshape(k.shape)
    torch.testing.assert_close(back, k, rtol=1e-4, atol=1e-4)
    assert abs(float(out.abs().pow(2).sum() / k.abs().pow(2).sum()) - 1) < 1e-5


def test_coil_compress_energy_is_ordered() -> None:
    gen = torch.Generator().manual_seed(1)
    k = _kspace(gen)
    out, _ = coil_compress(k, n_virtual=6)
    energy = out.abs().pow(2).sum(dim=(-2, -1))  # (b, n_virtual)
    assert bool((energy[:, :-1] >= energy[:, 1:]).all())
    # three sources: three virtual coils carry > 99.9 % of the energy
    frac = energy[:, :3].sum(-1) / energy.sum(-1)
    assert bool((frac > 0.999).all()), frac


def test_coil_compress_truncation_matches_leading_rows() -> None:
    gen = torch.Generator().manual_seed(2)
    k = _kspace(gen)
    full, mat_full = coil_compress(k, n_virtual=6)
    part, mat = coil_compress(k, n_virtual=3)
    assert part.shape == (2, 3, 16, 12) and mat.shape == (2, 3, 6)
    torch.testing.assert_close(mat, mat_full[:, :3])
    torch.testing.assert_close(part, full[:, :3])


def test_coil_compress_calibration_variants() -> None:
    gen = torch.Generator().manual_seed(3)
    k = _kspace(gen)
    _, mat_lines = coil_compress(k, 4, calib=8)
    _, mat_tensor = coil_compress(k, 4, calib=k[..., 4:12, :])  # (16 - 8 + 1) // 2 = 4
    torch.testing.assert_close(mat_lines, mat_tensor)
    shared, mat_shared = coil_compress(k, 4, calib=k[:1])  # one matrix broadcast over frames
    assert mat_shared.shape == (1, 4, 6) and shared.shape == (2, 4, 16, 12)
    torch.testing.assert_close(shared[1], (mat_shared[0] @ k[1].reshape(6, -1)).reshape(4, 16, 12))


def test_coil_compress_rejects_bad_input() -> None:
    k = torch.zeros(1, 4, 8, 8, dtype=torch.complex64)
    with pytest.raises(ShapeError, match="n_virtual"):
        coil_compress(k, 5)
    with pytest.raises(ShapeError, match="calib"):
        coil_compress(k, 2, calib=torch.zeros(1, 3, 4, 4, dtype=torch.complex64))
