"""Coil sensitivities as a linear operator (``SensitivityOp``): expand an image to coil images and back."""

from __future__ import annotations

import torch

from cardiomm.errors import ShapeError
from cardiomm.physics._checks import check_ndim
from cardiomm.physics.operator import LinearOperator, as_complex, physics_precision

__all__ = ["SensitivityOp"]


class SensitivityOp(LinearOperator):
    """Sensitivity expand / reduce with coil maps ``csm`` ``(b, c, y, x)``.

    - forward (expand): image ``(b, y, x)`` -> coil images ``x_c = S_c * x``, ``(b, c, y, x)``;
    - adjoint (reduce): coil images ``(b, c, y, x)`` -> ``sum_c conj(S_c) * x_c``, ``(b, y, x)``.

    Parameters
    ----------
    csm
        Coil sensitivity maps ``(b, c, y, x)``, complex64 (other dtypes are converted; complex128 kept).
        ``b = 1`` broadcasts over the image batch.
    """

    csm: torch.Tensor  # non-persistent buffer

    def __init__(self, csm: torch.Tensor) -> None:
        super().__init__()
        check_ndim(csm, 4, "csm", "(b, c, y, x)")
        self.register_buffer("csm", as_complex(csm), persistent=False)

    def _check_batch(self, b: int, name: str, shape: tuple[int, ...]) -> None:
        if self.csm.shape[0] not in (1, b):
            raise ShapeError(
                f"{name} batch {b} does not match csm batch {self.csm.shape[0]} (shape {shape} vs csm "
                f"{tuple(self.csm.shape)})"
            )

    @physics_precision
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Expand: image ``(b, y, x)`` -> coil images ``(b, c, y, x)``."""
        check_ndim(x, 3, "image", "(b, y, x)")
        if x.shape[-2:] != self.csm.shape[-2:]:
            raise ShapeError(
                f"image (y, x) = {tuple(x.shape[-2:])} does not match csm (y, x) = "
                f"{tuple(self.csm.shape[-2:])}"
            )
        self._check_batch(x.shape[0], "image", tuple(x.shape))
        return self.csm * x.unsqueeze(-3)

    @physics_precision
    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Reduce: coil images ``(b, c, y, x)`` -> ``sum_c conj(S_c) y_c``, ``(b, y, x)``."""
        check_ndim(y, 4, "coil images", "(b, c, y, x)")
        if y.shape[-3:] != self.csm.shape[-3:]:
            raise ShapeError(
                f"coil images (c, y, x) = {tuple(y.shape[-3:])} do not match csm (c, y, x) = "
                f"{tuple(self.csm.shape[-3:])}"
            )
        self._check_batch(y.shape[0], "coil images", tuple(y.shape))
        return (self.csm.conj() * y).sum(dim=-3)
