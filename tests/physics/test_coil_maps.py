"""Coil maps: ACS ratio maps against a numpy reference; ESPIRiT against sigpy and inside CG-SENSE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cardiomm.errors import MaskError, ShapeError
from cardiomm.physics import SenseOp, acs_line_mask, cg_sense, csm_from_acs, espirit, rss


def _phase_free_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|<a, b>| / (|a| |b|) per pixel over the coil axis 0 (1 = equal up to a per-pixel phase)."""
    num = np.abs(np.sum(np.conj(a) * b, axis=0))
    den = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    return num / np.maximum(den, 1e-30)


# ---------------------------------------------------------------- csm_from_acs


def test_csm_from_acs_matches_numpy_reference(case) -> None:  # type: ignore[no-untyped-def]
    _, _, kspace = case.torch()
    n_acs, eps = 12, 1e-6
    out = csm_from_acs(kspace, n_acs, taper=0.0, eps=eps)
    assert out.shape == kspace.shape and out.dtype == torch.complex64
    ny = kspace.shape[-2]
    start = (ny - n_acs + 1) // 2
    k = np.zeros_like(case.kspace, dtype=np.complex128)
    k[:, start : start + n_acs] = case.kspace[:, start : start + n_acs]
    ax = (-2, -1)
    imgs = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=ax), axes=ax, norm="ortho"), axes=ax)
    norm = np.sqrt((np.abs(imgs) ** 2).sum(0))
    ref = imgs / (norm + eps * norm.max())
    valid = norm > 1e-4 * norm.max()  # the noise-free background is 0 / 0 up to float32 round-off
    assert valid.mean() > 0.5
    np.testing.assert_allclose(out[0].numpy()[:, valid], ref[:, valid], rtol=0, atol=1e-4)
    assert np.abs(out[0].numpy()).max() <= 1.0 + 1e-5  # never amplified above unit RSS


def test_csm_from_acs_approximates_true_maps(case) -> None:  # type: ignore[no-untyped-def]
    _, _, kspace = case.torch()
    out = csm_from_acs(kspace, 24)[0].numpy()
    inside = case.support
    norm = np.sqrt((np.abs(out) ** 2).sum(0))
    np.testing.assert_allclose(norm[inside], 1.0, atol=1e-3)  # unit RSS inside the object
    agree = _phase_free_agreement(out, case.csm)[inside]
    med, p5 = np.median(agree), np.percentile(agree, 5)
    assert med > 0.99 and p5 > 0.95, (med, p5)


