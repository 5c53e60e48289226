"""MR physics on complex64 tensors: FFTs, SENSE operators, CG-SENSE, coil maps, combination, compression.

Axis orders follow ``docs/conventions.md``: k-space ``(b, c, ky, kx)``, coil images and ``csm``
``(b, c, y, x)``, images ``(b, y, x)``, masks ``(b, 1, ky, kx)`` bool. Importing this package loads only
torch and numpy (no sigpy).
"""

from cardiomm.physics.cg import conjugate_gradient
from cardiomm.physics.coil_combine import rss, rss_np, sense_combine
from cardiomm.physics.coil_compression import coil_compress
from cardiomm.physics.coil_maps import acs_line_mask, csm_from_acs, espirit
from cardiomm.physics.fft import fft2c, fft2c_np, ifft2c, ifft2c_np
from cardiomm.physics.fourier import FourierOp
from cardiomm.physics.masking import MaskOp
from cardiomm.physics.operator import (
    AdjointOp,
    IdentityOp,
    LinearOperator,
    ProductOp,
    ScaledOp,
    SumOp,
)
from cardiomm.physics.sense import SenseOp, cg_sense
from cardiomm.physics.sensitivity import SensitivityOp

__all__ = [
    "fft2c",
    "ifft2c",
    "fft2c_np",
    "ifft2c_np",
    "rss",
    "rss_np",
    "sense_combine",
    "LinearOperator",
    "ProductOp",
    "SumOp",
    "ScaledOp",
    "AdjointOp",
    "IdentityOp",
    "FourierOp",
    "MaskOp",
    "SensitivityOp",
    "SenseOp",
    "conjugate_gradient",
    "cg_sense",
    "acs_line_mask",
    "csm_from_acs",
    "espirit",
    "coil_compress",
]
