"""Classical baselines: zero-filled, SENSE (ESPIRiT maps + CG, reference section 12) and L1-wavelet CS."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import pywt
import torch

from cardiomm.physics import SenseOp, cg_sense, espirit, ifft2c, rss
from cardiomm.recon.base import ReconInput, Reconstructor

__all__ = ["ZeroFilledRecon", "SenseRecon", "L1WaveletRecon", "espirit_maps"]


_MAPS_CACHE: OrderedDict[str, torch.Tensor] = OrderedDict()
_MAPS_CACHE_SIZE = 64


def espirit_maps(masked_kspace: torch.Tensor, n_acs: int) -> torch.Tensor:
    """ESPIRiT maps ``(b, c, y, x)`` from the central ACS block, as the published SENSE baseline.

    ``calib_width = min(n_acs, 24)`` square (valid for ACS lines and for the radial ACS square), kernel 6,
    ``crop = 0`` (reference section 12: SigPy ``EspiritCalib(calib_width=min(acs, 24), crop=0)``).

    The maps depend only on the calibration block, which every protocol mask samples fully, so they are
    memoised per frame by a hash of that block (a small LRU cache): reconstructing the same frame under
    the nine test masks computes its maps once. The result is identical to recomputing them. Pass the
    k-space *before* any per-mask scaling (ESPIRiT maps do not depend on the data scale, but the hash
    does): a frame scaled by its zero-filled maximum, which differs between masks, would never hit.
    """
    width = min(n_acs, 24)
    n_ky, n_kx = masked_kspace.shape[-2:]
    y0, x0 = n_ky // 2 - width // 2, n_kx // 2 - width // 2
    calib = masked_kspace[..., y0 : y0 + width, x0 : x0 + width].contiguous()
    keys = [
        hashlib.blake2b(
            calib[i].numpy().tobytes() + repr((n_ky, n_kx, width)).encode(), digest_size=16
        ).hexdigest()
        for i in range(calib.shape[0])
    ]
    found = {key: _MAPS_CACHE[key] for key in keys if key in _MAPS_CACHE}
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing:
        maps = espirit(masked_kspace[missing], calib_width=width, kernel_width=min(6, width), crop=0.0)
        found.update({keys[i]: maps[j] for j, i in enumerate(missing)})
    for key in keys:
        _MAPS_CACHE[key] = found[key]
        _MAPS_CACHE.move_to_end(key)
    while len(_MAPS_CACHE) > _MAPS_CACHE_SIZE:
        _MAPS_CACHE.popitem(last=False)
    out = [found[key] for key in keys]
    return torch.stack(out)


class ZeroFilledRecon(Reconstructor):
    """Root-sum-of-squares of the inverse FFT of the zero-filled k-space."""

    name = "zf"
    needs_acs = False

    def reconstruct(self, inp: ReconInput) -> torch.Tensor:
        return rss(ifft2c(inp.masked_kspace * inp.mask), dim=1)


class SenseRecon(Reconstructor):
    """CG-SENSE with Tikhonov regularisation and ESPIRiT maps from the ACS block.

    Parameters
    ----------
    lam
        Tikhonov weight relative to the data scale (the published baseline uses 0.01 with
        max-normalised data; here each frame is scaled to unit maximum before solving).
    n_iter
        Conjugate-gradient iterations.
    """

    name = "sense"

    def __init__(self, lam: float = 0.01, n_iter: int = 30) -> None:
        self.lam = lam
        self.n_iter = n_iter

    def reconstruct(self, inp: ReconInput) -> torch.Tensor:
        k = inp.masked_kspace * inp.mask
        csm = espirit_maps(k, inp.n_acs)  # from the unscaled data: the cache is shared across masks
        scale = _frame_scale(k)
        k = k / scale
        img = cg_sense(k, inp.mask, csm, lam=self.lam, n_iter=self.n_iter)
        return img.abs() * scale[:, 0]


class L1WaveletRecon(Reconstructor):
    """Compressed sensing: ``min_x 1/2 ||A x - y||^2 + lam ||W x||_1`` by FISTA (SENSE model, ESPIRiT maps).

    ``W`` is a 2-D Daubechies-4 wavelet transform (``ptwt``, zero padding, ``levels`` scales; a tight
    frame, ``W^T W = I``) applied to the real and imaginary parts; the proximal step is the usual
    soft-threshold of the coefficients followed by the inverse transform (exact for an orthonormal
    basis, the standard approximation for the padded transform). The step size is 1 because
    ``||A^H A|| <= 1`` for orthonormal FFTs and unit-norm maps. ``lam`` is relative to the frame maximum
    of the zero-filled SENSE-combined image.
    """

    name = "cs"

    def __init__(self, lam: float = 0.002, n_iter: int = 30, wavelet: str = "db4", levels: int = 3) -> None:
        self.lam = lam
        self.n_iter = n_iter
        self.wavelet = pywt.Wavelet(wavelet)
        self.levels = levels

    def _prox(self, x: torch.Tensor, thresh: torch.Tensor) -> torch.Tensor:
        import ptwt  # noqa: PLC0415 - lazy: importing this module loads no ptwt

        n_b, n_y, n_x = x.shape
        parts = torch.cat([x.real, x.imag])  # (2b, y, x): one transform for real and imaginary parts
        coeffs = ptwt.wavedec2(parts, self.wavelet, level=self.levels, mode="zero")
        t = thresh.repeat(2).view(-1, 1, 1)
        # the approximation band is not thresholded
        details = tuple(
            type(level)(*(torch.sign(c) * torch.clamp(c.abs() - t, min=0.0) for c in level))
            for level in coeffs[1:]
        )
        out = ptwt.waverec2((coeffs[0], *details), self.wavelet)[..., :n_y, :n_x]
        return torch.complex(out[:n_b], out[n_b:])

    def reconstruct(self, inp: ReconInput) -> torch.Tensor:
        k = inp.masked_kspace * inp.mask
        csm = espirit_maps(k, inp.n_acs)  # from the unscaled data: the cache is shared across masks
        scale = _frame_scale(k)
        k = k / scale
        sense_op = SenseOp(csm, inp.mask)
        normal_op = sense_op.normal()
        rhs = sense_op.adjoint(k)
        thresh = self.lam * rhs.abs().flatten(1).amax(dim=1)
        x = rhs.clone()
        z = x.clone()
        t = 1.0
        for _ in range(self.n_iter):
            grad = normal_op(z) - rhs
            x_new = self._prox(z - grad, thresh)
            t_new = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
            z = x_new + ((t - 1.0) / t_new) * (x_new - x)
            x, t = x_new, t_new
        return x.abs() * scale[:, 0]


def _frame_scale(kspace: torch.Tensor) -> torch.Tensor:
    """Per-frame scale ``(b, 1, 1, 1)``: the maximum of the zero-filled RSS image (at least a tiny value)."""
    img = rss(ifft2c(kspace), dim=1)
    return img.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
