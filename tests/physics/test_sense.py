"""SenseOp against a numpy reference; CG-SENSE exactness, convergence and agreement with sigpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiomm.errors import DataValueError, ShapeError
from cardiomm.physics import MaskOp, SenseOp, SensitivityOp, cg_sense, conjugate_gradient


def _np_sense_forward(img: np.ndarray, csm: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """numpy reference: mask * fftshift(fft2(ifftshift(csm * img))) / sqrt(N), complex128."""
    ax = (-2, -1)
    coil = csm.astype(np.complex128) * img[:, None].astype(np.complex128)
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(coil, axes=ax), axes=ax), axes=ax)
    return mask * k / np.sqrt(img.shape[-1] * img.shape[-2])


def test_sense_op_forward_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    b, c, y, x = 2, 3, 10, 9
    img = (rng.standard_normal((b, y, x)) + 1j * rng.standard_normal((b, y, x))).astype(np.complex64)
    csm = (rng.standard_normal((b, c, y, x)) + 1j * rng.standard_normal((b, c, y, x))).astype(np.complex64)
    mask = rng.random((b, 1, y, x)) < 0.5
    out = SenseOp(torch.from_numpy(csm), torch.from_numpy(mask))(torch.from_numpy(img))
    assert out.shape == (b, c, y, x) and out.dtype == torch.complex64
    ref = _np_sense_forward(img, csm, mask)
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    assert np.all(out.numpy()[np.broadcast_to(~mask, ref.shape)] == 0)


def test_sense_op_adjoint_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    b, c, y, x = 1, 4, 8, 8
    k = (rng.standard_normal((b, c, y, x)) + 1j * rng.standard_normal((b, c, y, x))).astype(np.complex64)
    csm = (rng.standard_normal((b, c, y, x)) + 1j * rng.standard_normal((b, c, y, x))).astype(np.complex64)
    mask = rng.random((b, 1, y, x)) < 0.5
    ax = (-2, -1)
    coil = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(mask * k, axes=ax), axes=ax, norm="ortho"), axes=ax)
    ref = (np.conj(csm) * coil).sum(axis=1)
    out = SenseOp(torch.from_numpy(csm), torch.from_numpy(mask)).adjoint(torch.from_numpy(k))
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_sense_op_rejects_mismatched_shapes() -> None:
    csm = torch.ones(2, 3, 8, 8, dtype=torch.complex64)
    with pytest.raises(ShapeError, match=r"image \(y, x\)"):
        SenseOp(csm)(torch.ones(2, 8, 6, dtype=torch.complex64))
    with pytest.raises(ShapeError, match="batch"):
        SensitivityOp(csm)(torch.ones(3, 8, 8, dtype=torch.complex64))
    with pytest.raises(ShapeError, match="coil images"):
        SensitivityOp(csm).adjoint(torch.ones(2, 4, 8, 8, dtype=torch.complex64))
    with pytest.raises(ShapeError, match="does not fit"):
        SenseOp(csm, torch.ones(2, 1, 8, 6, dtype=torch.bool))
    with pytest.raises(ShapeError, match=r"\(b, 1, ky, kx\)"):
        MaskOp(torch.ones(2, 3, 8, 8, dtype=torch.bool))
    with pytest.raises(ShapeError, match=r"\(b, c, ky, kx\)"):
        MaskOp(torch.ones(8, 8, dtype=torch.bool))(torch.ones(8, 8, dtype=torch.complex64))
    with pytest.raises(DataValueError, match="boolean"):
        MaskOp(torch.full((8, 8), 0.5))


def test_cg_sense_full_sampling_recovers_image(case) -> None:  # type: ignore[no-untyped-def]
    img, csm, kspace = case.torch()
    mask = torch.ones(1, 1, *img.shape[-2:], dtype=torch.bool)
    out = cg_sense(kspace, mask, csm, lam=0.0, n_iter=40)
    assert out.shape == img.shape and out.dtype == torch.complex64
    err = float(torch.linalg.vector_norm(out - img) / torch.linalg.vector_norm(img))
    assert err < 1e-4, err


def test_cg_sense_full_sampling_matches_closed_form_tikhonov(case) -> None:  # type: ignore[no-untyped-def]
    # full sampling: A^H A = diag(sum_c |S_c|^2), so x = A^H y / (sum_c |S_c|^2 + lam) pixel-wise
    img, csm, kspace = case.torch()
    lam = 0.3
    ref = (csm.conj() * csm * img[:, None]).sum(1) / ((csm.abs() ** 2).sum(1) + lam)
    out = cg_sense(kspace, torch.ones(img.shape[-2:], dtype=torch.bool), csm, lam=lam, n_iter=60)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_cg_sense_prior_matches_closed_form_and_dense_solve(case, case_factory) -> None:  # type: ignore[no-untyped-def]
    """``prior`` p: full sampling gives x = (A^H y + lam p) / (sum_c |S_c|^2 + lam) pixel-wise; an
    undersampled case matches a dense numpy solve of (A^H A + lam I) x = A^H y + lam p."""
    img, csm, kspace = case.torch()
    gen = torch.Generator().manual_seed(3)
    prior = torch.randn(img.shape, dtype=torch.complex64, generator=gen)
    lam = 0.2
    aty = (csm.conj() * csm * img[:, None]).sum(1)
    ref = (aty + lam * prior) / ((csm.abs() ** 2).sum(1) + lam)
    full = torch.ones(img.shape[-2:], dtype=torch.bool)
    out = cg_sense(kspace, full, csm, lam=lam, n_iter=60, prior=prior)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))

    img, csm, kspace = case_factory(12, 10, 4, 0.0, 1).torch()  # small enough for a dense A
    prior = torch.randn(img.shape, dtype=torch.complex64, generator=gen)
    b, ny, nx = img.shape
    mask = ((torch.arange(ny) % 3 == 0) | (torch.arange(ny) - ny // 2).abs().lt(2)).reshape(1, 1, ny, 1)
    x = cg_sense(kspace * mask, mask, csm, lam=lam, n_iter=200, prior=prior, x0=prior)
    csm_np, m_np = csm.numpy().astype(np.complex128), np.broadcast_to(mask.numpy(), (1, 1, ny, nx))
    for i in range(b):  # dense A: columns are the forward model of unit images
        eye = np.eye(ny * nx).reshape(ny * nx, ny, nx)
        cols = [_np_sense_forward(e[None], csm_np[i : i + 1], m_np).ravel() for e in eye]
        a_mat = np.stack(cols, axis=1)
        y = (kspace[i : i + 1] * mask).numpy().astype(np.complex128).ravel()
        lhs = a_mat.conj().T @ a_mat + lam * np.eye(ny * nx)
        rhs = a_mat.conj().T @ y + lam * prior[i].numpy().astype(np.complex128).ravel()
        want = np.linalg.solve(lhs, rhs).reshape(ny, nx)
        np.testing.assert_allclose(x[i].numpy(), want, rtol=0, atol=2e-4 * np.abs(want).max())
    with pytest.raises(ShapeError, match="prior"):
        cg_sense(kspace, mask, csm, lam=lam, prior=prior[:, :-1])


def test_cg_sense_undersampled_residual_decreases(case) -> None:  # type: ignore[no-untyped-def]
    img, csm, kspace = case.torch()
    gen = torch.Generator().manual_seed(7)
    ny = img.shape[-2]
    lines = (torch.rand(ny, generator=gen) < 0.3) | (torch.arange(ny) - ny // 2).abs().lt(4)
    mask = lines.reshape(1, 1, ny, 1)
    lam = 1e-3
    sense_op = SenseOp(csm, mask)
    rhs = sense_op.adjoint(kspace)
    residuals: list[float] = []
    objective: list[float] = []  # CG decreases f(x) = <x, (A^H A + lam) x> / 2 - Re <x, A^H y> monotonically

    def record(i: int, x: torch.Tensor, r: torch.Tensor) -> None:
        residuals.append(float(r[0]))
        nx = sense_op.normal()(x) + lam * x
        objective.append(0.5 * float((x.conj() * nx).sum().real) - float((x.conj() * rhs).sum().real))

    out = cg_sense(kspace * mask, mask, csm, lam=lam, n_iter=25, callback=record)
    assert len(residuals) == 25
    assert residuals[-1] < 1e-2 * residuals[0]
    assert all(b <= a + 1e-6 * abs(a) for a, b in zip(objective, objective[1:], strict=False)), objective
    assert objective[-1] < objective[0] < 0
    # data consistency: the reconstruction reproduces the measured samples
    pred = SenseOp(csm, mask)(out)
    dc = float(torch.linalg.vector_norm(pred - kspace * mask) / torch.linalg.vector_norm(kspace * mask))
    assert dc < 0.05, dc


def test_cg_sense_matches_sigpy_sense_recon(case, sigpy_mri) -> None:  # type: ignore[no-untyped-def]
    mr = sigpy_mri
    img, csm, kspace = case.torch()
    ny, nx = img.shape[-2:]
    rng = np.random.default_rng(3)
    lines = (rng.random(ny) < 0.35) | (np.abs(np.arange(ny) - ny // 2) < 4)
    mask_np = np.broadcast_to(lines[:, None], (ny, nx)).astype(np.float32)
    ksp_np = kspace[0].numpy() * mask_np
    app = mr.app.SenseRecon(
        ksp_np, csm[0].numpy(), lamda=0.01, weights=mask_np, max_iter=100, show_pbar=False
    )
    ref = app.run()
    mask = torch.from_numpy(lines).reshape(1, 1, ny, 1)
    out = cg_sense(torch.from_numpy(ksp_np)[None], mask, csm, lam=0.01, n_iter=100)[0].numpy()
    err = np.linalg.norm(out - ref) / np.linalg.norm(ref)
    assert err < 1e-3, err


def test_cg_sense_warm_start_and_tol(case) -> None:  # type: ignore[no-untyped-def]
    img, csm, kspace = case.torch()
    mask = torch.ones(1, 1, *img.shape[-2:], dtype=torch.bool)
    calls: list[int] = []
    out = cg_sense(
        kspace,
        mask,
        csm,
        lam=0.0,
        n_iter=50,
        x0=img,
        tol=1e-4,
        callback=lambda i, x, r: calls.append(i),
    )
    assert len(calls) == 1  # already the solution
    torch.testing.assert_close(out, img, rtol=1e-4, atol=1e-4)
    with pytest.raises(ShapeError, match="x0"):
        cg_sense(kspace, mask, csm, x0=img[..., 1:])


def test_conjugate_gradient_batched_solves_independent_systems() -> None:
    # two different SPD diagonal systems in one batch; exact solution known
    gen = torch.Generator().manual_seed(9)
    diag = torch.rand(2, 12, generator=gen) + 0.5
    rhs = torch.randn(2, 12, generator=gen, dtype=torch.complex64)
    out = conjugate_gradient(lambda v: diag * v, rhs, n_iter=40)
    torch.testing.assert_close(out, rhs / diag, rtol=1e-5, atol=1e-5)
    zero = conjugate_gradient(lambda v: diag * v, torch.zeros_like(rhs), n_iter=5)
    assert bool(torch.isfinite(zero).all()) and float(zero.abs().max()) == 0.0


def test_cg_sense_tensor_lam_matches_float_and_differentiates(case) -> None:  # type: ignore[no-untyped-def]
    """A 0-d tensor ``lam`` gives the float result, and d x / d lam matches a central finite difference
    (full sampling, closed form x = (A^H y + lam p) / (sum_c |S_c|^2 + lam))."""
    img, csm, kspace = case.torch()
    ny, nx = img.shape[-2:]
    mask = ((torch.arange(ny) % 2 == 0) | (torch.arange(ny) - ny // 2).abs().lt(3)).reshape(1, 1, ny, 1)
    prior = 0.8 * img
    want = cg_sense(kspace * mask, mask, csm, lam=0.07, n_iter=12, x0=prior, prior=prior)
    lam = torch.tensor(0.07, requires_grad=True)
    got = cg_sense(kspace * mask, mask, csm, lam=lam, n_iter=12, x0=prior, prior=prior)
    torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    full = torch.ones(1, 1, ny, nx, dtype=torch.bool)
    lam = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    s2 = (csm.abs() ** 2).sum(1).double()
    aty = (csm.conj() * csm * img[:, None]).sum(1).to(torch.complex128)
    p = prior.to(torch.complex128)
    x = cg_sense(kspace, full, csm, lam=lam.float(), n_iter=60, prior=prior)
    x.abs().sum().backward()
    eps = 1e-4
    closed = [((aty + lv * p) / (s2 + lv)).abs().sum().item() for lv in (0.3 + eps, 0.3 - eps)]
    fd = (closed[0] - closed[1]) / (2 * eps)
    assert lam.grad is not None and abs(float(lam.grad) - fd) < 1e-2 * abs(fd), (float(lam.grad), fd)
    with pytest.raises(ShapeError, match="scalar"):
        cg_sense(kspace, full, csm, lam=torch.ones(2))


def test_cg_sense_per_sample_lam_solves_each_sample_with_its_own(case) -> None:  # type: ignore[no-untyped-def]
    """``lam`` of shape ``(b,)`` (the mask-dependent output layer) equals running each sample alone with
    its scalar weight."""
    img, csm, kspace = case.torch()
    img, csm, kspace = (torch.cat([t, 0.5 * t]) for t in (img, csm, kspace))
    ny, nx = img.shape[-2:]
    mask = ((torch.arange(ny) % 3 == 0) | (torch.arange(ny) - ny // 2).abs().lt(2)).reshape(1, 1, ny, 1)
    prior = 0.9 * img
    lams = torch.tensor([0.02, 0.5])
    both = cg_sense(kspace * mask, mask, csm, lam=lams, n_iter=15, x0=prior, prior=prior)
    for i in range(2):
        one = cg_sense(
            kspace[i : i + 1] * mask, mask, csm[i : i + 1], lam=float(lams[i]), n_iter=15,
            x0=prior[i : i + 1], prior=prior[i : i + 1],
        )  # fmt: skip
        torch.testing.assert_close(both[i : i + 1], one, rtol=1e-5, atol=1e-5 * float(one.abs().max()))
    same = cg_sense(kspace * mask, mask, csm, lam=float(lams[0]), n_iter=15, x0=prior, prior=prior)
    assert float((same[1] - both[1]).abs().max()) > 1e-2 * float(both[1].abs().max())  # lam matters
    with pytest.raises(ValueError, match=">= 0"):
        cg_sense(kspace, mask, csm, lam=torch.tensor([0.1, -0.1]))


def test_sense_normal_op_equals_the_composition_and_is_self_adjoint() -> None:
    """``SenseOp.normal()`` for even sizes (:class:`SenseNormalOp`, centring folded into the maps) equals
    ``A^H (A x)`` applied as two operators, with and without a mask, per-sample and broadcast maps; odd
    sizes keep the composition; <A^H A x, y> = <x, A^H A y>."""
    from cardiomm.physics.sense import SenseNormalOp

    gen = torch.Generator().manual_seed(11)
    lines = torch.rand(2, 1, 16, 1, generator=gen) < 0.4
    cases = (
        (2, (16, 12), "points"), (1, (16, 12), None), (2, (15, 12), "points"),
        (2, (16, 12), "rows"), (2, (16, 12), "rows broadcast"), (2, (12, 16), "columns"),
    )  # fmt: skip
    for b_maps, (ny, nx), masked in cases:
        csm = torch.randn(b_maps, 3, ny, nx, dtype=torch.complex64, generator=gen)
        if masked == "points":
            mask = torch.rand(2, 1, ny, nx, generator=gen) < 0.4
        elif masked == "columns":
            mask = lines.reshape(2, 1, 1, nx).expand(2, 1, ny, nx)
        else:
            mask = (
                None
                if masked is None
                else lines
                if masked == "rows broadcast"
                else lines.expand(2, 1, ny, nx)
            )
        op = SenseOp(csm, mask)
        x, y = (torch.randn(2, ny, nx, dtype=torch.complex64, generator=gen) for _ in range(2))
        normal = op.normal()
        assert isinstance(normal, SenseNormalOp) == (ny % 2 == 0 and nx % 2 == 0)
        if isinstance(normal, SenseNormalOp):  # line masks need only the other axis' FFT
            assert normal.dims == {"rows": (-2,), "rows broadcast": (-2,), "columns": (-1,)}.get(
                masked, (-2, -1)
            )
        torch.testing.assert_close(normal(x), op.adjoint(op(x)), rtol=1e-5, atol=1e-5)
        lhs, rhs = torch.vdot(normal(x).flatten(), y.flatten()), torch.vdot(x.flatten(), normal(y).flatten())
        torch.testing.assert_close(lhs, rhs, rtol=1e-4, atol=1e-4)
    with pytest.raises(ShapeError, match="even"):
        SenseNormalOp(torch.ones(1, 1, 5, 4, dtype=torch.complex64), None)
