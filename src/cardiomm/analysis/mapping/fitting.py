"""Vectorised pixel-wise fits of T1 (MOLLI), T2, T1rho and T2* maps.

Algorithm (variable projection, all pixels at once, no per-pixel optimiser loop):

1. **Grid search** over the one non-linear parameter (T1* or T2) on a log-spaced grid. For each grid
   value the model is linear in its amplitudes (``A, B`` or ``M0[, C]``), so the least-squares residual
   of every pixel is ``||y||^2 - ||Q^T y||^2`` with ``Q`` an orthonormal basis of the model's columns:
   one matrix product over all pixels and grid values.
2. **Closed-form linear least squares** for the amplitudes at the best grid value.
3. **Levenberg-Marquardt** refinement of all parameters (amplitudes and ``log T``), batched over
   pixels with per-pixel damping (``numpy.linalg.solve`` on stacked small normal equations).

Polarity restoration (magnitude MOLLI): after sorting by TI, the first ``k`` samples are negated for
every ``k = 0 .. n-1`` and the candidate with the smallest residual is kept (as in Barral et al., MRM
2010, RD-NLS-PR). Step 1 scores every ``k`` (a sign flip keeps ``||y||``, so all candidates share one
matrix product); where a sample next to the chosen flip point lies near the null (< 10 % of the
pixel's maximum), the neighbouring flip points ``k -+ 1`` are refined too and the best residual wins.

Time constants that end on the search bound (the range widened by a factor e on each side) are not
determined by the data and are returned as NaN.

Units: input times are in seconds (``time_unit="s"``) or milliseconds (``time_unit="ms"``); every
returned time map is in **seconds**. Signal arrays hold the contrast (TI / TE / TSL) axis at ``axis``
(default 0, cardiomm's ``(t, z, y, x)`` reconstruction order where ``t`` indexes the contrasts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.analysis.mapping.signal_models import TimeUnit, look_locker_correction, to_seconds
from cardiomm.errors import DataValueError, ShapeError

__all__ = ["T1Fit", "DecayFit", "fit_molli_t1", "fit_exponential_decay", "fit_t2", "fit_t1rho", "fit_t2star"]

F64 = NDArray[np.float64]
_Basis = Callable[[F64, F64], tuple[F64, F64]]


@dataclass(frozen=True)
class T1Fit:
    """Result of :func:`fit_molli_t1`; every map has the spatial shape of the input (NaN outside the mask).

    Attributes
    ----------
    t1
        Look-Locker corrected T1 ``T1* (B/A - 1)`` [s].
    t1_star
        Apparent T1* [s].
    a, b
        Amplitudes of ``A - B exp(-TI/T1*)`` [signal units].
    r2
        Coefficient of determination of the (polarity-restored) fit.
    rmse
        Root-mean-square residual [signal units].
    n_inverted
        Number of leading samples (in sorted-TI order) whose sign was restored; -1 outside the mask.
    """

    t1: F64
    t1_star: F64
    a: F64
    b: F64
    r2: F64
    rmse: F64
    n_inverted: NDArray[np.int16]


@dataclass(frozen=True)
class DecayFit:
    """Result of :func:`fit_exponential_decay` (T2, T1rho or T2*); maps have the input's spatial shape.

    Attributes
    ----------
    t2
        Decay constant [s] (T2, T1rho or T2* depending on the series).
    m0
        Amplitude ``M0`` [signal units].
    offset
        Constant offset ``C`` [signal units]; zeros for the fit without offset.
    r2, rmse
        Goodness of fit (coefficient of determination; RMS residual in signal units).
    """

    t2: F64
    m0: F64
    offset: F64
    r2: F64
    rmse: F64


# ------------------------------------------------------------------------------------ model bases
# Each basis returns (phi, dphi) of shape (..., n, m): the linear columns and their derivative with
# respect to log(tau), for times t (n,) and tau (..., 1).
def _basis_molli(t: F64, tau: F64) -> tuple[F64, F64]:
    e = np.exp(-t / tau)
    phi = np.stack([np.ones_like(e), -e], axis=-1)
    dphi = np.stack([np.zeros_like(e), -(t / tau) * e], axis=-1)
    return phi, dphi


def _basis_exp(t: F64, tau: F64) -> tuple[F64, F64]:
    e = np.exp(-t / tau)
    return e[..., None], ((t / tau) * e)[..., None]


def _basis_exp_offset(t: F64, tau: F64) -> tuple[F64, F64]:
    e = np.exp(-t / tau)
    return np.stack([e, np.ones_like(e)], axis=-1), np.stack([(t / tau) * e, np.zeros_like(e)], axis=-1)


# ------------------------------------------------------------------------------------ data handling
def _gather(
    signal: ArrayLike, times: F64, axis: int, mask: ArrayLike | None
) -> tuple[F64, tuple[int, ...], NDArray[np.bool_]]:
    """Move the contrast axis last and return (Y (P, n) of valid pixels, spatial shape, valid mask)."""
    arr = np.asarray(signal)
    if np.iscomplexobj(arr):
        raise DataValueError("mapping fits take real (magnitude or phase-corrected) signals, not complex")
    if arr.ndim < 1:
        raise ShapeError("signal must have at least one (contrast) axis")
    arr = np.moveaxis(arr.astype(np.float64, copy=False), axis, -1)
    n = arr.shape[-1]
    if times.ndim != 1 or times.size != n:
        raise ShapeError(f"{times.size} times given for a signal with {n} contrasts along axis {axis}")
    if n < 3:
        raise ShapeError(f"need at least 3 contrasts to fit, got {n}")
    spatial = arr.shape[:-1]
    flat = arr.reshape(-1, n)
    valid = np.isfinite(flat).all(axis=1) & (np.abs(flat).max(axis=1) > 0)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != spatial:
            raise ShapeError(f"mask shape {m.shape} does not match the spatial shape {spatial}")
        valid &= m.reshape(-1)
    return flat[valid], spatial, valid


def _scatter(
    values: NDArray[np.generic], valid: NDArray[np.bool_], spatial: tuple[int, ...], fill: float
) -> F64:
    out = np.full(valid.shape, fill, dtype=values.dtype if values.dtype.kind == "i" else np.float64)
    out[valid] = values
    return out.reshape(spatial)


# ------------------------------------------------------------------------------------ engine
def _grid_search(y: F64, t: F64, basis: _Basis, grid: F64, signs: F64) -> tuple[F64, F64, NDArray[np.intp]]:
    """Best (amplitudes, tau, sign index) per pixel over the grid and sign candidates; y is (P, n)."""
    phi, _ = basis(t, grid[:, None])  # (G, n, m)
    q, r = np.linalg.qr(phi)  # (G, n, m), (G, m, m)
    r_inv = np.linalg.pinv(r)
    n_k, n_g, m = signs.shape[0], grid.size, phi.shape[-1]
    # w[j] (n, K*G): column j of every sign-flipped orthonormal basis, so y @ w[j] = Q_j^T D_k y
    w = (signs[:, None, :, None] * q[None]).transpose(3, 2, 0, 1).reshape(m, t.size, n_k * n_g)
    w = w.astype(np.float32)
    y32 = y.astype(np.float32)  # the grid only initialises the refinement: single precision suffices
    coef = np.empty((y.shape[0], m))
    tau = np.empty(y.shape[0])
    k_best = np.empty(y.shape[0], dtype=np.intp)
    chunk = max(1, 2_000_000 // (n_k * n_g))
    for s in range(0, y.shape[0], chunk):
        proj = [y32[s : s + chunk] @ w[j] for j in range(m)]
        energy = proj[0] ** 2
        for pj in proj[1:]:
            energy += pj**2
        best = np.argmax(energy, axis=1)
        kb, gb = np.divmod(best, n_g)
        rows = np.arange(best.size)
        pb = np.stack([pj[rows, best] for pj in proj], axis=1).astype(np.float64)
        coef[s : s + chunk] = np.einsum("pij,pj->pi", r_inv[gb], pb)
        tau[s : s + chunk] = grid[gb]
        k_best[s : s + chunk] = kb
    return coef, tau, k_best


def _levenberg_marquardt(
    y: F64, t: F64, basis: _Basis, coef: F64, tau: F64, log_bounds: tuple[float, float], n_iter: int
) -> tuple[F64, F64, F64]:
    """Refine (amplitudes, log tau) of every pixel; returns (coef, tau, residual sum of squares).

    Batched over pixels with per-pixel damping; a pixel leaves the active set once its accepted step
    is below 1e-10 (parameters are O(1) on normalised data) or its damping saturates.
    """
    m = coef.shape[1]
    p = np.concatenate([coef, np.log(tau)[:, None]], axis=1)

    def evaluate(params: F64, yy: F64) -> tuple[F64, F64, F64]:
        phi, dphi = basis(t, np.exp(params[:, m:]))
        c = params[:, :m]
        res = yy - np.einsum("pnm,pm->pn", phi, c)
        jac = np.concatenate([phi, np.einsum("pnm,pm->pn", dphi, c)[..., None]], axis=2)
        return res, jac, np.einsum("pn,pn->p", res, res)

    res, jac, cost = evaluate(p, y)
    lam = np.full(p.shape[0], 1e-3)
    eye = np.eye(m + 1)
    active = np.arange(p.shape[0])
    for _ in range(n_iter):
        if active.size == 0:
            break
        ja, ra = jac[active], res[active]
        jtj = np.einsum("pni,pnj->pij", ja, ja)
        grad = np.einsum("pni,pn->pi", ja, ra)
        diag = np.einsum("pii->pi", jtj)
        lhs = jtj + (lam[active, None] * diag + 1e-12 * (1.0 + diag))[:, :, None] * eye
        step = np.linalg.solve(lhs, grad[..., None])[..., 0]
        trial = p[active] + step
        trial[:, m] = np.clip(trial[:, m], *log_bounds)
        res_t, jac_t, cost_t = evaluate(trial, y[active])
        ok = np.isfinite(cost_t) & (cost_t < cost[active])
        acc = active[ok]
        p[acc], res[acc], jac[acc], cost[acc] = trial[ok], res_t[ok], jac_t[ok], cost_t[ok]
        lam[active] = np.clip(np.where(ok, lam[active] * 0.3, lam[active] * 10.0), 1e-9, 1e9)
        done = (ok & (np.abs(step).max(axis=1) < 1e-10)) | (lam[active] >= 1e9) | (cost[active] < 1e-30)
        active = active[~done]
    return p[:, :m], np.exp(p[:, m]), cost


def _fit(
    y: F64, t: F64, basis: _Basis, tau_range: tuple[float, float], n_grid: int, n_iter: int, signs: F64
) -> tuple[F64, F64, F64, F64, NDArray[np.intp]]:
    """Grid + linear LS + LM on per-pixel normalised data; returns (coef, tau, rss, y_signed, k)."""
    lo, hi = tau_range
    if not 0 < lo < hi:
        raise DataValueError(f"invalid time-constant search range {tau_range} (need 0 < lo < hi) [s]")
    scale = np.abs(y).max(axis=1)
    yn = y / scale[:, None]
    grid = np.geomspace(lo, hi, n_grid)
    coef, tau, k = _grid_search(yn, t, basis, grid, signs)
    bounds = (np.log(lo) - 1, np.log(hi) + 1)
    coef, tau, rss = _levenberg_marquardt(yn * signs[k], t, basis, coef, tau, bounds, n_iter)
    n_k = signs.shape[0]
    if n_k > 1:
        # A sample next to the sign-flip point that lies near the signal null (< 10 % of the maximum)
        # makes the grid's choice of flip point ambiguous: also refine one sample more / less inverted.
        rows = np.arange(yn.shape[0])
        near = np.minimum(np.abs(yn[rows, np.maximum(k - 1, 0)]), np.abs(yn[rows, np.minimum(k, t.size - 1)]))
        amb = np.flatnonzero(near < 0.1)
        for dk in (-1, 1):
            sel = amb[(k[amb] + dk >= 0) & (k[amb] + dk < n_k)]
            if sel.size == 0:
                continue
            k_alt = k[sel] + dk
            c2, t2, r2 = _levenberg_marquardt(
                yn[sel] * signs[k_alt], t, basis, coef[sel], tau[sel], bounds, n_iter
            )
            better = r2 < rss[sel]
            win = sel[better]
            coef[win], tau[win], rss[win], k[win] = c2[better], t2[better], r2[better], k_alt[better]
    # a time constant pinned at the (e-widened) search bound is not determined by the data
    log_tau = np.log(tau)
    pinned = (log_tau <= bounds[0] + 1e-9) | (log_tau >= bounds[1] - 1e-9)
    tau[pinned] = np.nan
    coef[pinned] = np.nan
    return coef * scale[:, None], tau, rss * scale**2, y * signs[k], k


def _goodness(y_signed: F64, rss: F64) -> tuple[F64, F64]:
    sst = ((y_signed - y_signed.mean(axis=1, keepdims=True)) ** 2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - rss / sst, np.nan)
    return r2, np.sqrt(rss / y_signed.shape[1])


# ------------------------------------------------------------------------------------ public fits
def fit_molli_t1(
    signal: ArrayLike,
    ti: ArrayLike,
    *,
    time_unit: TimeUnit = "s",
    axis: int = 0,
    magnitude: bool = True,
    mask: ArrayLike | None = None,
    ti_scale: float = 1.0,
    t1_star_range_s: tuple[float, float] = (0.02, 5.0),
    n_grid: int = 100,
    n_iter: int = 30,
) -> T1Fit:
    """Fit ``A - B exp(-TI/T1*)`` pixel-wise and apply the Look-Locker correction.

    Parameters
    ----------
    signal
        Real images with the inversion-time axis at ``axis``, e.g. ``(n_ti, z, y, x)`` or ``(y, x, n_ti)``
        with ``axis=-1``. Any order of TIs (they are sorted internally).
    ti
        Inversion times ``(n_ti,)`` in ``time_unit``; at least 3.
    time_unit
        ``"s"`` or ``"ms"`` for ``ti``; results are always in seconds.
    magnitude
        True for magnitude data: restore the polarity by trying each sign-flip point. False for
        phase-sensitive (signed) data: fit as is.
    mask
        Optional boolean mask of the spatial shape; pixels outside (and all-zero pixels) get NaN.
    ti_scale
        Factor on the inversion times before the fit (dimensionless); T1 and T1* scale by exactly this
        factor, A and B do not change. 1.0 is the textbook model. A vendor map that differs from the
        textbook fit by a constant factor is reproduced by that factor: the scanner maps of the T1NET
        MOLLI test sets equal the textbook fit times 1.035 to within +-0.3 % per pixel (interquartile
        range; ``docs/analysis.md``).
    t1_star_range_s
        Search range of T1* [s] for the log-spaced grid (``n_grid`` values).
    n_iter
        Levenberg-Marquardt iterations after the grid search.

    Returns
    -------
    T1Fit
        Maps of T1, T1*, A, B, R^2, RMSE and the number of sign-restored samples.
    """
    if not (np.isfinite(ti_scale) and ti_scale > 0):
        raise DataValueError(f"ti_scale must be a positive number, got {ti_scale}")
    t = to_seconds(ti, time_unit).reshape(-1) * float(ti_scale)
    y, spatial, valid = _gather(signal, t, axis, mask)
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[:, order]
    n = t.size
    signs = np.where(np.arange(n)[None, :] < np.arange(n if magnitude else 1)[:, None], -1.0, 1.0)
    coef, tau, rss, y_signed, k = _fit(y, t, _basis_molli, t1_star_range_s, n_grid, n_iter, signs)
    r2, rmse = _goodness(y_signed, rss)
    t1 = look_locker_correction(tau, coef[:, 0], coef[:, 1])
    return T1Fit(
        t1=_scatter(t1, valid, spatial, np.nan),
        t1_star=_scatter(tau, valid, spatial, np.nan),
        a=_scatter(coef[:, 0], valid, spatial, np.nan),
        b=_scatter(coef[:, 1], valid, spatial, np.nan),
        r2=_scatter(r2, valid, spatial, np.nan),
        rmse=_scatter(rmse, valid, spatial, np.nan),
        n_inverted=_scatter(k.astype(np.int16), valid, spatial, -1).astype(np.int16),
    )


def fit_exponential_decay(
    signal: ArrayLike,
    times: ArrayLike,
    *,
    time_unit: TimeUnit = "s",
    axis: int = 0,
    offset: bool = False,
    mask: ArrayLike | None = None,
    tau_range_s: tuple[float, float] = (0.002, 2.0),
    n_grid: int = 100,
    n_iter: int = 30,
) -> DecayFit:
    """Fit ``M0 exp(-t/T) [+ C]`` pixel-wise (T2 with echo times, T1rho with spin-lock times, T2*).

    Parameters
    ----------
    signal
        Real (magnitude) images with the echo / spin-lock axis at ``axis``.
    times
        Echo or spin-lock times ``(n,)`` in ``time_unit`` (``"s"`` or ``"ms"``); at least 3.
    offset
        Also fit a constant offset ``C`` (noise floor); needs at least 4 samples to be meaningful.
    mask
        Optional boolean spatial mask; NaN outside.
    tau_range_s
        Search range of the decay constant [s].

    Returns
    -------
    DecayFit
        Maps of the decay constant [s], ``M0``, ``C``, R^2 and RMSE.
    """
    t = to_seconds(times, time_unit).reshape(-1)
    y, spatial, valid = _gather(signal, t, axis, mask)
    basis = _basis_exp_offset if offset else _basis_exp
    coef, tau, rss, y_signed, _ = _fit(y, t, basis, tau_range_s, n_grid, n_iter, np.ones((1, t.size)))
    r2, rmse = _goodness(y_signed, rss)
    off = coef[:, 1] if offset else np.zeros(coef.shape[0])
    return DecayFit(
        t2=_scatter(tau, valid, spatial, np.nan),
        m0=_scatter(coef[:, 0], valid, spatial, np.nan),
        offset=_scatter(off, valid, spatial, np.nan),
        r2=_scatter(r2, valid, spatial, np.nan),
        rmse=_scatter(rmse, valid, spatial, np.nan),
    )


def fit_t2(signal: ArrayLike, te: ArrayLike, **kwargs: Any) -> DecayFit:
    """T2 map from a multi-echo series; ``te`` echo times. See :func:`fit_exponential_decay`."""
    return fit_exponential_decay(signal, te, **kwargs)


def fit_t1rho(signal: ArrayLike, tsl: ArrayLike, **kwargs: Any) -> DecayFit:
    """T1rho map from a spin-lock series; ``tsl`` spin-lock times. See :func:`fit_exponential_decay`."""
    return fit_exponential_decay(signal, tsl, **kwargs)


def fit_t2star(signal: ArrayLike, te: ArrayLike, **kwargs: Any) -> DecayFit:
    """T2* map from a multi-echo gradient-echo series (default search range 1 ms - 1 s)."""
    kwargs.setdefault("tau_range_s", (0.001, 1.0))
    return fit_exponential_decay(signal, te, **kwargs)
