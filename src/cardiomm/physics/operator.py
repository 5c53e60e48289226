"""Linear operators on complex tensors: ``forward``, ``adjoint``, ``.H`` and composition with ``@``.

A small mrpro-style algebra (``mrpro/operators/LinearOperator.py``). Every operator is a
:class:`torch.nn.Module` whose ``forward`` maps domain -> range and whose ``adjoint`` maps range -> domain.
Operators combine without hand-written adjoints:

- ``a @ b`` -> :class:`ProductOp` (``x -> a(b(x))``, adjoint ``y -> b.H(a.H(y))``),
- ``a + b`` / ``a - b`` -> :class:`SumOp`,
- ``2.0 * a`` -> :class:`ScaledOp` (adjoint uses the conjugate scalar),
- ``a.H`` -> the adjoint operator (:class:`AdjointOp`, or the operator itself when self-adjoint),
- ``a.normal()`` -> ``a.H @ a``.

Physics runs in complex64 even under autocast: primitives decorate their ``forward``/``adjoint`` with
:func:`physics_precision`, which disables autocast and promotes lower-precision inputs to complex64
(complex128 passes through unchanged, for double-precision checks).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from typing import TypeVar, cast

import torch

__all__ = [
    "LinearOperator",
    "ProductOp",
    "SumOp",
    "ScaledOp",
    "AdjointOp",
    "IdentityOp",
    "physics_precision",
    "as_complex",
]

_Op = TypeVar("_Op", bound="LinearOperator")


def as_complex(x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` as complex64, unless it already is complex64 or complex128 (then unchanged)."""
    if x.dtype in (torch.complex64, torch.complex128):
        return x
    return x.to(torch.complex64)


def physics_precision(
    fn: Callable[[_Op, torch.Tensor], torch.Tensor],
) -> Callable[[_Op, torch.Tensor], torch.Tensor]:
    """Decorate an operator method so it runs with autocast disabled on a complex64 (or 128) input."""

    @functools.wraps(fn)
    def wrapper(self: _Op, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return fn(self, as_complex(x))

    return wrapper


class LinearOperator(torch.nn.Module, metaclass=abc.ABCMeta):
    """Base class of linear operators ``A``: subclasses implement ``forward`` and ``adjoint``.

    ``op(x)`` applies ``A``; ``op.adjoint(y)`` applies ``A^H``; ``op.H`` is the adjoint as an operator.
    """

    #: Set to True in subclasses whose adjoint equals the forward (``.H`` then returns ``self``).
    self_adjoint: bool = False

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``A`` to ``x`` (domain -> range)."""

    @abc.abstractmethod
    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the adjoint ``A^H`` to ``y`` (range -> domain)."""

    @property
    def H(self) -> LinearOperator:  # noqa: N802 (mathematical notation)
        """The adjoint operator ``A^H``."""
        return self if self.self_adjoint else AdjointOp(self)

    def normal(self) -> LinearOperator:
        """The normal operator ``A^H A`` (domain -> domain), built by composition."""
        return self.H @ self

    def __matmul__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return ProductOp(self, other)

    def __add__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return SumOp(self, other)

    def __sub__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return SumOp(self, ScaledOp(-1.0, other))

    def __rmul__(self, scalar: complex) -> LinearOperator:
        if not isinstance(scalar, int | float | complex):
            return NotImplemented
        return ScaledOp(scalar, self)

    __mul__ = __rmul__


class ProductOp(LinearOperator):
    """Composition ``ops[0] @ ops[1] @ ... @ ops[-1]``: the last operator is applied first.

    Nested products are flattened. The adjoint applies the adjoints in reverse order.
    """

    ops: torch.nn.ModuleList  # of LinearOperator

    def __init__(self, *ops: LinearOperator) -> None:
        super().__init__()
        flat: list[torch.nn.Module] = []
        for op in ops:
            flat.extend(op.ops if type(op) is ProductOp else [op])
        if not flat:
            raise ValueError("ProductOp needs at least one operator")
        self.ops = torch.nn.ModuleList(flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``ops[-1]`` first, then ... ``ops[0]``."""
        for op in reversed(self.ops):
            x = op(x)
        return x

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply ``ops[0].H`` first, then ... ``ops[-1].H``."""
        for op in self.ops:
            y = cast(LinearOperator, op).adjoint(y)  # ModuleList items are typed as Module
        return y


class SumOp(LinearOperator):
    """Sum ``a + b`` of two operators with the same domain and range."""

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``a(x) + b(x)``."""
        return self.a(x) + self.b(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``a.H(y) + b.H(y)``."""
        return self.a.adjoint(y) + self.b.adjoint(y)


class ScaledOp(LinearOperator):
    """Scalar multiple ``scalar * op``; the adjoint uses ``conj(scalar)``."""

    def __init__(self, scalar: complex, op: LinearOperator) -> None:
        super().__init__()
        self.scalar = scalar
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``scalar * op(x)``."""
        return self.scalar * self.op(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``conj(scalar) * op.H(y)``."""
        return self.scalar.conjugate() * self.op.adjoint(y)


class AdjointOp(LinearOperator):
    """The adjoint ``op.H`` of an operator: forward and adjoint swapped; ``.H`` gives ``op`` back."""

    def __init__(self, op: LinearOperator) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``op.adjoint(x)``."""
        return self.op.adjoint(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``op(y)``."""
        return self.op(y)

    @property
    def H(self) -> LinearOperator:  # noqa: N802
        """The wrapped operator."""
        return self.op


class IdentityOp(LinearOperator):
    """Identity ``I`` on any tensor shape (self-adjoint)."""

    self_adjoint = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` unchanged."""
        return x

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Return ``y`` unchanged."""
        return y
