"""Coil sensitivity estimation from the ACS region: low-resolution ratio maps and ESPIRiT.

- :func:`csm_from_acs`: the non-learned counterpart of CardioMM's sensitivity branch (reference §7.6):
  tapered ACS k-space -> IFFT -> divide by the RSS over coils.
- :func:`espirit`: ESPIRiT (Uecker et al., MRM 71:990-1001, 2014), a torch re-implementation that
  follows sigpy ``sigpy.mri.app.EspiritCalib`` (v0.1.27) step by step (one set of maps), but forms the
  per-pixel matrices in closed form and uses a batched Hermitian eigen-decomposition instead of 100
  power iterations. Cross-checked against sigpy in ``tests/physics/test_coil_maps.py``.
"""

from __future__ import annotations

import math

import torch

from cardiomm.errors import MaskError, ShapeError
from cardiomm.physics._checks import check_mask_fits, check_ndim, mask_4d
from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import ifft2c
from cardiomm.physics.operator import as_complex

__all__ = ["csm_from_acs", "espirit", "acs_line_mask"]


def acs_line_mask(n_ky: int, n_kx: int, n_acs: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean ``(1, 1, ky, kx)`` mask of the central ``n_acs`` ky lines (all kx).

    The block starts at ``(ky - n_acs + 1) // 2`` (fastMRI ``batched_mask_center``, reference §7.6).
    """
    if not 1 <= n_acs <= n_ky:
        raise MaskError(f"n_acs must be in [1, {n_ky}] ky lines, got {n_acs}")
    mask = torch.zeros(1, 1, n_ky, n_kx, dtype=torch.bool, device=device)
    start = (n_ky - n_acs + 1) // 2
    mask[..., start : start + n_acs, :] = True
    return mask


def _tukey_over_extent(sampled: torch.Tensor, taper: float) -> torch.Tensor:
    """Tukey window ``(B, n)`` spanning the first..last True of each row of ``sampled`` ``(B, n)``.

    Sampled at sample mid-points, so the end samples are not zero; rows whose extent is the full axis get
    ones (no taper along a fully sampled axis); 0 outside the extent.
    """
    n = sampled.shape[-1]
    idx = torch.arange(n, device=sampled.device, dtype=torch.float32)
    first = sampled.to(torch.int8).argmax(dim=-1, keepdim=True).float()
    last = (n - 1) - sampled.flip(-1).to(torch.int8).argmax(dim=-1, keepdim=True).float()
    length = last - first + 1
    t = (idx - first + 0.5) / length
    w = torch.ones_like(t)
    if taper > 0:
        edge = taper / 2
        rise = 0.5 * (1 - torch.cos(2 * math.pi * t / taper))
        fall = 0.5 * (1 - torch.cos(2 * math.pi * (1 - t) / taper))
        w = torch.where(t < edge, rise, torch.where(t > 1 - edge, fall, w))
    w = torch.where((t > 0) & (t < 1), w, 0.0)
    return torch.where(length >= n, torch.ones_like(w), w)


def csm_from_acs(
    kspace: torch.Tensor, acs: int | torch.Tensor, *, taper: float = 0.5, eps: float = 1e-6
) -> torch.Tensor:
    """Low-resolution coil maps from the ACS region: ``ifft2c(w * acs * k) / (rss + eps * max(rss))``.

    1. Keep only the ACS samples (central ``n_acs`` ky lines, or the given ACS mask).
    2. Multiply by a separable Tukey window (cosine taper fraction ``taper``) spanning the ACS extent
       along each axis that the ACS does not cover fully, to suppress Gibbs ringing.
    3. Inverse FFT to low-resolution coil images and divide by their RSS over coils, regularised by
       ``eps`` times the per-frame maximum of the RSS (so background maps fade to 0 instead of amplifying
       noise). Inside the object the maps have unit RSS; their phase is that of each coil image.

    Parameters
    ----------
    kspace
        Multi-coil k-space ``(b, c, ky, kx)``, complex64 (only the ACS samples are used).
    acs
        Number of central ky lines (int), or a bool ACS mask ``(b | 1, 1, ky | 1, kx | 1)`` (e.g. the
        central square of a radial mask).
    taper
        Tukey taper fraction in ``[0, 1]`` (0 = rectangular, 1 = Hann), dimensionless.
    eps
        Relative regulariser of the RSS denominator (fraction of the per-frame maximum RSS).

    Returns
    -------
    torch.Tensor
        Coil sensitivity maps ``(b, c, y, x)``, complex64.
    """
    check_ndim(kspace, 4, "kspace", "(b, c, ky, kx)")
    if not 0.0 <= taper <= 1.0:
        raise ValueError(f"taper must be in [0, 1], got {taper}")
    kspace = as_complex(kspace)
    n_b, _, n_ky, n_kx = kspace.shape
    if isinstance(acs, int):
        mask = acs_line_mask(n_ky, n_kx, acs, device=kspace.device)
    else:
        mask = mask_4d(acs, "acs mask").to(kspace.device)
        check_mask_fits(mask, tuple(kspace.shape), "acs mask")
        mask = mask.expand(mask.shape[0], 1, n_ky, n_kx)
    if not bool(mask.flatten(1).any(dim=1).all()):
        raise MaskError("the ACS mask has no sampled location in at least one frame")
    rows = mask[:, 0].any(dim=-1)  # (B, ky)
    cols = mask[:, 0].any(dim=-2)  # (B, kx)
    window = _tukey_over_extent(rows, taper)[:, :, None] * _tukey_over_extent(cols, taper)[:, None, :]
    window = (window * mask[:, 0]).unsqueeze(1)  # (B, 1, ky, kx)
    coil_imgs = ifft2c(kspace * window.to(kspace.real.dtype))
    norm = rss(coil_imgs, dim=1).unsqueeze(1)  # (b, 1, y, x)
    floor = eps * norm.amax(dim=(-2, -1), keepdim=True)
    return coil_imgs / (norm + floor)


def _centre_crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Central crop of the last two axes, start ``n // 2 - m // 2`` (sigpy ``resize``)."""
    (ny, nx), (my, mx) = x.shape[-2:], shape
    sy, sx = ny // 2 - my // 2, nx // 2 - mx // 2
    return x[..., sy : sy + my, sx : sx + mx]


def _small_eigh(gram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` of one small dense matrix, single-threaded on CPU.

    MKL's threaded ``zheevd`` is slower than one thread at these sizes (``c * kw^2`` ~ 200-400) and,
    on an oversubscribed machine, up to ~20x slower (OpenMP barrier waits). The intra-op thread count
    is restored afterwards (process-global setting: briefly affects other threads running torch).
    """
    n_threads = torch.get_num_threads()
    if gram.device.type != "cpu" or n_threads == 1:
        return torch.linalg.eigh(gram)
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(gram)
    finally:
        torch.set_num_threads(n_threads)


def _espirit_frame(
    calib: torch.Tensor, img_shape: tuple[int, int], kernel_width: int, thresh: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dominant eigenvector ``(y, x, c)`` and eigenvalue ``(y, x)`` of the ESPIRiT matrices of one frame.

    ``calib`` is the ACS block ``(c, cy, cx)``. The per-pixel matrix is (sigpy ``EspiritCalib``)
    ``G(q) = (1 / kw^2) sum_k g_k(q) g_k(q)^H`` with ``g_k = sqrt(N) ifft2c(zero-pad(v_k))`` for the
    retained kernels ``v_k``. Expanding ``g_k`` gives
    ``G(q)_{cc'} = (1/kw^2) sum_d Q_{cc'}(d) exp(+2 pi i d.q / N)`` with
    ``Q_{cc'}(d) = sum_k sum_{u - u' = d} v_k[c, u] conj(v_k[c', u'])`` over the ``(2 kw - 1)^2`` kernel
    offsets ``d``: one small correlation and ``c^2`` FFTs instead of ``n_kernels * c`` FFTs.
    """
    n_coils = calib.shape[0]
    kw = kernel_width
    # calibration (Hankel) matrix: rows = kw x kw blocks, columns = (c, ky, kx) as in sigpy
    blocks = calib.unfold(1, kw, 1).unfold(2, kw, 1)  # (c, nby, nbx, kw, kw)
    mat = blocks.permute(1, 2, 0, 3, 4).reshape(-1, n_coils * kw * kw).to(torch.complex128)
    # right singular vectors of mat = eigenvectors of its Gram matrix (float64; faster than an SVD);
    # singular value s > thresh * s_max  <=>  eigenvalue s^2 > thresh^2 * s_max^2
    evals, evecs = _small_eigh(mat.mH @ mat)
    v = evecs[:, evals > thresh**2 * evals.max()].mH  # (n_kernels, c * kw * kw), rows as sigpy's VH
    proj = (v.transpose(0, 1) @ v.conj()).reshape(n_coils, kw, kw, n_coils, kw, kw)
    q = torch.zeros(n_coils, n_coils, 2 * kw - 1, 2 * kw - 1, dtype=torch.complex128, device=calib.device)
    for uy in range(kw):
        for ux in range(kw):
            # proj[c, uy, ux, c', u'y, u'x] lands at offset d = u - u', index d + kw - 1
            q[..., uy : uy + kw, ux : ux + kw] += proj[:, uy, ux].flip(-2, -1)
    # G at pixel p (centred coordinate p - n // 2): a plain inverse DFT of Q placed at wrapped offsets
    # d mod n after the phase ramp exp(-2 pi i d (n // 2) / n), which replaces both fftshifts
    ny, nx = img_shape
    d = torch.arange(-(kw - 1), kw, device=calib.device, dtype=torch.float64)
    ramp_y = torch.exp(-2j * math.pi * d * (ny // 2) / ny)
    ramp_x = torch.exp(-2j * math.pi * d * (nx // 2) / nx)
    q = q * (ramp_y[:, None] * ramp_x[None, :]) / kw**2
    idx_y = torch.remainder(torch.arange(-(kw - 1), kw, device=calib.device), ny)
    idx_x = torch.remainder(torch.arange(-(kw - 1), kw, device=calib.device), nx)
    qpad = torch.zeros(n_coils, n_coils, ny, nx, dtype=torch.complex64, device=calib.device)
    qpad[:, :, idx_y[:, None], idx_x[None, :]] = q.to(torch.complex64)
    mats = torch.fft.ifft2(qpad, norm="forward")  # (c, c, y, x): unnormalised sum over d
    vals, vecs = torch.linalg.eigh(mats.permute(2, 3, 0, 1))  # (y, x, c, c), Hermitian per pixel
    return vecs[..., -1], vals[..., -1]


def espirit(
    kspace: torch.Tensor,
    calib_width: int | tuple[int, int] = 24,
    *,
    kernel_width: int = 6,
    thresh: float = 0.02,
    crop: float = 0.95,
    ref_coil: int = 0,
) -> torch.Tensor:
    """ESPIRiT coil sensitivity maps (one set), following sigpy ``EspiritCalib``.

    Per frame: (1) take the central ``calib_width`` block of k-space (start ``n // 2 - w // 2``);
    (2) build the calibration matrix of all ``kernel_width x kernel_width`` blocks, shape
    ``(n_blocks, c * kw^2)``; (3) keep the right singular vectors whose singular value exceeds
    ``thresh * max`` (from the eigen-decomposition of the Gram matrix, float64); (4) form the per-pixel
    ``c x c`` image-space matrices and take their dominant eigenvector (batched ``eigh``); (5) rotate
    the phase so coil ``ref_coil`` is real non-negative; (6) zero the maps where the eigenvalue is
    ``<= crop``. Frames are processed one at a time (memory ``c^2 * y * x`` complex64 per frame).

    Parameters
    ----------
    kspace
        Multi-coil k-space ``(b, c, ky, kx)``, complex64; the central calibration block must be fully
        sampled (e.g. ``calib_width <= n_acs`` for ACS lines along ky).
    calib_width
        Calibration block size ``(cy, cx)`` in k-space samples (an int means square).
    kernel_width
        ESPIRiT kernel size (square), samples.
    thresh
        Singular-value threshold relative to the largest singular value.
    crop
        Eigenvalue threshold in ``[0, 1)``: maps are zeroed where the dominant eigenvalue is ``<= crop``
        (sigpy default 0.95; the CardioMM SENSE baseline uses ``crop = 0``, reference §12).
    ref_coil
        Coil whose phase is set to zero.

    Returns
    -------
    torch.Tensor
        Maps ``(b, c, y, x)``, complex64, unit norm over coils where not cropped.
    """
    check_ndim(kspace, 4, "kspace", "(b, c, ky, kx)")
    n_b, n_coils, n_ky, n_kx = kspace.shape
    cy, cx = (calib_width, calib_width) if isinstance(calib_width, int) else calib_width
    if not (kernel_width <= cy <= n_ky and kernel_width <= cx <= n_kx and kernel_width >= 1):
        raise ShapeError(
            f"need kernel_width ({kernel_width}) <= calib_width ({cy}, {cx}) <= k-space (ky, kx) = "
            f"({n_ky}, {n_kx})"
        )
    if not 0 <= ref_coil < n_coils:
        raise ShapeError(f"ref_coil {ref_coil} out of range for {n_coils} coils")
    calib = _centre_crop(as_complex(kspace), (cy, cx))
    maps = []
    for frame in range(n_b):
        if not bool(calib[frame].abs().amax() > 0):
            raise MaskError(f"frame {frame}: the central {cy}x{cx} calibration block is empty")
        with torch.autocast(device_type=kspace.device.type, enabled=False):
            vec, val = _espirit_frame(calib[frame], (n_ky, n_kx), kernel_width, thresh)
        ref = vec[..., ref_coil : ref_coil + 1]
        ref_abs = ref.abs()
        phase = torch.where(ref_abs > 0, ref.conj() / torch.where(ref_abs > 0, ref_abs, 1.0), 1.0)
        vec = vec * phase * (val > crop).unsqueeze(-1)
        maps.append(vec.permute(2, 0, 1))
    return torch.stack(maps).to(torch.complex64)
