"""SVD (PCA) coil compression to virtual coils (Buehrer et al. MRM 2007; Huang et al. MRI 2008)."""

from __future__ import annotations

import torch

from cardiomm.errors import ShapeError

__all__ = ["coil_compress"]


def coil_compress(
    kspace: torch.Tensor, n_virtual: int, calib: torch.Tensor | int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compress ``c`` physical coils to ``n_virtual`` virtual coils by SVD of the calibration data.

    The compression matrix holds the ``n_virtual`` dominant left singular vectors of the calibration
    data matrix ``(c, samples)`` (computed as eigenvectors of its covariance in float64), ordered by
    decreasing energy; each row's phase is fixed so its largest-magnitude entry is real positive
    (deterministic output). With ``n_virtual = c`` the matrix is unitary and compression is lossless.

    Parameters
    ----------
    kspace
        Multi-coil k-space ``(..., c, ky, kx)``, complex64. Every leading index (e.g. each frame ``b``)
        gets its own matrix.
    n_virtual
        Number of virtual coils, ``1 <= n_virtual <= c``.
    calib
        Calibration data: None = all of ``kspace``; an int = the central ``calib`` ky lines (all kx,
        the ACS block of a 1-D Cartesian mask, start ``(ky - calib + 1) // 2``); or a tensor
        ``(..., c, m, n)`` whose leading axes broadcast against ``kspace``'s.

    Returns
    -------
    compressed : torch.Tensor
        Virtual-coil k-space ``(..., n_virtual, ky, kx)``, complex64.
    matrix : torch.Tensor
        Compression matrix ``(..., n_virtual, c)`` (leading axes of the calibration data), complex64;
        ``compressed = matrix @ kspace`` over the coil axis.
    """
    if kspace.ndim < 3:
        raise ShapeError(f"kspace must be (..., c, ky, kx), got shape {tuple(kspace.shape)}")
    n_coils, n_ky = kspace.shape[-3], kspace.shape[-2]
    if not 1 <= n_virtual <= n_coils:
        raise ShapeError(f"n_virtual must be in [1, {n_coils}] (the number of coils), got {n_virtual}")
    if calib is None:
        data = kspace
    elif isinstance(calib, int):
        if not 1 <= calib <= n_ky:
            raise ShapeError(f"calib must be in [1, {n_ky}] ky lines, got {calib}")
        start = (n_ky - calib + 1) // 2
        data = kspace[..., start : start + calib, :]
    else:
        data = calib
        if data.ndim < 3 or data.shape[-3] != n_coils:
            raise ShapeError(
                f"calib {tuple(data.shape)} must be (..., c, m, n) with c = {n_coils} coils like kspace"
            )
    flat = data.reshape(*data.shape[:-2], -1).to(torch.complex128)
    cov = flat @ flat.mH  # (..., c, c)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    u = vecs.flip(-1)[..., :n_virtual]  # (..., c, n_virtual), descending energy
    matrix = u.mH  # (..., n_virtual, c)
    idx = matrix.abs().argmax(dim=-1, keepdim=True)
    ref = torch.gather(matrix, -1, idx)
    matrix = (matrix * (ref.conj() / ref.abs().clamp_min(1e-300))).to(torch.complex64)
    k = kspace.to(torch.complex64) if kspace.dtype != torch.complex64 else kspace
    out = matrix @ k.reshape(*k.shape[:-2], -1)  # (..., n_virtual, ky * kx)
    compressed = out.reshape(*out.shape[:-1], *k.shape[-2:])
    return compressed, matrix
