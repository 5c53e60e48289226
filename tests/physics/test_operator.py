"""Shared property tests over a registry of every linear operator (style rule 5), plus algebra tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from cardiomm.physics import (
    AdjointOp,
    FourierOp,
    IdentityOp,
    LinearOperator,
    MaskOp,
    ProductOp,
    ScaledOp,
    SenseOp,
    SensitivityOp,
    SumOp,
)

B, C, Y, X = 2, 3, 8, 7  # odd kx on purpose (fftshift centring)
IMG = (B, Y, X)
COILS = (B, C, Y, X)

Case = tuple[LinearOperator, tuple[int, ...], tuple[int, ...]]


def _crandn(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.complex64)


def _mask(gen: torch.Generator, b: int = B) -> torch.Tensor:
    return torch.rand(b, 1, Y, X, generator=gen) < 0.4


def _line_mask(gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(1, 1, Y, 1, generator=gen) < 0.5) | (torch.arange(Y) == Y // 2).reshape(1, 1, Y, 1)


# name -> builder(gen) -> (operator, domain shape, range shape); every operator class appears here.
REGISTRY: dict[str, Callable[[torch.Generator], Case]] = {
    "fourier": lambda g: (FourierOp(), COILS, COILS),
    "fourier_even": lambda g: (FourierOp(), (B, C, Y, 10), (B, C, Y, 10)),  # checkerboard path
    "mask": lambda g: (MaskOp(_mask(g)), COILS, COILS),
    "mask_1d_lines": lambda g: (MaskOp(_line_mask(g)), COILS, COILS),
    "sensitivity": lambda g: (SensitivityOp(_crandn(COILS, g)), IMG, COILS),
    "sensitivity_bcast": lambda g: (SensitivityOp(_crandn((1, C, Y, X), g)), IMG, COILS),
    "sense": lambda g: (SenseOp(_crandn(COILS, g), _mask(g)), IMG, COILS),
    "sense_full": lambda g: (SenseOp(_crandn(COILS, g)), IMG, COILS),
    "sense_adjoint": lambda g: (SenseOp(_crandn(COILS, g), _mask(g)).H, COILS, IMG),
    "sense_normal": lambda g: (SenseOp(_crandn(COILS, g), _mask(g)).normal(), IMG, IMG),
    "generic_normal": lambda g: (LinearOperator.normal(SenseOp(_crandn(COILS, g), _mask(g))), IMG, IMG),
    "product": lambda g: (ProductOp(FourierOp(), SensitivityOp(_crandn(COILS, g))), IMG, COILS),
    "sum": lambda g: (SumOp(FourierOp(), MaskOp(_mask(g))), COILS, COILS),
    "difference": lambda g: (FourierOp() - MaskOp(_mask(g)), COILS, COILS),
    "scaled": lambda g: (ScaledOp(0.5 - 2.0j, FourierOp()), COILS, COILS),
    "scaled_real": lambda g: (3.0 * MaskOp(_mask(g)), COILS, COILS),
    "adjoint": lambda g: (AdjointOp(SensitivityOp(_crandn(COILS, g))), COILS, IMG),
    "identity": lambda g: (IdentityOp(), IMG, IMG),
    "tikhonov": lambda g: (SenseOp(_crandn(COILS, g), _mask(g)).normal() + 0.1 * IdentityOp(), IMG, IMG),
}


def _inner(a: torch.Tensor, b: torch.Tensor) -> complex:
    return complex((a.to(torch.complex128).conj() * b.to(torch.complex128)).sum())


def test_registry_covers_every_operator_class() -> None:
    gen = torch.Generator().manual_seed(0)
    classes = {type(build(gen)[0]) for build in REGISTRY.values()}
    wanted = {FourierOp, MaskOp, SensitivityOp, SenseOp, ProductOp, SumOp, ScaledOp, AdjointOp, IdentityOp}
    assert wanted <= classes, f"missing from registry: {wanted - classes}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_adjointness(name: str) -> None:
    gen = torch.Generator().manual_seed(11)
    op, dom, rng = REGISTRY[name](gen)
    x, y = _crandn(dom, gen), _crandn(rng, gen)
    ax, ahy = op(x), op.adjoint(y)
    assert ax.shape == rng and ahy.shape == dom
    assert ax.dtype == torch.complex64 and ahy.dtype == torch.complex64
    lhs, rhs = _inner(ax, y), _inner(x, ahy)
    scale = float(torch.linalg.vector_norm(ax)) * float(torch.linalg.vector_norm(y))
    assert abs(lhs - rhs) <= 1e-5 * scale, (lhs, rhs)
    assert abs(lhs) > 1e-3 * scale or name.startswith("mask")  # not trivially zero


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_linearity(name: str) -> None:
    gen = torch.Generator().manual_seed(12)
    op, dom, _ = REGISTRY[name](gen)
    x1, x2 = _crandn(dom, gen), _crandn(dom, gen)
    a, b = 0.7 - 1.3j, -2.1 + 0.4j
    lhs = op(a * x1 + b * x2)
    rhs = a * op(x1) + b * op(x2)
    torch.testing.assert_close(lhs, rhs, rtol=1e-5, atol=1e-5 * float(rhs.abs().max()))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_gradient_equals_adjoint(name: str) -> None:
    gen = torch.Generator().manual_seed(13)
    op, dom, rng = REGISTRY[name](gen)
    x = _crandn(dom, gen).requires_grad_(True)
    y = _crandn(rng, gen)
    (grad,) = torch.autograd.grad(op(x), x, grad_outputs=y)
    expected = op.adjoint(y)
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_h_is_adjoint(name: str) -> None:
    gen = torch.Generator().manual_seed(14)
    op, dom, rng = REGISTRY[name](gen)
    y, x = _crandn(rng, gen), _crandn(dom, gen)
    torch.testing.assert_close(op.H(y), op.adjoint(y))
    torch.testing.assert_close(op.H.H(x), op(x))


def test_product_op_flattens_and_orders() -> None:
    gen = torch.Generator().manual_seed(2)
    csm, mask = _crandn(COILS, gen), _mask(gen)
    sens_op, fourier_op, mask_op = SensitivityOp(csm), FourierOp(), MaskOp(mask)
    op = mask_op @ (fourier_op @ sens_op)
    assert isinstance(op, ProductOp) and len(op.ops) == 3
    x = _crandn(IMG, gen)
    torch.testing.assert_close(op(x), mask_op(fourier_op(sens_op(x))))
    y = _crandn(COILS, gen)
    torch.testing.assert_close(op.adjoint(y), sens_op.adjoint(fourier_op.adjoint(mask_op(y))))


def test_self_adjoint_ops_return_self_as_h() -> None:
    gen = torch.Generator().manual_seed(3)
    mask_op, ident = MaskOp(_mask(gen)), IdentityOp()
    assert mask_op.H is mask_op and ident.H is ident
    fourier_op = FourierOp()
    assert isinstance(fourier_op.H, AdjointOp) and fourier_op.H.H is fourier_op


def test_sense_normal_matches_generic_normal() -> None:
    gen = torch.Generator().manual_seed(4)
    sense_op = SenseOp(_crandn(COILS, gen), _mask(gen))
    x = _crandn(IMG, gen)
    torch.testing.assert_close(sense_op.normal()(x), sense_op.adjoint(sense_op(x)))
    assert len(sense_op.normal().ops) == 5  # S^H F^H M F S: one mask application


def test_operator_runs_in_complex64_under_autocast() -> None:
    gen = torch.Generator().manual_seed(5)
    sense_op = SenseOp(_crandn(COILS, gen), _mask(gen))
    x = _crandn(IMG, gen)
    ref = sense_op(x)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = sense_op(x)
        back = sense_op.adjoint(out)
        real_in = sense_op(x.real)  # real input promoted to complex64
    assert out.dtype == back.dtype == real_in.dtype == torch.complex64
    torch.testing.assert_close(out, ref)


def test_operator_keeps_complex128() -> None:
    gen = torch.Generator().manual_seed(6)
    op = FourierOp()
    x = _crandn(COILS, gen).to(torch.complex128)
    assert op(x).dtype == torch.complex128


def test_sense_op_is_differentiable_in_csm() -> None:
    # learned sensitivity maps (CardioMM's sensitivity branch) need gradients through SenseOp
    gen = torch.Generator().manual_seed(7)
    csm = _crandn(COILS, gen).requires_grad_(True)
    x, y = _crandn(IMG, gen), _crandn(COILS, gen)
    (grad,) = torch.autograd.grad(SenseOp(csm, _mask(gen)).adjoint(y), csm, grad_outputs=x)
    assert grad.shape == csm.shape and float(grad.abs().sum()) > 0