def test_csm_from_acs_mask_and_int_agree(case) -> None:  # type: ignore[no-untyped-def]
    _, _, kspace = case.torch()
    ny, nx = kspace.shape[-2:]
    by_int = csm_from_acs(kspace, 20, taper=0.5)
    by_mask = csm_from_acs(kspace, acs_line_mask(ny, nx, 20), taper=0.5)
    torch.testing.assert_close(by_int, by_mask)
    mask = acs_line_mask(ny, nx, 20)
    assert int(mask.sum()) == 20 * nx and bool(mask[0, 0, (ny - 20 + 1) // 2, 0])


def test_csm_from_acs_per_frame_masks(case) -> None:  # type: ignore[no-untyped-def]
    _, _, kspace = case.torch()
    ny, nx = kspace.shape[-2:]
    k2 = torch.cat([kspace, kspace])
    masks = torch.cat([acs_line_mask(ny, nx, 16), acs_line_mask(ny, nx, 24)])  # (2, 1, ky, kx)
    both = csm_from_acs(k2, masks)
    torch.testing.assert_close(both[0], csm_from_acs(kspace, 16)[0])
    torch.testing.assert_close(both[1], csm_from_acs(kspace, 24)[0])


def test_csm_from_acs_square_acs_tapers_both_axes(case) -> None:  # type: ignore[no-untyped-def]
    _, _, kspace = case.torch()
    ny, nx = kspace.shape[-2:]
    square = torch.zeros(1, 1, ny, nx, dtype=torch.bool)
    square[..., ny // 2 - 10 : ny // 2 + 10, nx // 2 - 10 : nx // 2 + 10] = True  # radial-style ACS
    out = csm_from_acs(kspace, square, taper=1.0)[0].numpy()
    agree = _phase_free_agreement(out, case.csm)[case.support]
    assert np.median(agree) > 0.99
    # a Hann taper removes most ringing: maps are smoother than the untapered ones
    raw = csm_from_acs(kspace, square, taper=0.0)[0].numpy()
    tv = lambda m: np.abs(np.diff(m, axis=-1)).sum()  # noqa: E731
    assert tv(out) < tv(raw)


def test_csm_from_acs_rejects_empty_acs(case) -> None:  # type: ignore[no-untyped-def]
    _, _, kspace = case.torch()
    with pytest.raises(MaskError):
        csm_from_acs(kspace, 0)
    with pytest.raises(MaskError, match="no sampled"):
        csm_from_acs(kspace, torch.zeros(1, 1, *kspace.shape[-2:], dtype=torch.bool))
    with pytest.raises(ShapeError):
        csm_from_acs(kspace, torch.ones(1, 1, 5, 5, dtype=torch.bool))


# ---------------------------------------------------------------- ESPIRiT


@pytest.fixture(scope="module")
def noisy_case(case_factory):  # type: ignore[no-untyped-def]
    return case_factory(48, 56, 6, noise=0.01, seed=5)  # small: sigpy's power method is slow


@pytest.mark.parametrize("shape", [(48, 56), (47, 55)])  # even and odd sizes (centring conventions)
def test_espirit_matches_sigpy(  # type: ignore[no-untyped-def]
    case_factory, sigpy_mri, shape: tuple[int, int]
) -> None:
    mr = sigpy_mri
    noisy_case = case_factory(*shape, 6, noise=0.01, seed=5)
    ksp = noisy_case.kspace  # (c, ky, kx): sigpy's axis order, same orientation as ours
    app = mr.app.EspiritCalib(ksp, calib_width=24, thresh=0.02, kernel_width=6, crop=0.95, show_pbar=False)
    ref = app.run()
    ours = espirit(torch.from_numpy(ksp)[None], 24, kernel_width=6, thresh=0.02, crop=0.95)
    assert ours.shape == (1, *ksp.shape) and ours.dtype == torch.complex64
    ours_np = ours[0].numpy()
    both = (np.abs(ref).sum(0) > 0) & (np.abs(ours_np).sum(0) > 0)
    inside = noisy_case.support & both
    assert inside.sum() > 0.9 * noisy_case.support.sum()
    agree = _phase_free_agreement(ours_np, ref)[inside]
    assert np.median(agree) > 0.999 and agree.min() > 0.99, (np.median(agree), agree.min())
    # same reference-coil phase convention: the maps agree without removing a phase
    assert np.median(np.abs(ours_np - ref).sum(0)[inside]) < 1e-3
    # same crop decision on >= 99 % of pixels
    assert np.mean((np.abs(ref).sum(0) > 0) == (np.abs(ours_np).sum(0) > 0)) > 0.99


def test_espirit_cg_sense_reproduces_image(case_factory) -> None:  # type: ignore[no-untyped-def]
    case = case_factory(48, 56, 6)
    img, _, kspace = case.torch()
    csm = espirit(kspace, 24, crop=0.0)
    full = torch.ones(1, 1, *kspace.shape[-2:], dtype=torch.bool)
    recon = cg_sense(kspace, full, csm, lam=0.0, n_iter=30)
    # data consistency: A x reproduces the fully sampled multi-coil k-space
    dc = float(torch.linalg.vector_norm(SenseOp(csm)(recon) - kspace) / torch.linalg.vector_norm(kspace))
    assert dc < 0.01, dc
    # magnitude equals the RSS of the coil images (ESPIRiT maps are unit-norm), inside the object
    ax = (-2, -1)
    ref = rss(torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(kspace, dim=ax), norm="ortho"), dim=ax))
    inside = torch.from_numpy(case.support)[None]
    err = float(torch.linalg.vector_norm((recon.abs() - ref)[inside]) / torch.linalg.vector_norm(ref[inside]))
    assert err < 0.01, err


def test_espirit_map_properties(noisy_case) -> None:  # type: ignore[no-untyped-def]
    k = torch.from_numpy(noisy_case.kspace)[None]
    k2 = torch.cat([k, 2.0 * k.roll(1, dims=1)])  # second frame: scaled, coils permuted
    maps = espirit(k2, 20, ref_coil=1)
    kept = maps.abs().sum(1) > 0
    norm = rss(maps)
    torch.testing.assert_close(norm[kept], torch.ones_like(norm[kept]), rtol=0, atol=1e-4)
    ref = maps[:, 1][kept]
    assert float(ref.imag.abs().max()) < 1e-5 and float(ref.real.min()) >= 0
    single = espirit(k2[1:], 20, ref_coil=1)
    torch.testing.assert_close(maps[1:], single)  # frames are independent
    assert bool(kept[0].any()) and not bool(kept[0].all())  # crop removes the background


def test_espirit_rejects_bad_input(noisy_case) -> None:  # type: ignore[no-untyped-def]
    k = torch.from_numpy(noisy_case.kspace)[None]
    with pytest.raises(ShapeError, match="calib_width"):
        espirit(k, 100)
    with pytest.raises(ShapeError, match="kernel_width"):
        espirit(k, 4, kernel_width=6)
    with pytest.raises(ShapeError, match=r"\(b, c, ky, kx\)"):
        espirit(k[0])
    with pytest.raises(MaskError, match="empty"):
        espirit(torch.zeros_like(k))


@pytest.mark.realdata
@pytest.mark.slow
def test_espirit_matches_sigpy_on_real_brain_data(  # type: ignore[no-untyped-def]
    shared_data: Path, sigpy_mri
) -> None:
    path = shared_data / "kspace" / "fallback_noncardiac" / "sigpy_brain_8ch_cartesian_ksp_poissonR8.npy"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    mr = sigpy_mri
    ksp = np.load(path).astype(np.complex64)  # (c, ky, kx) = (8, 230, 180), calibration region sampled
    ref = mr.app.EspiritCalib(ksp, calib_width=24, show_pbar=False).run()
    ours = espirit(torch.from_numpy(ksp)[None], 24)[0].numpy()
    both = (np.abs(ref).sum(0) > 0) & (np.abs(ours).sum(0) > 0)
    assert both.mean() > 0.3
    agree = _phase_free_agreement(ours, ref)[both]
    assert np.median(agree) > 0.999, np.median(agree)
