"""Simulate one scan: phantom frames -> contrast -> coils, background phase, noise -> k-space.

Grids
-----
The phantom is rendered on the reconstruction grid (``ReconMatrix_Y x ReconMatrix_X`` pixels over the
FOV), ``ss x ss`` supersampled for the signal (anti-aliasing) and once at pixel centres for the ground
truth (labels, tissue and relaxation maps: the value of the tissue at the pixel centre). With readout
oversampling ``os`` the image is zero-padded along x to ``os * ReconMatrix_X`` (the object occupies the
central FOV, as in CMRxRecon), so **every ground-truth array shares the grid of
``ifft2c(kspace_full)``**: ``(t, z, y, x)`` with ``y`` = phase encode, ``x`` = (oversampled) readout.

k-space
-------
``kspace[t, z, c] = fft2c(img[t, z] * exp(i phi_z) * S_zc) + n``, with smooth background phase
``phi_z``, Biot-Savart coil maps normalised to ``sum_c |S|^2 = 1`` (so the RSS of the noise-free
k-space is ``|img|``) and complex Gaussian noise of standard deviation ``sigma`` per coil and sample
(``sigma = mean |img| over the body / SNR``; real and imaginary parts each ``sigma / sqrt 2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardiomm.physics.fft import fft2c_np
from cardiomm.simulate.anatomy import HeartParams
from cardiomm.simulate.centers import Center
from cardiomm.simulate.coils import biot_savart_csm, smooth_phase
from cardiomm.simulate.phantom import FrameMaps, Grid, View, render_frame
from cardiomm.simulate.protocols import Protocol, ScanSpec, SizePreset, make_protocol
from cardiomm.simulate.sequences import block_mean, frame_signal, make_contrast_state, post_contrast_t1
from cardiomm.simulate.tissues import Tissue, tissue_parameter_arrays

__all__ = ["SimulatedScan", "simulate_scan", "preset_matrix", "add_noise", "coil_kspace"]

#: Preset -> (scale of the center's reconstruction matrix, maximum coil count).
_PRESET_SCALE: dict[SizePreset, tuple[float, int]] = {
    SizePreset.TINY: (0.4, 4),
    SizePreset.SMALL: (0.65, 8),
    SizePreset.DEMO: (0.65, 8),  # same matrices as small (the demo model is trained on small)
}


@dataclass
class SimulatedScan:
    """One simulated scan with its ground truth.

    Attributes
    ----------
    kspace
        ``(t, z, c, ky, kx)`` complex64, fully sampled (readout oversampled if the center does so).
    image
        ``(t, z, y, x)`` complex64 noise-free object image including background phase, before coil
        weighting: ``rss(ifft2c(kspace without noise)) == |image|``.
    csm
        ``(z, c, y, x)`` complex64 coil maps, ``sum_c |S|^2 = 1``.
    labels, tissue
        ``(t, z, y, x)`` uint8 label and tissue maps at pixel centres.
    maps
        ``(t, z, y, x)`` float32 ground-truth maps: ``pd`` (relative), ``t1``, ``t2``, ``t2s``,
        ``t1rho`` [s] (native), plus ``t1_post`` [s] for contrast scans and ``velocity`` [cm/s] for flow.
    protocol
        Scan protocol (TI list, prep times, timings).
    spacing
        Voxel size ``(dz, dy, dx)`` [mm] of the arrays above (``dz`` = slice thickness).
    noise_std
        Per-coil complex noise standard deviation (0 when noise is off).
    seeds
        Seeds used (``scan``, ``coils``).
    extras
        Other ground truth (perfusion curves, LGE inversion time, analytic wall thickness).
    """

    kspace: NDArray[np.complex64]
    image: NDArray[np.complex64]
    csm: NDArray[np.complex64]
    labels: NDArray[np.uint8]
    tissue: NDArray[np.uint8]
    maps: dict[str, NDArray[np.float32]]
    protocol: Protocol
    spacing: tuple[float, float, float]
    noise_std: float
    seeds: dict[str, int]
    extras: dict[str, Any] = field(default_factory=dict)


def preset_matrix(center: Center, size: SizePreset | str) -> tuple[tuple[int, int], int]:
    """Return the reconstruction matrix ``(nx, ny)`` and coil count of a center at a size preset."""
    scale, max_coils = _PRESET_SCALE[SizePreset(size)]
    nx = max(16, int(round(center.matrix[0] * scale / 8.0)) * 8)
    ny = max(16, int(round(center.matrix[1] * scale / 8.0)) * 8)
    return (nx, ny), min(center.n_coils, max_coils)


def add_noise(kspace: NDArray[np.complex64], sigma: float, rng: np.random.Generator) -> NDArray[np.complex64]:
    """Add complex Gaussian noise of standard deviation ``sigma`` (``sigma / sqrt 2`` per part), in place."""
    if sigma > 0:
        scale = np.float32(sigma / np.sqrt(2.0))
        kspace.real += rng.standard_normal(kspace.shape, dtype=np.float32) * scale
        kspace.imag += rng.standard_normal(kspace.shape, dtype=np.float32) * scale
    return kspace


def coil_kspace(image: NDArray[np.complex64], csm: NDArray[np.complex64]) -> NDArray[np.complex64]:
    """Noise-free multi-coil k-space ``fft2c(image[:, :, None] * csm[None])``.

    Parameters
    ----------
    image
        ``(t, z, y, x)`` complex object image.
    csm
        ``(z, c, y, x)`` coil maps.

    Returns
    -------
    numpy.ndarray
        ``(t, z, c, ky, kx)`` complex64.
    """
    out = np.empty((image.shape[0], image.shape[1], csm.shape[1], *image.shape[2:]), np.complex64)
    csm64 = np.asarray(csm, dtype=np.complex64)
    for t in range(image.shape[0]):
        out[t] = fft2c_np(np.asarray(image[t], dtype=np.complex64)[:, None] * csm64)
    return out


def _frame_key(proto: Protocol, heart: HeartParams, z: int, t: int) -> tuple[float, float, int]:
    time_s = float(proto.times[z, t]) if heart.resp_amplitude else 0.0
    return float(proto.phases[z, t]), time_s, z


def simulate_scan(
    spec: ScanSpec,
    center: Center,
    heart: HeartParams,
    *,
    size: SizePreset | str = SizePreset.TINY,
    seed: int = 0,
    coil_seed: int | None = None,
    noise: bool = True,
    ss: int = 2,
    matrix: tuple[int, int] | None = None,
    n_coils: int | None = None,
) -> SimulatedScan:
    """Simulate one fully sampled multi-coil scan and its ground truth.

    Parameters
    ----------
    spec
        File kind (modality, stem, view).
    center
        Acquisition center (field strength, FOV, oversampling, SNR).
    heart
        Subject anatomy and motion.
    size
        Preset for frame/slice counts, matrix scale and coil cap.
    seed
        Seed of this scan's randomness (background phase, noise).
    coil_seed
        Seed of the coil geometry (share it across a subject's scans); defaults to ``seed``.
    noise
        Add complex Gaussian noise at the center's SNR.
    ss
        Supersampling factor per axis for anti-aliasing (1 = none).
    matrix, n_coils
        Override the preset reconstruction matrix ``(nx, ny)`` and coil count.

    Returns
    -------
    SimulatedScan
        k-space ``(t, z, c, ky, kx)`` and ground truth on the same grid.
    """
    proto = make_protocol(spec, heart, center.field_t, size)
    if proto.resp_amplitude and not heart.resp_amplitude:
        heart = replace(heart, resp_amplitude=proto.resp_amplitude)
    (nx, ny), nc = preset_matrix(center, size)
    if matrix is not None:
        nx, ny = matrix
    nc = nc if n_coils is None else n_coils
    dx, dy = center.fov[0] / nx, center.fov[1] / ny
    os_ = center.readout_oversampling
    nx_full = nx * os_
    pad = nx_full // 2 - nx // 2
    state = make_contrast_state(proto, center.field_t)
    if proto.sequence == "IR-GRE":
        proto = replace(proto, ti=(state.lge_ti,))
    if proto.tag_spacing:  # keep at least 3.5 pixels per tag period
        proto = replace(proto, tag_spacing=max(proto.tag_spacing, round(3.5 * max(dx, dy), 1)))
    fine, coarse = Grid(ny, nx, dy, dx, ss), Grid(ny, nx, dy, dx, 1)
    need_mat = proto.sequence == "SPAMM-GRE"
    need_vel = spec.modality.value == "Flow2d"
    n_t, n_z = proto.n_frames, proto.n_slices
    shape = (n_t, n_z, ny, nx_full)
    image = np.zeros(shape, np.complex64)
    labels = np.zeros(shape, np.uint8)
    tissue = np.zeros(shape, np.uint8)
    t1_post = np.zeros(shape, np.float32) if (state.curves or state.lge_conc.any()) else None
    velocity = np.zeros(shape, np.float32) if need_vel else None
    cache: dict[tuple[float, float, int], tuple[FrameMaps, FrameMaps]] = {}
    for z in range(n_z):
        depth = proto.slice_depths[z]
        for t in range(n_t):
            key = _frame_key(proto, heart, z, t)
            if key not in cache:
                cardiac_phase, time_s = key[0], float(proto.times[z, t])
                cache[key] = (
                    render_frame(
                        heart,
                        spec.view,
                        fine,
                        phase=cardiac_phase,
                        z=depth,
                        time_s=time_s,
                        material=need_mat,
                        velocity=need_vel,
                    ),
                    render_frame(
                        heart,
                        spec.view,
                        coarse,
                        phase=cardiac_phase,
                        z=depth,
                        time_s=time_s,
                        velocity=need_vel,
                    ),
                )
            f_maps, c_maps = cache[key]
            sig = block_mean(frame_signal(f_maps, proto, state, z, t), ss)
            image[t, z, :, pad : pad + nx] = sig
            labels[t, z, :, pad : pad + nx] = c_maps.label
            tissue[t, z, :, pad : pad + nx] = c_maps.tissue
            if t1_post is not None:
                t1_post[t, z, :, pad : pad + nx] = post_contrast_t1(c_maps, state, z, t)
            if velocity is not None and c_maps.velocity is not None:
                velocity[t, z, :, pad : pad + nx] = c_maps.velocity
    rng = np.random.default_rng(seed)
    phase = np.stack([smooth_phase((ny, nx_full), rng) for _ in range(n_z)])
    image *= np.exp(1j * phase)[None].astype(np.complex64)
    coil_seed = seed if coil_seed is None else coil_seed
    s = heart.body_scale
    mean_depth = float(np.mean(proto.slice_depths))
    csm = np.stack(
        [
            biot_savart_csm(
                nc,
                (ny, nx_full),
                (dy, dx),
                body_semi_axes=(175.0 * s, 135.0 * s),
                slice_offset=proto.slice_depths[z] - mean_depth if spec.view is View.SAX else 0.0,
                seed=coil_seed,
            )
            for z in range(n_z)
        ]
    )
    kspace = coil_kspace(image, csm)
    body = tissue != int(Tissue.AIR)
    sigma = float(np.abs(image)[body].mean() / center.snr) if noise and body.any() else 0.0
    add_noise(kspace, sigma, rng)
    maps = _truth_maps(tissue, center.field_t)
    if t1_post is not None:
        maps["t1_post"] = t1_post
    if velocity is not None:
        maps["velocity"] = velocity
    extras: dict[str, Any] = {}
    if state.curves:
        extras["perfusion_curves_mM"] = {k: v.tolist() for k, v in state.curves.items()}
    if spec.view is View.SAX:
        extras["wall_thickness_ed_analytic_mm"] = [
            float(np.subtract(*heart.lv_radii(d, 0.0)[::-1])) for d in proto.slice_depths
        ]
    return SimulatedScan(
        kspace=kspace,
        image=image,
        csm=csm,
        labels=labels,
        tissue=tissue,
        maps=maps,
        protocol=proto,
        spacing=(proto.slice_thickness, dy, dx),
        noise_std=sigma,
        seeds={"scan": int(seed), "coils": int(coil_seed)},
        extras=extras,
    )


def _truth_maps(tissue: NDArray[np.uint8], field_t: float) -> dict[str, NDArray[np.float32]]:
    lut = tissue_parameter_arrays(field_t)
    air = tissue == int(Tissue.AIR)
    out: dict[str, NDArray[np.float32]] = {}
    for name in ("pd", "t1", "t2", "t2s", "t1rho"):
        arr = lut[name][tissue].astype(np.float32)
        arr[air] = 0.0
        out[name] = arr
    return out
